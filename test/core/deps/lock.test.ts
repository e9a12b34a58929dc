import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  commitOfVersion,
  isVersion,
  readCache,
  readLock,
  requireLock,
  writeCache,
  writeLock,
} from '../../../src/core/deps/lock.js'
import { UserError } from '../../../src/core/errors.js'
import { tempDir, writeFile } from '../../helpers/app.js'

test('versions: MAJOR.MINOR.PATCH.g<hex>', () => {
  for (const v of ['4.0.54.g53838b4', '0.0.0.ga', '10.20.30.g0123456789abcdef'])
    assert.equal(isVersion(v), true, v)
  for (const v of [
    '4.0.54',
    'main',
    '4.0.54.G53838b4',
    '4.0.54.g53838B4',
    '4.0.g1',
    ' 4.0.54.g1',
    '4.0.54.g',
  ])
    assert.equal(isVersion(v), false, v)
  assert.equal(commitOfVersion('4.0.54.g53838b4'), '53838b4')
  assert.throws(() => commitOfVersion('main'), UserError)
})

test('property: every generated version parses and yields its commit', () => {
  fc.assert(
    fc.property(fc.nat(), fc.nat(), fc.nat(), fc.stringMatching(/^[0-9a-f]{1,40}$/), (a, b, c, hex) => {
      const v = `${a}.${b}.${c}.g${hex}`
      return isVersion(v) && commitOfVersion(v) === hex
    }),
  )
})

test('lock and cache round-trip, trimmed; files written atomically (no temp left)', () => {
  const root = tempDir()
  assert.equal(readLock(root), undefined)
  assert.throws(() => requireLock(root), /assist upgrade/)
  writeLock(root, '1.2.3.gabc')
  assert.equal(readFileSync(join(root, 'allo/allonet.lock'), 'utf8'), '1.2.3.gabc\n')
  assert.equal(requireLock(root), '1.2.3.gabc')
  writeCache(root, '1.2.3.gabc')
  assert.equal(readCache(root), '1.2.3.gabc')
  writeCache(root, undefined)
  assert.equal(readCache(root), undefined)
  assert.deepEqual(readdirSync(join(root, 'allo')).sort(), ['allonet.lock', 'lib'])
  assert.deepEqual(readdirSync(join(root, 'allo/lib')), [])
})

test('a lock holding garbage is a UserError naming the file', () => {
  const root = tempDir()
  writeFile(join(root, 'allo/allonet.lock'), 'latest please\n')
  assert.throws(() => requireLock(root), /allonet\.lock holds "latest please"/)
})
