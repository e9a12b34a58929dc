/**
 * A newcomer's whole Lua path, as they would walk it, with the built CLI and real processes:
 * `assist create` by flags (building allonet from source) → `assist doctor` all green → `assist run`
 * against the built-in place → a client in that place sees the app's entities.
 *
 * What stands in for what CI cannot fetch (github.com): allonet is a local git repository holding a
 * tiny CMake project whose lib/cJSON submodule pin is gone upstream, built for real with cmake and
 * cc into a liballonet.so that speaks ENet (test/helpers/allonet-fixture.ts); alloui is the stand-in
 * alloui whose App:run() announces the app's views to the place through that library. The app's own
 * allo/boot.lua and lua/main.lua (from the lua template) run unchanged under real LuaJIT. The only
 * template change is allo/allonet.lock naming the local allonet's commit instead of upstream's.
 */
import assert from 'node:assert/strict'
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { AlloClient } from '../../src/core/place/client.js'
import {
  type AllonetFixture,
  makeAllonetFixture,
  NETWORKED_ALLOUI_FILES,
} from '../helpers/allonet-fixture.js'
import { PENLIGHT_STANDIN_FILES } from '../helpers/alloui-standin.js'
import { removeDir, tempDir } from '../helpers/app.js'
import { CliProcess, killAllCli, runCli } from '../helpers/cli.js'
import { type AllouiFixture, FILE_PROTOCOL_ENV, makeAllouiFixture } from '../helpers/git-fixture.js'

const TEMPLATES = fileURLToPath(new URL('../../templates', import.meta.url))
let base: string
let allonet: AllonetFixture
let alloui: AllouiFixture
let template: string

before(() => {
  base = tempDir('assist-newcomer-')
  allonet = makeAllonetFixture(join(base, 'allonet-fixture'))
  alloui = makeAllouiFixture(join(base, 'alloui-fixture'), NETWORKED_ALLOUI_FILES, PENLIGHT_STANDIN_FILES)
  // The shipped lua template, locking the local allonet's version.
  template = join(base, 'templates', 'lua')
  cpSync(join(TEMPLATES, 'lua'), template, { recursive: true })
  cpSync(join(TEMPLATES, '_shared'), join(base, 'templates', '_shared'), { recursive: true })
  writeFileSync(join(base, 'templates', '_shared', 'allo', 'allonet.lock'), `${allonet.version}\n`)
})
after(async () => {
  await killAllCli()
  removeDir(base)
})

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

test('create --build → doctor all green → run in the built-in place → a client sees the app', async () => {
  const home = join(base, 'home')
  const env = {
    ...FILE_PROTOCOL_ENV,
    HOME: home,
    XDG_CACHE_HOME: join(home, '.cache'),
    ALLONET_BASE_URL: '',
  }
  const work = join(base, 'work')
  mkdirSync(work)

  // 1. create, by flags, building allonet.
  const created = await runCli(
    [
      'create',
      'hello',
      '--template',
      template,
      '--yes',
      '--build',
      '--allonet-url',
      allonet.repo,
      '--alloui-url',
      alloui.url,
    ],
    { cwd: work, env, timeoutMs: 300_000 },
  )
  assert.equal(created.code, 0, created.stdout + created.stderr)
  const app = join(work, 'hello')
  assert.match(
    created.stdout,
    new RegExp(
      `! lib/cJSON: the pinned commit ${allonet.cjson.pinned.slice(0, 7)} is gone from its repository; building with ${allonet.cjson.alloverse.slice(0, 7)} instead`,
    ),
  )
  assert.match(created.stdout, /✔ allonet library installed in allo\/lib/)
  assert.match(created.stdout, /Next steps:\n {2}cd hello\n {2}assist run +run the app in the built-in place/)
  assert.doesNotMatch(
    created.stdout,
    /assist fetch|alloplace:\/\/localhost/,
    'nothing left to fetch, and no place to guess',
  )
  assert.equal(statSync(app).mode & 0o777, 0o777 & ~process.umask())
  assert.match(
    readFileSync(join(app, 'allo/lib/allonet.cache'), 'utf8'),
    new RegExp(`^${allonet.version}\n# built from source:`),
  )

  // 2. doctor: every check passes.
  const doctor = await runCli(['doctor', '--port', String(await freePort())], { cwd: app, env })
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr)
  assert.match(doctor.stdout, /✓ allonet loads in LuaJIT +ffi\.load succeeded/)
  assert.match(doctor.stdout, /All \d+ checks passed\./)
  assert.doesNotMatch(doctor.stdout, /✗|!/)

  // 3. run with no URL: the built-in place, and the app in it.
  const run = new CliProcess(['run'], { cwd: app, env })
  let client: AlloClient | undefined
  try {
    await run.waitFor(/stand-in alloui: announced hello/, 60_000)
    const port = Number(/listening on alloplace:\/\/127\.0\.0\.1:(\d+)/.exec(run.output)?.[1])
    assert.ok(port > 0, run.output)

    // 4. A client of the place sees the app's views as entities.
    client = await AlloClient.connect({ host: '127.0.0.1', port })
    await client.announce({ identity: { display_name: 'newcomer' } })
    const text = (e: { components: Record<string, unknown> }) =>
      (e.components.text as { string?: string } | undefined)?.string
    const state = await client.waitForState((s) => Object.values(s.entities).some((e) => text(e) === 'Hello'))
    const views = Object.values(state.entities)
      .map((e) => (e.components.ui as { view_id?: string } | undefined)?.view_id)
      .filter(Boolean)
      .sort()
    assert.deepEqual(views, ['Button', 'Button', 'GrabHandle', 'Surface'], JSON.stringify(state.entities))
    assert.match(run.output, /announced: "hello"/)
  } finally {
    await client?.disconnect()
    run.signal('SIGINT')
    await run.closed
  }
})
