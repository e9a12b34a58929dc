/**
 * The fetch locks (allo/lib/.assist-fetch.lock and the build cache's .lock) on every way a real
 * `assist fetch --build` process can end, and on a machine too busy to let the holder run.
 *
 * A local allonet-like repository built for real with cmake and cc; its library target first waits
 * for a gate file ($ASSIST_TEST_GATE), so a build holds both locks for as long as the test likes, and
 * fails on purpose when $ASSIST_TEST_FAIL is set.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { tempDir } from '../helpers/app.js'
import { CliProcess, isAlive, killAllCli, runCli } from '../helpers/cli.js'
import { appLocking, LIB, makeGatedAllonet } from '../helpers/gated-allonet.js'
import { buildSharedLib } from '../helpers/native.js'

const APP_LOCK = 'allo/lib/.assist-fetch.lock'
let repo: string
let version: string
let oldLib: Buffer

before(() => {
  const base = tempDir('assist-lockexit-')
  oldLib = readFileSync(buildSharedLib(join(base, 'old.so'), 99))
  ;({ repo, version } = makeGatedAllonet(base, '0.4.0'))
})

const hogs: ChildProcess[] = []
after(async () => {
  for (const h of hogs) h.kill('SIGKILL')
  await killAllCli()
})

const app = () => appLocking(version, oldLib)

interface Run {
  cache: string
  gate: string
  env: NodeJS.ProcessEnv
}
function newRun(extra: NodeJS.ProcessEnv = {}): Run {
  const cache = tempDir('assist-lockexit-cache-')
  const gate = join(tempDir(), 'open')
  return {
    cache,
    gate,
    env: { ALLONET_BASE_URL: '', XDG_CACHE_HOME: cache, ASSIST_TEST_GATE: gate, ...extra },
  }
}
const build = (root: string, r: Run) =>
  new CliProcess(['fetch', '--build', '--allonet-url', repo], { cwd: root, env: r.env })

/** Every lock folder (and stray lock-related file) left in the app's allo/lib and the build cache. */
function locksLeft(root: string, r: Run): string[] {
  const left = readdirSync(join(root, 'allo/lib')).filter((f) => f.includes('lock'))
  const cacheRoot = join(r.cache, 'allo-assist/allonet')
  if (existsSync(cacheRoot))
    for (const entry of readdirSync(cacheRoot))
      left.push(
        ...readdirSync(join(cacheRoot, entry)).filter((f) => f.includes('lock') || f.includes('.dead-')),
      )
  return left
}
function cacheLockOf(r: Run): string {
  const cacheRoot = join(r.cache, 'allo-assist/allonet')
  return join(cacheRoot, readdirSync(cacheRoot)[0], '.lock')
}

describe('fetch locks on a busy machine', () => {
  test('a holder that cannot run (stopped, CPU hogs, its locks untouched for an hour) is waited for, never taken over', async () => {
    // Keep every core busy while the build holds the locks.
    for (let i = 0; i < availableParallelism() * 2; i++)
      hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
    const r = newRun()
    const one = app()
    const two = app()
    const a = build(one, r)
    await a.waitFor(/building the allonet target/, 180_000)
    // The machine is so busy the holder does not run at all, and its locks look abandoned by time.
    a.signal('SIGSTOP')
    const hourAgo = new Date(Date.now() - 3600_000)
    utimesSync(join(one, APP_LOCK), hourAgo, hourAgo)
    utimesSync(cacheLockOf(r), hourAgo, hourAgo)
    const pid = a.child.pid as number
    // The waiting line is printed only after a waiter has judged the lock alive.
    const b = build(two, r) // same cache entry
    await b.waitFor(
      new RegExp(`waiting for another assist fetch --build \\(pid ${pid}\\) to finish with the build cache`),
      120_000,
    )
    const c = build(one, r) // same app
    await c.waitFor(
      new RegExp(`waiting for another assist fetch \\(pid ${pid}\\) to finish with allo/lib`),
      120_000,
    )
    for (const w of [b, c]) assert.doesNotMatch(w.stderr, /taking over/, w.output)
    assert.ok(
      existsSync(join(one, APP_LOCK)) && existsSync(cacheLockOf(r)),
      'the stopped holder still holds both',
    )
    a.signal('SIGCONT')
    for (const h of hogs.splice(0)) h.kill('SIGKILL')
    writeFileSync(r.gate, '')
    const ends = await Promise.all([a.closed, b.closed, c.closed])
    for (const [i, p] of [a, b, c].entries()) {
      assert.equal(ends[i].code, 0, p.output)
      assert.doesNotMatch(p.stderr, /taken over|taking over|compromised|stale/, p.output)
    }
    assert.match(a.stdout, new RegExp(`Built allonet ${version}`))
    assert.match(b.stdout, /just made by another assist fetch/)
    assert.deepEqual(locksLeft(one, r), [])
    assert.deepEqual(locksLeft(two, r), [])
  })
})

