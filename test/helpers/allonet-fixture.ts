/**
 * A local stand-in for the allonet repository as upstream is today, for `assist fetch --build`:
 * real git repositories (bare, local paths) holding a tiny CMake project whose `allonet` target
 * builds a real liballonet.so, with a `lib/cJSON` submodule whose pinned commit is gone from the
 * submodule's repository (like alloverse/cJSON 19dfb5b): only its `alloverse` branch (and `main`)
 * remain.
 *
 * The library is a tiny allonet client on the system's ENet (libenet-dev): connect to a place, send
 * a message on a channel, service the connection. NETWORKED_ALLOUI_FILES is the alloui stand-in
 * (test/helpers/alloui-standin.ts) whose App:run() announces the app's views to the place through
 * that library, so a client of the place sees the app's entities — the path a real app takes,
 * without the real allonet (which CI cannot fetch).
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ALLOUI_STANDIN_FILES } from './alloui-standin.js'
import { writeFile } from './app.js'
import { git } from './native.js'

/** The answer each cJSON commit's header gives (allo_standin_answer()), so a test can tell which was built. */
export const ANSWER = { pinned: 40, alloverse: 42, main: 44 } as const

const CMAKE = `cmake_minimum_required(VERSION 3.10)
project(allonet C)
add_library(allonet SHARED src/allonet.c)
target_include_directories(allonet PRIVATE lib/cJSON)
target_link_libraries(allonet enet)
`

/** With `gated`: the library target first waits for the file $ASSIST_TEST_GATE (if set) to exist. */
const GATE_CMAKE = `add_custom_target(gate COMMAND sh \${CMAKE_SOURCE_DIR}/gate.sh VERBATIM)
add_dependencies(allonet gate)
`
const GATE_SH = 'while [ -n "$ASSIST_TEST_GATE" ] && [ ! -e "$ASSIST_TEST_GATE" ]; do sleep 0.05; done\n'

export const STANDIN_ALLONET_C = `#include <enet/enet.h>
#include "standin_api.h"

static ENetHost *host;
static ENetPeer *peer;

int allo_standin_answer(void) { return STANDIN_ANSWER; }

int standin_connect(const char *hostname, int port) {
  ENetAddress address;
  ENetEvent event;
  if (enet_initialize() != 0) return -1;
  host = enet_host_create(NULL, 1, 6, 0, 0);
  if (!host) return -2;
  if (enet_address_set_host(&address, hostname) != 0) return -3;
  address.port = (enet_uint16)port;
  peer = enet_host_connect(host, &address, 6, 0);
  if (!peer) return -4;
  if (enet_host_service(host, &event, 5000) > 0 && event.type == ENET_EVENT_TYPE_CONNECT) return 0;
  return -5;
}

int standin_send(int channel, const char *data, int length) {
  ENetPacket *packet = enet_packet_create(data, (size_t)length, ENET_PACKET_FLAG_RELIABLE);
  if (enet_peer_send(peer, (enet_uint8)channel, packet) != 0) return -1;
  enet_host_flush(host);
  return 0;
}

/* One round of the network loop: -1 when the place went away. */
int standin_service(int timeout_ms) {
  ENetEvent event;
  int n = enet_host_service(host, &event, (enet_uint32)timeout_ms);
  if (n > 0 && event.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(event.packet);
  if (n > 0 && event.type == ENET_EVENT_TYPE_DISCONNECT) return -1;
  return n;
}
`

/** App:run() of the networked stand-in: announce the view tree as the avatar, then serve the connection. */
const NET_RUN = `function ui.App:run()
  local ffi = require("ffi")
  local json = require("alloui.json")
  ffi.cdef("int standin_connect(const char *, int); int standin_send(int, const char *, int); int standin_service(int);")
  local host, port = tostring(self.client.url):match("^alloplace://([^:/]+):?(%d*)")
  local rc = allonet.standin_connect(host, tonumber(port) or 21337)
  if rc ~= 0 then error("stand-in alloui: could not connect to " .. tostring(self.client.url) .. " (" .. rc .. ")") end
  local function spec(v)
    local b = v.bounds or { x = 0, y = 0, z = 0 }
    local e = {
      ui = { view_id = v.kind },
      transform = { matrix = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, b.x, b.y, b.z, 1 } },
      children = {},
    }
    if v.text then e.text = { string = v.text } end
    for _, s in ipairs(v.subviews or {}) do e.children[#e.children + 1] = spec(s) end
    return e
  end
  local msg = json.encode({ "interaction", "request", "", "place", "ANN0",
    { "announce", "version", 4, "identity", { display_name = self.client.name }, "spawn_avatar", spec(self.mainView) } })
  assert(allonet.standin_send(1, msg, #msg) == 0, "stand-in alloui: send failed")
  io.stdout:write("stand-in alloui: announced ", tostring(self.client.name), "\\n") io.stdout:flush()
  while self.running and allonet.standin_service(100) >= 0 do end
end
`

