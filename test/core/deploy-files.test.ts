import assert from 'node:assert/strict'
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import {
  cliEntryPath,
  invokingUser,
  locateServeRoot,
  nodeBinaryPath,
  systemdInstallDir,
  writeConfigFile,
} from '../../src/core/deploy/files.js'
import { UserError } from '../../src/core/errors.js'
import { makeLuaApp, removeDir, tempDir } from '../helpers/app.js'

const dir = tempDir('assist-deploy-files-')
after(() => removeDir(dir))

describe('writeConfigFile', () => {
  test('writes atomically and leaves no temp file', () => {
    const out = join(dir, 'a.conf')
    assert.equal(writeConfigFile(out, 'hello\n'), out)
    assert.equal(readFileSync(out, 'utf8'), 'hello\n')
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    )
  })

  test('refuses to overwrite without force; replaces with force', () => {
    const out = join(dir, 'b.conf')
    writeFileSync(out, 'old\n')
    assert.throws(
      () => writeConfigFile(out, 'new\n'),
      (e: Error) => e instanceof UserError && /--force/.test(e.message),
    )
    assert.equal(readFileSync(out, 'utf8'), 'old\n')
    writeConfigFile(out, 'new\n', { force: true })
    assert.equal(readFileSync(out, 'utf8'), 'new\n')
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    )
  })

  test('missing folder, a folder as target, an unwritable folder: UserErrors, nothing written', () => {
    assert.throws(() => writeConfigFile(join(dir, 'nope', 'c.conf'), 'x'), /does not exist/)
    mkdirSync(join(dir, 'sub'))
    assert.throws(() => writeConfigFile(join(dir, 'sub'), 'x'), /is a folder/)
    if (process.getuid?.() !== 0) {
      // root ignores permissions, so this case only runs unprivileged
      const ro = join(dir, 'ro')
      mkdirSync(ro)
      chmodSync(ro, 0o555)
      assert.throws(() => writeConfigFile(join(ro, 'd.conf'), 'x'), /Cannot write/)
      assert.deepEqual(readdirSync(ro), [])
    }
  })

  test('files are 0644 (a unit or site has no secrets: they go in an EnvironmentFile)', () => {
    const out = join(dir, 'mode.conf')
    writeConfigFile(out, 'x')
    assert.equal(statSync(out).mode & 0o777 & ~process.umask(), 0o644 & ~process.umask())
  })
})

describe('locations', () => {
  test('install dir is overridable for tests', () => {
    assert.equal(systemdInstallDir({}), '/etc/systemd/system')
    assert.equal(systemdInstallDir({ ASSIST_SYSTEMD_DIR: '/x' }), '/x')
  })

  test('node and CLI paths are absolute and exist', () => {
    assert.ok(statSync(nodeBinaryPath()).isFile())
    assert.ok(cliEntryPath().endsWith('/bin/run.js'))
    assert.ok(statSync(cliEntryPath()).isFile())
  })

  test('invoking user: SUDO_USER under sudo, else the current user', () => {
    assert.equal(invokingUser({ SUDO_USER: 'alice' }), 'alice')
    assert.equal(typeof invokingUser({}), 'string')
  })

  test('serve root: the app found from a subfolder; a folder of apps; --apps-root; otherwise an error', () => {
    const apps = join(dir, 'apps')
    mkdirSync(apps)
    const app = makeLuaApp('clock', {}, apps)
    mkdirSync(join(app, 'lua', 'deep'), { recursive: true })
    assert.deepEqual(locateServeRoot(join(app, 'lua', 'deep')), { dir: realpathSync(app), appsRoot: false })
    assert.deepEqual(locateServeRoot(apps), { dir: realpathSync(apps), appsRoot: true })
    assert.deepEqual(locateServeRoot(app, apps), { dir: realpathSync(apps), appsRoot: true })
    const empty = join(dir, 'empty')
    mkdirSync(empty)
    assert.throws(() => locateServeRoot(empty), /not inside an app.*--apps-root/)
    assert.throws(() => locateServeRoot(empty, 'missing'), /--apps-root .* is not a folder/)
  })
})
