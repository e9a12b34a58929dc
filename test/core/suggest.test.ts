import assert from 'node:assert/strict'
import { test } from 'node:test'
import { closest, editDistance } from '../../src/core/suggest.js'

test('edit distance counts inserts, deletes and substitutions', () => {
  assert.equal(editDistance('run', 'run'), 0)
  assert.equal(editDistance('rn', 'run'), 1)
  assert.equal(editDistance('rnu', 'run'), 2)
  assert.equal(editDistance('', 'abc'), 3)
  assert.equal(editDistance('kitten', 'sitting'), 3)
})

test('closest suggests only what is close enough', () => {
  const commands = [
    'create',
    'doctor',
    'fetch',
    'generate nginx',
    'generate systemd',
    'place',
    'run',
    'serve',
    'upgrade',
  ]
  assert.equal(closest('rn', commands), 'run')
  assert.equal(closest('rnu', commands), 'run')
  assert.equal(closest('serv', commands), 'serve')
  assert.equal(closest('docter', commands), 'doctor')
  assert.equal(closest('generate sytemd', commands), 'generate systemd')
  assert.equal(closest('xyzzy', commands), undefined)
  assert.equal(closest('anything', []), undefined)
  assert.equal(closest('--plce-port', ['--place-port', '--place', '--port']), '--place-port')
})