/** The alloui stand-in whose App:run() puts the app's views into the place through the library. */
export const NETWORKED_ALLOUI_FILES: Record<string, string> = {
  ...ALLOUI_STANDIN_FILES,
  'lua/alloui/ui.lua': (ALLOUI_STANDIN_FILES['lua/alloui/ui.lua'] as string).replace(
    /function ui\.App:run\(\)[\s\S]*?\nend\n/,
    NET_RUN,
  ),
}

export interface AllonetFixture {
  /** Path of the allonet repository (a local clone URL for --allonet-url). */
  repo: string
  /** The allonet version naming its head commit, e.g. 0.3.0.g1a2b3c4d5. */
  version: string
  /** Full hash of allonet's head commit. */
  commit: string
  /** cJSON commits: the pin (gone), the alloverse branch head, main's head. */
  cjson: { pinned: string; alloverse: string; main: string; bare: string }
}

/**
 * Builds the repositories under `dir`. `gitmodulesBranch` adds a `branch = …` line for lib/cJSON;
 * `subPath` moves the submodule (a path the fallback tables do not know).
 */
export function makeAllonetFixture(
  dir: string,
  opts: { subPath?: string; gitmodulesBranch?: string; gated?: boolean } = {},
): AllonetFixture {
  const subPath = opts.subPath ?? 'lib/cJSON'
  const work = join(dir, 'cjson-work')
  mkdirSync(work, { recursive: true })
  git(work, 'init', '-q', '-b', 'main')
  const commitAnswer = (answer: number, msg: string) => {
    writeFile(join(work, 'standin_api.h'), `#define STANDIN_ANSWER ${answer}\n`)
    git(work, 'add', '.')
    git(work, 'commit', '-qm', msg)
    return git(work, 'rev-parse', 'HEAD')
  }
  const main = commitAnswer(ANSWER.main, 'main')
  git(work, 'checkout', '-q', '-b', 'alloverse')
  const alloverse = commitAnswer(ANSWER.alloverse, 'alloverse: merge-patch API')
  git(work, 'checkout', '-q', '-b', 'old-pin', main)
  const pinned = commitAnswer(ANSWER.pinned, 'the commit allonet pins (later lost upstream)')
  git(work, 'checkout', '-q', 'main')

  const allonet = join(dir, 'allonet')
  mkdirSync(join(allonet, 'src'), { recursive: true })
  git(allonet, 'init', '-q', '-b', 'main')
  writeFile(
    join(allonet, 'CMakeLists.txt'),
    CMAKE.replaceAll('lib/cJSON', subPath) + (opts.gated ? GATE_CMAKE : ''),
  )
  if (opts.gated) writeFile(join(allonet, 'gate.sh'), GATE_SH)
  writeFile(join(allonet, 'src/allonet.c'), STANDIN_ALLONET_C)
  git(allonet, 'submodule', 'add', '-q', work, subPath)
  git(join(allonet, subPath), 'checkout', '-q', pinned)
  // The public copy of the submodule: every branch but the one holding the pin, which is gone.
  const bare = join(dir, 'cJSON.git')
  git(dir, 'clone', '-q', '--bare', '--no-local', work, bare)
  git(bare, 'branch', '-D', 'old-pin')
  git(bare, 'reflog', 'expire', '--expire=now', '--all')
  git(bare, 'gc', '-q', '--prune=now')
  git(allonet, 'config', '-f', '.gitmodules', `submodule.${subPath}.url`, bare)
  if (opts.gitmodulesBranch)
    git(allonet, 'config', '-f', '.gitmodules', `submodule.${subPath}.branch`, opts.gitmodulesBranch)
  git(allonet, 'add', '.')
  git(allonet, 'commit', '-qm', 'tiny allonet')
  const commit = git(allonet, 'rev-parse', 'HEAD')
  // The pin is really gone from the copy everyone clones.
  try {
    execFileSync('git', ['-C', bare, 'cat-file', '-e', `${pinned}^{commit}`], { stdio: 'ignore' })
    throw new Error('fixture: the pinned commit is still in the bare copy')
  } catch (err) {
    if ((err as Error).message.startsWith('fixture:')) throw err
  }
  return {
    repo: allonet,
    version: `0.3.0.g${commit.slice(0, 9)}`,
    commit,
    cjson: { pinned, alloverse, main, bare },
  }
}

/**
 * A copy of the shipped lua template (and _shared) under `dir` whose allo/allonet.lock names
 * `version` (the fixture's commit instead of upstream's): pass the returned folder to --template.
 */
export function templateLocking(dir: string, version: string): string {
  const templates = fileURLToPath(new URL('../../templates', import.meta.url))
  const lua = join(dir, 'templates', 'lua')
  cpSync(join(templates, 'lua'), lua, { recursive: true })
  cpSync(join(templates, '_shared'), join(dir, 'templates', '_shared'), { recursive: true })
  writeFileSync(join(dir, 'templates', '_shared', 'allo', 'allonet.lock'), `${version}\n`)
  return lua
}
