/** runCommand's `signal` option: aborting kills the command's whole process group (real processes). */
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { runCommand } from '../../src/core/launcher.js'
import { isAlive } from '../helpers/cli.js'

test('aborting kills the command and the children it started', async () => {
  const controller = new AbortController()
  let childPid = 0
  const done = runCommand(['sh', '-c', 'sleep 300 & echo $!; wait'], {
    signal: controller.signal,
    onLine: (line) => {
      childPid = Number(line)
      controller.abort()
    },
  })
  const r = await done
  assert.equal(r.signal, 'SIGKILL')
  assert.ok(childPid > 0)
  // The grandchild (sleep) was in the same group: gone too (allow the kernel a moment to reap it).
  for (let i = 0; i < 100 && isAlive(childPid); i++) await new Promise((res) => setTimeout(res, 20))
  assert.equal(isAlive(childPid), false)
})

test('an already aborted signal stops the command at once', async () => {
  const controller = new AbortController()
  controller.abort()
  const r = await runCommand(['sleep', '300'], { signal: controller.signal })
  assert.equal(r.signal, 'SIGKILL')
})

test('a command that ends normally leaves no abort listener behind', async () => {
  const controller = new AbortController()
  const r = await runCommand(['true'], { signal: controller.signal })
  assert.equal(r.code, 0)
  // Otherwise a later abort would signal a finished (possibly reused) process group.
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})
