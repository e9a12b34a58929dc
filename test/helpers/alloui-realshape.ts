/**
 * A stand-in alloui + liballonet with the real ones' shape where it matters to the launcher
 * (alloui-lua's lua/alloui/client.lua and app.lua; allonet's src/client/client.c), for tests that
 * cannot use the real ones (CI has neither):
 *
 * - liballonet: a tiny C library built in the test on the system's C ENet (Debian libenet, the
 *   library allonet vendors): `alloclient_poll(client, int timeout_ms)` waits in ENet for that
 *   many milliseconds and calls back into Lua from C; `alloclient_disconnect` sends ENet DISCONNECT
 *   and waits for the place's acknowledgement (up to 1 s), as client.c does. It writes the timeout
 *   of its first calls to $STANDIN_POLL_LOG.
 * - alloui: `Client:poll(timeout)` hands its timeout straight to alloclient_poll (alloui passes
 *   seconds), `jit.off(Client.poll)`; `App:run(hz)` catches an error of the app with xpcall, prints
 *   it, prints "Exiting <name>" and disconnects; losing the place prints "DISCONNECTED" and ends the
 *   loop; the global `app` is the App.
 * - output through C stdio (print/io.write) to whatever stdout is: a pipe under assist.
 *
 * The app (lua/main.lua) announces with a button entity and answers pokes; TEST_APP_MODE selects
 * behaviour: "crash-on-poke" (an error in the poke handler), "ignore-leave" (its own loop, which
 * never ends), "hz=N" (App:run(N)), "exit-after-connect" (os.exit(3) once connected: no goodbye),
 * "error-after-connect-once" (an error once connected, only while the file $TEST_CRASH_MARKER does
 * not exist; it creates it).
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { JSON_LUA, PENLIGHT_STANDIN_FILES } from './alloui-standin.js'
import { tempDir, writeFile } from './app.js'

export const LIBALLONET_REALSHAPE_C = `/* stand-in liballonet: real ENet, the alloclient calls alloui makes, callbacks into Lua */
#include <enet/enet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct alloclient alloclient;
struct alloclient {
  void (*disconnected_callback)(alloclient *client, int code, const char *message);
  bool (*raw_callback)(alloclient *client, int channel, const char *data, size_t length);
  ENetHost *host;
  ENetPeer *peer;
};

static int polls_logged = 0;

alloclient *alloclient_create(bool threaded) {
  (void)threaded;
  static bool initialized = false;
  if (!initialized) { enet_initialize(); initialized = true; }
  alloclient *c = calloc(1, sizeof(alloclient));
  c->host = enet_host_create(NULL, 1, 6, 0, 0);
  return c;
}

bool alloclient_connect(alloclient *c, const char *url, const char *identity, const char *avatar) {
  char host[256] = {0};
  int port = 21337;
  if (sscanf(url, "alloplace://%255[^:/]:%d", host, &port) < 1) return false;
  ENetAddress address;
  enet_address_set_host(&address, host);
  address.port = (enet_uint16)port;
  c->peer = enet_host_connect(c->host, &address, 6, 0);
  ENetEvent event;
  if (enet_host_service(c->host, &event, 3000) <= 0 || event.type != ENET_EVENT_TYPE_CONNECT) return false;
  size_t n = strlen(identity) + strlen(avatar) + 200;
  char *msg = malloc(n);
  snprintf(msg, n, "[\\"interaction\\", \\"request\\", \\"\\", \\"place\\", \\"ANN0\\", [\\"announce\\", \\"version\\", 4, \\"identity\\", %s, \\"spawn_avatar\\", %s]]", identity, avatar);
  enet_peer_send(c->peer, 1, enet_packet_create(msg, strlen(msg), ENET_PACKET_FLAG_RELIABLE));
  free(msg);
  enet_host_flush(c->host);
  return true;
}

void alloclient_send(alloclient *c, int channel, const char *data, size_t length, bool reliable) {
  enet_peer_send(c->peer, (enet_uint8)channel, enet_packet_create(data, length, reliable ? ENET_PACKET_FLAG_RELIABLE : 0));
}

bool alloclient_poll(alloclient *c, int timeout_ms) {
  const char *log = getenv("STANDIN_POLL_LOG");
  if (log && polls_logged < 20) {
    FILE *f = fopen(log, "a");
    if (f) { fprintf(f, "%d\\n", timeout_ms); fclose(f); }
    polls_logged++;
  }
  ENetEvent event;
  int wait = timeout_ms < 0 ? 0 : timeout_ms;
  while (enet_host_service(c->host, &event, (enet_uint32)wait) > 0) {
    wait = 0;
    if (event.type == ENET_EVENT_TYPE_RECEIVE) {
      bool remain = c->raw_callback ? c->raw_callback(c, event.channelID, (const char *)event.packet->data, event.packet->dataLength) : true;
      enet_packet_destroy(event.packet);
      if (!remain) return true;
    } else if (event.type == ENET_EVENT_TYPE_DISCONNECT) {
      c->peer = NULL;
      if (c->disconnected_callback) c->disconnected_callback(c, 1, "Lost connection to Place");
      return true;
    }
  }
  return true;
}

