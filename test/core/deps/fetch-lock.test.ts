/**
 * The fetch lock's liveness rule, in-process with real processes and real folders: a lock is alive
 * exactly while its owner process runs — the same process (a reused pid with another start time does
 * not count), whatever the folder's mtime says.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  acquireLock,
  type LockOwner,
  ownerAlive,
  processStart,
  readOwner,
} from '../../../src/core/deps/fetch-lock.js'
import { tempDir } from '../../helpers/app.js'

const spec = { what: 'assist fetch', where: 'allo/lib' }

function plant(dir: string, owner: LockOwner, ageMs = 0): void {
  mkdirSync(dir)
  writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner))
  const t = new Date(Date.now() - ageMs)
  utimesSync(dir, t, t)
}

test('the owner record names this process, its start time and a token; release removes the folder', async () => {
  const dir = join(tempDir(), 'x.lock')
  const held = await acquireLock(dir, spec)
  const o = readOwner(dir)
  assert.equal(o?.pid, process.pid)
  assert.equal(o?.start, processStart(process.pid))
  assert.match(o?.token ?? '', /^[0-9a-f]{16}$/)
  assert.ok(ownerAlive(o as LockOwner))
  await held.release()
  assert.ok(!existsSync(dir))
})

test('a live owner an hour stale by mtime is waited for; a reused pid (other start time) is taken over', async () => {
  const sleeper = spawn('sleep', ['600'])
  try {
    const pid = sleeper.pid as number
    const start = processStart(pid)
    assert.ok(start, '/proc gives the start time')
    const base = tempDir()
    // Alive, and the folder untouched for an hour: still its lock.
    const live = join(base, 'live.lock')
    plant(live, { pid, host: hostname(), what: 'assist fetch', since: '', start, token: 'a' }, 3600_000)
    const waits: string[] = []
    const taken = acquireLock(live, spec, { onWait: (l) => waits.push(l), onTakeover: (l) => waits.push(l) })
    // Polls until the waiting line says it judged the lock alive.
    while (waits.length === 0) await new Promise((r) => setTimeout(r, 50))
    assert.match(waits[0], new RegExp(`^waiting for another assist fetch \\(pid ${pid}\\)`))
    assert.equal(readOwner(live)?.token, 'a', 'not taken')
    sleeper.kill('SIGKILL')
    await new Promise((r) => sleeper.once('exit', r))
    const held = await taken // its owner died: taken over at once
    assert.match(
      waits[1],
      new RegExp(
        `taking over the lock on allo/lib left by assist fetch \\(pid ${pid}\\), which is no longer running`,
      ),
    )
    await held.release()

    // The pid runs (it is this process) but is another process than the one recorded.
    const reused = join(base, 'reused.lock')
    plant(reused, {
      pid: process.pid,
      host: hostname(),
      what: 'assist fetch',
      since: '',
      start: '1',
      token: 'b',
    })
    assert.equal(ownerAlive(readOwner(reused) as LockOwner), false)
    const other = spawn('sleep', ['600'])
    try {
      const reusedByOther = {
        pid: other.pid as number,
        host: hostname(),
        what: 'assist fetch',
        since: '',
        start: '1',
      }
      assert.equal(ownerAlive(reusedByOther), false, 'a running pid with another start time is not the owner')
    } finally {
      other.kill('SIGKILL')
    }
    assert.deepEqual(readdirSync(base).sort(), ['reused.lock'])
  } finally {
    sleeper.kill('SIGKILL')
  }
})

test('a lock recorded under this very pid by an earlier process (pid reuse in a container) is taken over', async () => {
  const dir = join(tempDir(), 'same-pid.lock')
  plant(dir, {
    pid: process.pid,
    host: hostname(),
    what: 'assist fetch',
    since: '',
    start: processStart(process.pid),
    token: 'old',
  })
  const lines: string[] = []
  const held = await acquireLock(dir, spec, {
    onTakeover: (l) => lines.push(l),
    onWait: (l) => lines.push(l),
  })
  assert.match(
    lines.join('\n'),
    new RegExp(`^taking over the lock on allo/lib left by assist fetch \\(pid ${process.pid}\\)`),
  )
  assert.notEqual(readOwner(dir)?.token, 'old')
  await held.release()
  assert.ok(!existsSync(dir))
})
