/**
 * create and run agree on the layout: a freshly created app starts under `assist run`.
 *
 * 1. With a stand-in (recording) boot script and a stand-in liballonet file, as the run tests do.
 * 2. With the app's own allo/boot.lua and lua/main.lua under real LuaJIT: alloui comes from a local
 *    git repository holding a stand-in alloui (test/helpers/alloui-standin.ts: the real one needs a
 *    real place), installed by create itself; liballonet is a real shared library built with cc
 *    that the boot script loads through the FFI.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  ALLOUI_STANDIN_FILES,
  LIBALLONET_STANDIN_C,
  PENLIGHT_STANDIN_FILES,
} from '../helpers/alloui-standin.js'
import { RECORDING_BOOT_LUA, removeDir, tempDir, writeFile } from '../helpers/app.js'
import { runCli } from '../helpers/cli.js'
import { type AllouiFixture, FILE_PROTOCOL_ENV, makeAllouiFixture } from '../helpers/git-fixture.js'

let fixtures: string
let fx: AllouiFixture
before(() => {
  fixtures = tempDir('assist-alloui-')
  fx = makeAllouiFixture(fixtures, ALLOUI_STANDIN_FILES, PENLIGHT_STANDIN_FILES)
})
after(() => removeDir(fixtures))

test('a created app runs under `assist run` (recording boot script, stand-in library)', async () => {
  const parent = tempDir()
  try {
    const c = await runCli(['create', 'clock', '--no-install', '--no-git'], { cwd: parent })
    assert.equal(c.code, 0, c.stderr)
    const app = join(parent, 'clock')
    writeFile(join(app, 'allo/boot.lua'), RECORDING_BOOT_LUA)
    writeFile(join(app, 'allo/lib/liballonet.so'), 'stand-in library for tests\n')
    const r = await runCli(['run', '--no-watch', 'alloplace://localhost'], {
      cwd: join(app, 'lua'), // from inside the app: run finds its root
      env: { TEST_APP_MODE: 'exit0' },
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const rec = JSON.parse(readFileSync(join(app, 'record.json'), 'utf8'))
    assert.equal(rec.argv0, join(app, 'allo/boot.lua'))
    assert.deepEqual(rec.args, [app, 'alloplace://localhost:21337'])
  } finally {
    removeDir(parent)
  }
})

for (const template of ['lua', 'minimal']) {
  test(`the ${template} template's own boot.lua and main.lua run under real LuaJIT (stand-in alloui installed by create)`, async () => {
    const parent = tempDir()
    try {
      const c = await runCli(
        ['create', 'clock', '--template', template, '--alloui-url', fx.url, '--alloui-ref', 'v1'],
        {
          cwd: parent,
          env: FILE_PROTOCOL_ENV,
        },
      )
      assert.equal(c.code, 0, c.stdout + c.stderr)
      const app = join(parent, 'clock')
      mkdirSync(join(app, 'allo/lib')) // what `assist fetch` will do
      execFileSync('cc', ['-shared', '-fPIC', '-o', join(app, 'allo/lib/liballonet.so'), '-x', 'c', '-'], {
        input: LIBALLONET_STANDIN_C,
      })
      const location = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.5, 0, -3, 1]
      const r = await runCli(
        [
          'run',
          '--no-watch',
          'alloplace://localhost',
          '--launch-args',
          JSON.stringify({ initialLocation: location, avatarToken: 'tok123' }),
        ],
        { cwd: app, env: { STANDIN_RECORD: join(parent, 'record.json') } },
      )
      assert.equal(r.code, 0, r.stdout + r.stderr)
      const rec = JSON.parse(readFileSync(join(parent, 'record.json'), 'utf8'))
      assert.equal(rec.native_answer, 42, 'boot.lua loaded allo/lib/liballonet.so through the FFI')
      assert.equal(rec.avatarToken, 'tok123', 'ALLO_APP_BOOT_ARGS became App.launchArguments')
      assert.deepEqual(rec.initialLocation.slice(0, 16), location)
      assert.equal(rec.events[0], 'client alloplace://localhost:21337 clock')
      if (template === 'lua') {
        assert.deepEqual(rec.events, [
          'client alloplace://localhost:21337 clock',
          'asset images/quit.png 1160',
          'published quit images/quit.png',
          'label Hello',
          'addSubview Surface Button',
          'texture images/quit.png',
          'addSubview Surface Button',
          'addSubview Surface GrabHandle',
          'connect alloplace://localhost:21337 Surface',
          'press Hello',
          'press texture:images/quit.png',
          'quit',
          'run-ended false',
        ])
        assert.match(r.stdout, /\[clock\] Hello from clock!/)
        assert.match(r.stdout, /\[clock\] clock is quitting/)
      } else {
        assert.deepEqual(rec.events, [
          'client alloplace://localhost:21337 clock',
          'connect alloplace://localhost:21337 View',
          'run-ended true',
        ])
      }
    } finally {
      removeDir(parent)
    }
  })
}