void alloclient_disconnect(alloclient *c, int reason) {
  if (c->peer) {
    enet_peer_disconnect(c->peer, (enet_uint32)reason);
    ENetEvent event;
    while (enet_host_service(c->host, &event, 2500) > 0) {
      if (event.type == ENET_EVENT_TYPE_DISCONNECT) { fprintf(stderr, "[standin] successfully disconnected\\n"); break; }
      if (event.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(event.packet);
    }
  }
  enet_host_destroy(c->host);
  free(c);
}
`

export const CLIENT_LUA = `-- stand-in alloui.client: the real one's shape (poll hands its timeout to C unchanged)
local ffi = require("ffi")
local json = require("alloui.json")
ffi.cdef[[
typedef struct alloclient alloclient;
struct alloclient {
  void (*disconnected_callback)(alloclient *client, int code, const char *message);
  bool (*raw_callback)(alloclient *client, int channel, const char *data, size_t length);
  void *host;
  void *peer;
};
alloclient *alloclient_create(bool threaded);
bool alloclient_connect(alloclient *c, const char *url, const char *identity, const char *avatar);
void alloclient_send(alloclient *c, int channel, const char *data, size_t length, bool reliable);
bool alloclient_poll(alloclient *c, int timeout_ms);
void alloclient_disconnect(alloclient *c, int reason);
]]
local Client = {}
Client.__index = Client
setmetatable(Client, { __call = function(_, url, name)
  local self = setmetatable({ url = url, name = name, handle = allonet, avatar_id = "" }, Client)
  self._client = self.handle.alloclient_create(false)
  self.delegates = {
    onConnected = function() end,
    onDisconnected = function(code, message) end,
    onInteraction = function(inter, body) end,
  }
  self._client.disconnected_callback = function(_c, code, message)
    self.delegates.onDisconnected(code, ffi.string(message))
  end
  self._client.raw_callback = function(_c, channel, data, length)
    if channel ~= 1 then return true end
    local text = ffi.string(data, length)
    local kind, sender, receiver, rid = text:match('^%["interaction", "(%a+)", "([^"]*)", "([^"]*)", "([^"]*)"')
    if rid == "ANN0" and kind == "response" then
      self.avatar_id = text:match('%["announce", "([a-y]+)"') or ""
      self.delegates.onConnected()
    elseif kind == "request" then
      self.delegates.onInteraction({ type = kind, sender_entity_id = sender, receiver_entity_id = receiver, request_id = rid, body = text })
    end
    return true
  end
  return self
end })

function Client:connect(avatar_spec)
  return self.handle.alloclient_connect(self._client, self.url, json.encode({ display_name = self.name }), json.encode(avatar_spec))
end

function Client:respond(inter, body)
  local text = string.format('["interaction", "response", "%s", "%s", "%s", %s]',
    inter.receiver_entity_id, inter.sender_entity_id, inter.request_id, body)
  self.handle.alloclient_send(self._client, 1, text, #text, true)
end

function Client:poll(timeout)
  return self.handle.alloclient_poll(self._client, timeout)
end
jit.off(Client.poll)

function Client:disconnect(code)
  self.handle.alloclient_disconnect(self._client, code)
end
return Client
`

const APP_LUA = `-- stand-in alloui.app: the real App:run's shape (xpcall, "Exiting", disconnect)
local App = {}
App.__index = App
App.launchArguments = {}
setmetatable(App, { __call = function(_, client)
  local self = setmetatable({ client = client, running = true, connected = false }, App)
  client.delegates.onDisconnected = function(code, message)
    self.connected = false
    print("DISCONNECTED", code, message)
    self.running = false
  end
  client.delegates.onConnected = function()
    self.connected = true
    print("[standin] App started successfully")
    if self.onConnected then self:onConnected() end
  end
  client.delegates.onInteraction = function(inter)
    if inter.body:find('%["poke"') and self.onPoke then self:onPoke(inter) end
  end
  app = self -- global singleton, as alloui's
  return self
end })

function App:connect()
  local spec = self.mainView and self.mainView:specification() or {}
  if App.launchArguments.avatarToken then
    -- used to associate a launch request with a specific avatar (as alloui does)
    spec.avatar = { token = App.launchArguments.avatarToken }
  end
  local ret = self.client:connect(spec)
  if not ret then error("Failed to connect") end
  return ret
end

function App:run(hz)
  xpcall(function()
    self:_run(hz)
  end, function(err)
    print("Error while running " .. self.client.name .. ":\\n", err, "\\n", debug.traceback())
  end)
  print("Exiting " .. self.client.name)
  self.client:disconnect(0)
end

function App:_run(hz)
  hz = hz and hz or 40.0
  while self.running do
    self:runOnce(1.0 / hz)
  end
end

function App:quit() self.running = false end

function App:runOnce(timeout)
  self.client:poll(timeout)
end
return App
`

const UI_LUA = `local ui = { App = require("alloui.app"), VideoSurface = {} }
local View = {}
View.__index = View
ui.View = setmetatable(View, { __call = function(_, id) return setmetatable({ id = id }, View) end })
function View:specification()
  return { ui = { view_id = self.id }, transform = { matrix = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1.2, -2, 1 } },
    collider = { type = "box", width = 0.2, height = 0.2, depth = 0.1 } }
end
return ui
`

export const MAIN_LUA = `-- test app on the stand-in alloui
local mode = os.getenv("TEST_APP_MODE") or ""
local client = Client(arg[2], "realshape")
local app = ui.App(client)
app.mainView = ui.View("realshapeview001")
function app:onConnected()
  print("connected as " .. client.avatar_id)
  if mode == "exit-after-connect" then os.exit(3) end -- a hard crash: no goodbye
  if mode == "error-after-connect-once" then
    local marker = assert(os.getenv("TEST_CRASH_MARKER"), "TEST_CRASH_MARKER not set")
    local f = io.open(marker, "r")
    if f then f:close() else
      io.open(marker, "w"):close()
      error("boom right after connecting")
    end
  end
end
function app:onPoke(inter)
  print("poked by " .. inter.sender_entity_id)
  if mode == "crash-on-poke" then error("boom in the poke handler") end
  client:respond(inter, '["poke", "ok"]')
end
print("booting realshape")
app:connect()
if mode == "ignore-leave" then
  while true do app:runOnce(0.025) end
end
app:run(tonumber(mode:match("^hz=(%d+)")) or nil)
`

const APP_BOOT_LUA = `-- stand-in of alloui's app_boot.lua (the older layout): paths, the library, globals, main
local projHome, url = arg[1], arg[2]
package.path = package.path .. ";" .. projHome .. "/lua/?.lua;" .. projHome .. "/allo/deps/alloui/lua/?.lua;"
  .. projHome .. "/allo/deps/alloui/lib/pl/lua/?.lua"
local ffi = require("ffi")
allonet = ffi.load(projHome .. "/allo/lib/liballonet.so", false)
Client = require("alloui.client")
ui = require("alloui.ui")
require("main")
`

const BOOT_LUA_PATH = fileURLToPath(new URL('../../templates/_shared/allo/boot.lua', import.meta.url))

let builtLib: string | undefined
/** Builds the stand-in liballonet once per test process (cc, -lenet). */
export function buildRealshapeLib(): string {
  if (builtLib) return builtLib
  const dir = tempDir('assist-realshape-lib-')
  const src = join(dir, 'allonet.c')
  writeFile(src, LIBALLONET_REALSHAPE_C)
  const out = join(dir, 'liballonet.so')
  execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', out, src, '-lenet'], { stdio: 'pipe' })
  builtLib = out
  return out
}

/**
 * A Lua app on the real-shaped stand-in: `layout` 'boot' uses the templates' own allo/boot.lua,
 * 'alloui' the older alloui app_boot.lua layout. Returns the app root.
 */
export function makeRealshapeApp(
  opts: { layout?: 'boot' | 'alloui'; name?: string; files?: Record<string, string> } = {},
): string {
  const root = join(tempDir('assist-realshape-'), opts.name ?? 'realshape')
  const alloui = join(root, 'allo/deps/alloui')
  writeFile(join(alloui, 'lua/alloui/client.lua'), CLIENT_LUA)
  writeFile(join(alloui, 'lua/alloui/app.lua'), APP_LUA)
  writeFile(join(alloui, 'lua/alloui/ui.lua'), UI_LUA)
  writeFile(join(alloui, 'lua/alloui/json.lua'), JSON_LUA)
  for (const [p, c] of Object.entries(PENLIGHT_STANDIN_FILES)) writeFile(join(alloui, 'lib/pl', p), c)
  writeFile(join(alloui, 'lib/cpml/modules/vec3.lua'), 'return function(...) return { ... } end\n')
  writeFile(join(alloui, 'lib/cpml/modules/mat4.lua'), 'return function(t) return t end\n')
  if (opts.layout === 'alloui') writeFile(join(alloui, 'lua/alloui/app_boot.lua'), APP_BOOT_LUA)
  else writeFile(join(root, 'allo/boot.lua'), readFileSync(BOOT_LUA_PATH, 'utf8'))
  writeFile(join(root, 'lua/main.lua'), MAIN_LUA)
  writeFile(join(root, 'info.json'), JSON.stringify({ display_name: 'realshape', author: 'tests' }))
  mkdirSync(join(root, 'allo/lib'), { recursive: true })
  copyFileSync(buildRealshapeLib(), join(root, 'allo/lib/liballonet.so'))
  for (const [p, c] of Object.entries(opts.files ?? {})) writeFile(join(root, p), c)
  return root
}