describe('no lock survives the holder, however it ends', () => {
  test('success', async () => {
    const r = newRun()
    writeFileSync(r.gate, '')
    const root = app()
    const end = await runCli(['fetch', '--build', '--allonet-url', repo], {
      cwd: root,
      env: r.env,
      timeoutMs: 180_000,
    })
    assert.equal(end.code, 0, end.stdout + end.stderr)
    assert.deepEqual(locksLeft(root, r), [])
  })

  test('failure (the build fails): exit 1, old library kept, no lock', async () => {
    const r = newRun({ ASSIST_TEST_FAIL: '1' })
    writeFileSync(r.gate, '')
    const root = app()
    const end = await runCli(['fetch', '--build', '--allonet-url', repo], {
      cwd: root,
      env: r.env,
      timeoutMs: 180_000,
    })
    assert.equal(end.code, 1, end.stdout + end.stderr) // EXIT.failure: the build itself failed
    assert.match(end.stderr, /failed while building/)
    assert.deepEqual(readFileSync(join(root, LIB)), oldLib)
    assert.deepEqual(locksLeft(root, r), [])
  })

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    test(`${sig} while building: dies of ${sig}, old library kept, no lock`, async () => {
      const r = newRun()
      const root = app()
      const a = build(root, r)
      await a.waitFor(/building the allonet target/, 180_000)
      assert.ok(
        existsSync(join(root, APP_LOCK)) && existsSync(cacheLockOf(r)),
        'both locks held while building',
      )
      a.signal(sig)
      const end = await a.closed
      assert.equal(end.signal, sig, a.output)
      writeFileSync(r.gate, '') // lets any straggler finish
      assert.deepEqual(readFileSync(join(root, LIB)), oldLib)
      assert.deepEqual(locksLeft(root, r), [])
    })
  }

  test('SIGKILL (nothing can clean up): the next fetch takes both locks over at once and leaves none', async () => {
    const r = newRun()
    const root = app()
    const a = build(root, r)
    await a.waitFor(/building the allonet target/, 180_000)
    const pid = a.child.pid as number
    a.signal('SIGKILL')
    await a.exited
    assert.ok(!isAlive(pid))
    assert.ok(existsSync(join(root, APP_LOCK)), 'SIGKILL leaves the lock behind')
    writeFileSync(r.gate, '')
    const end = await runCli(['fetch', '--build', '--allonet-url', repo], {
      cwd: root,
      env: r.env,
      timeoutMs: 180_000,
    })
    assert.equal(end.code, 0, end.stdout + end.stderr)
    assert.match(
      end.stderr,
      new RegExp(
        `taking over the lock on allo/lib left by assist fetch \\(pid ${pid}\\), which is no longer running`,
      ),
    )
    assert.match(
      end.stderr,
      new RegExp(`taking over the lock on the build cache .* \\(pid ${pid}\\), which is no longer running`),
    )
    assert.doesNotMatch(end.stderr, /waiting for/)
    assert.deepEqual(locksLeft(root, r), [])
  })
})
