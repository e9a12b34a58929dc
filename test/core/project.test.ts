import assert from 'node:assert/strict'
import { mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { UserError } from '../../src/core/errors.js'
import { findAppRoot, findProject, loadProject } from '../../src/core/project.js'
import { launchSpecFor } from '../../src/core/runtimes/index.js'
import { ASSIST_BOOT, resolveLuajit } from '../../src/core/runtimes/lua.js'
import { makeLuaApp, tempDir, writeFile } from '../helpers/app.js'

const luajitOnPath = '/usr/bin/luajit'

describe('finding the app', () => {
  test('walks up from a nested folder to the app root', () => {
    const root = makeLuaApp('walker')
    mkdirSync(join(root, 'lua/deep/er'), { recursive: true })
    assert.equal(findAppRoot(join(root, 'lua/deep/er')), root)
    assert.equal(findProject(join(root, 'lua/deep')).root, root)
  })

  test('a folder that is no app names what was looked for', () => {
    const dir = tempDir()
    assert.equal(findAppRoot(dir), undefined)
    assert.throws(
      () => findProject(dir),
      (e: unknown) =>
        e instanceof UserError &&
        /looked for lua\/main\.lua .*alloapp\.json/.test(e.message) &&
        /assist create/.test(e.message),
    )
    assert.throws(() => loadProject(dir), /is not an Alloverse app: looked for lua\/main\.lua/)
  })

  test('describes layout, kind, name and info.json', () => {
    const boot = loadProject(makeLuaApp('clock'))
    assert.equal(boot.kind, 'lua')
    assert.equal(boot.luaLayout, 'boot')
    assert.equal(boot.name, 'clock')
    assert.equal(boot.info.display_name, 'clock')
    const legacy = loadProject(makeLuaApp('old', { layout: 'alloui' }))
    assert.equal(legacy.luaLayout, 'alloui-app-boot')
  })

  test('malformed alloapp.json is a one-line user error', () => {
    const root = makeLuaApp('cfg', { files: { 'alloapp.json': '{"start": ' } })
    assert.throws(
      () => loadProject(root),
      (e: unknown) => e instanceof UserError && /alloapp\.json is not valid JSON/.test(e.message),
    )
    const root2 = makeLuaApp('cfg2', { files: { 'alloapp.json': '{"start": "python3 app.py"}' } })
    assert.throws(() => loadProject(root2), /"start" must be a non-empty array of strings/)
  })
})

describe('launch specs', () => {
  test('Lua app with allo/boot.lua: <luajit> <assist-boot.lua> <boot> <root> <url>', () => {
    const root = makeLuaApp('spec')
    const spec = launchSpecFor(loadProject(root), 'alloplace://localhost:21337', {
      env: { PATH: '/usr/bin:/bin' },
    })
    assert.deepEqual(spec.argv, [
      luajitOnPath,
      ASSIST_BOOT,
      join(root, 'allo/boot.lua'),
      root,
      'alloplace://localhost:21337',
    ])
    assert.equal(spec.cwd, root)
  })

  test('older layout boots alloui app_boot.lua', () => {
    const root = makeLuaApp('legacy', { layout: 'alloui' })
    const spec = launchSpecFor(loadProject(root), 'alloplace://h:1', { env: { PATH: '/usr/bin' } })
    assert.equal(spec.argv[1], ASSIST_BOOT)
    assert.equal(spec.argv[2], join(root, 'allo/deps/alloui/lua/alloui/app_boot.lua'))
  })

  test('luajit: --luajit beats ALLO_LUAJIT beats bundled beats PATH', () => {
    const root = makeLuaApp('lj')
    const fake = join(tempDir(), 'myluajit')
    writeFile(fake, '#!/bin/sh\n', 0o755)
    const bundled = join(root, 'allo/deps/luajit-bin/luajit')
    const p = loadProject(root)
    assert.equal(resolveLuajit(p, { env: { PATH: '/usr/bin' } }).path, luajitOnPath)
    writeFile(bundled, '#!/bin/sh\n', 0o755)
    assert.equal(resolveLuajit(p, { env: { PATH: '/usr/bin' } }).path, bundled)
    assert.equal(resolveLuajit(p, { env: { PATH: '/usr/bin', ALLO_LUAJIT: fake } }).path, fake)
    assert.equal(
      resolveLuajit(p, { luajit: luajitOnPath, env: { PATH: '', ALLO_LUAJIT: fake } }).path,
      luajitOnPath,
    )
  })

  test('a non-executable bundled luajit is skipped', () => {
    const root = makeLuaApp('lj2', { files: { 'allo/deps/luajit-bin/luajit': 'not executable' } })
    assert.equal(resolveLuajit(loadProject(root), { env: { PATH: '/usr/bin' } }).path, luajitOnPath)
  })

  test('no luajit anywhere', () => {
    assert.throws(
      () =>
        launchSpecFor(loadProject(makeLuaApp('nolj')), 'alloplace://h:1', { env: { PATH: '/nonexistent' } }),
      /LuaJIT not found on PATH: install it \(Debian\/Ubuntu: sudo apt install luajit/,
    )
  })
  test('no boot script', () => {
    const root = tempDir()
    writeFile(join(root, 'lua/main.lua'), '')
    writeFile(join(root, 'allo/lib/liballonet.so'), 'x')
    assert.throws(
      () => launchSpecFor(loadProject(root), 'alloplace://h:1', { env: { PATH: '/usr/bin' } }),
      /No boot script in .*: expected allo\/boot\.lua or allo\/deps\/alloui\/lua\/alloui\/app_boot\.lua\. Run `assist fetch`/,
    )
  })
  test('no liballonet', () => {
    assert.throws(
      () =>
        launchSpecFor(loadProject(makeLuaApp('nolib', { withLib: false })), 'alloplace://h:1', {
          env: { PATH: '/usr/bin' },
        }),
      /allonet library is missing .*Run `assist fetch`/,
    )
  })
  test('--luajit that is not executable', () => {
    const root = makeLuaApp('badlj')
    assert.throws(
      () => launchSpecFor(loadProject(root), 'alloplace://h:1', { luajit: '/nope/luajit' }),
      /--luajit \/nope\/luajit is not an executable file/,
    )
  })

  test('other languages: alloapp.json start command with {url}', () => {
    const root = tempDir()
    writeFile(
      join(root, 'alloapp.json'),
      JSON.stringify({ start: ['sh', 'app.sh', '--place={url}'], env: { A: 'b' } }),
    )
    const spec = launchSpecFor(loadProject(root), 'alloplace://x:2', { env: { PATH: '/usr/bin:/bin' } })
    assert.match(spec.argv[0], /\/sh$/)
    assert.deepEqual(spec.argv.slice(1), ['app.sh', '--place=alloplace://x:2'])
    assert.deepEqual(spec.env, { A: 'b' })
    writeFile(join(root, 'alloapp.json'), JSON.stringify({ start: ['./missing-binary'] }))
    assert.throws(
      () => launchSpecFor(loadProject(root), 'alloplace://x:2'),
      /start command "\.\/missing-binary" from alloapp\.json was not found/,
    )
  })

  test('a symlinked app folder resolves', () => {
    const root = makeLuaApp('real')
    const link = join(tempDir(), 'link')
    symlinkSync(root, link)
    assert.equal(findProject(join(link, 'lua')).name, 'link')
  })
})
