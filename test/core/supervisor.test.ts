import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DEFAULT_BACKOFF, decideAfterExit, isCrash } from '../../src/core/supervisor.js'

describe('restart decisions', () => {
  const crash = { code: 1, signal: null, lifetimeMs: 100 }
  const clean = { code: 0, signal: null, lifetimeMs: 100 }
  const killed = { code: null, signal: 'SIGSEGV' as NodeJS.Signals, lifetimeMs: 100 }

  test('what counts as a crash', () => {
    assert.equal(isCrash(crash), true)
    assert.equal(isCrash(killed), true)
    assert.equal(isCrash(clean), false)
  })

  test('without --restart-on-crash every exit waits for a change', () => {
    assert.deepEqual(decideAfterExit(crash, false, 0), { action: 'wait', crashed: true })
    assert.deepEqual(decideAfterExit(clean, false, 0), { action: 'wait', crashed: false })
  })

  test('a clean exit never restarts, even with --restart-on-crash', () => {
    assert.deepEqual(decideAfterExit(clean, true, 3), { action: 'wait', crashed: false })
  })

  test('crash backoff doubles up to the maximum', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map(
      (n) => (decideAfterExit(killed, true, n) as { delayMs: number }).delayMs,
    )
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000])
  })

  test('an instance that lived long enough resets the backoff', () => {
    const longLived = { ...crash, lifetimeMs: DEFAULT_BACKOFF.resetAfterMs }
    assert.deepEqual(decideAfterExit(longLived, true, 6), { action: 'restart', delayMs: 500 })
  })
})
