import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runCommand } from '../../src/core/launcher.js'

test('runCommand: aborting the signal kills the command (its whole group)', async () => {
  const ac = new AbortController()
  const running = runCommand(['sh', '-c', 'sleep 30 & sleep 30; echo never'], { signal: ac.signal })
  setTimeout(() => ac.abort(), 100)
  const r = await running
  assert.equal(r.signal, 'SIGKILL')
  assert.equal(r.stdout, '')
})

test('runCommand: an already aborted signal kills at once', async () => {
  const ac = new AbortController()
  ac.abort()
  const r = await runCommand(['sleep', '30'], { signal: ac.signal })
  assert.equal(r.signal, 'SIGKILL')
})
