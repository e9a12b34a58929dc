import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConnectFailureFilter, connectFailureMessage, type Stream } from '../../src/core/app-output.js'
import { runStatus } from '../../src/core/run.js'
import { sleep } from '../helpers/cli.js'

function collect() {
  const shown: string[] = []
  return { shown, show: (line: string, stream: Stream) => shown.push(`${stream}:${line}`) }
}

test('lines pass through until alloui says it could not connect; dying of it drops the rest', () => {
  const c = collect()
  const f = new ConnectFailureFilter(c.show)
  f.line('Connecting…', 'stdout')
  f.line('Failed to connect', 'stdout') // only stderr counts (it is where Lua errors go)
  f.line('luajit: app.lua:93: Failed to connect', 'stderr')
  f.line('stack traceback:', 'stderr')
  f.line('  [C]: in function error', 'stderr')
  f.line('[INFO] Connection to 127.0.0.1:1 failed.', 'stdout') // stdout is not held
  assert.equal(f.sawConnectFailure, true)
  f.settle(true)
  assert.deepEqual(c.shown, [
    'stdout:Connecting…',
    'stdout:Failed to connect',
    'stdout:[INFO] Connection to 127.0.0.1:1 failed.',
  ])
})

test('held lines are shown when the app exits for another reason', () => {
  const c = collect()
  const f = new ConnectFailureFilter(c.show)
  f.line('Failed to connect (will retry)', 'stderr')
  f.line('giving up', 'stderr')
  f.settle(false)
  assert.deepEqual(c.shown, ['stderr:Failed to connect (will retry)', 'stderr:giving up'])
  f.line('after', 'stdout')
  assert.deepEqual(c.shown.at(-1), 'stdout:after')
})

test('an app that goes on running after the line has its lines shown after the hold time', async () => {
  const c = collect()
  const f = new ConnectFailureFilter(c.show, 20)
  f.line('Failed to connect, retrying', 'stderr')
  f.line('retry 1', 'stderr')
  assert.deepEqual(c.shown, [])
  for (let i = 0; i < 200 && c.shown.length < 2; i++) await sleep(10)
  assert.deepEqual(c.shown, ['stderr:Failed to connect, retrying', 'stderr:retry 1'])
  assert.equal(f.sawConnectFailure, false)
  f.line('retry 2', 'stderr')
  assert.equal(c.shown.at(-1), 'stderr:retry 2', 'no longer held')
})

test('the connect failure message', () => {
  assert.match(
    connectFailureMessage('alloplace://h:1', false),
    /^Nothing answers at alloplace:\/\/h:1: check that the place is running/,
  )
  assert.match(connectFailureMessage('alloplace://127.0.0.1:5', true), /built-in place/)
})

test("run's exit status", () => {
  assert.equal(runStatus(undefined, undefined, false), 0)
  assert.equal(runStatus({ code: 0, signal: null }, undefined, false), 0)
  assert.equal(runStatus({ code: 3, signal: null }, undefined, false), 5)
  assert.equal(runStatus({ code: null, signal: 'SIGSEGV' }, undefined, false), 5)
  assert.equal(runStatus({ code: 1, signal: null }, undefined, true), 4)
  // assist-boot.lua's ends: an error alloui caught is the app failing; a lost place is the network
  assert.equal(runStatus({ code: 80, signal: null }, undefined, false), 5)
  assert.equal(runStatus({ code: 81, signal: null }, undefined, false), 4)
  assert.equal(runStatus({ code: 0, signal: null }, 'SIGINT', false), 130)
  assert.equal(runStatus({ code: null, signal: 'SIGTERM' }, 'SIGTERM', false), 143)
  assert.equal(runStatus(undefined, 'SIGHUP', false), 129)
})
