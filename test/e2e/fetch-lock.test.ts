/**
 * Concurrent `assist fetch` runs, for real: two CLI processes started at once against the local HTTP
 * mirror (download) or a local allonet-like git repository built with cmake and cc (--build). A gate
 * (a mirror route that holds back half the file; a CMake step that waits for a file) keeps the first
 * process busy until the second has said it is waiting, so the overlap is certain, not timed.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { tempDir } from '../helpers/app.js'
import { CliProcess, isAlive, killAllCli, runCli, sleep } from '../helpers/cli.js'
import { appLocking, LIB, makeGatedAllonet } from '../helpers/gated-allonet.js'
import { type Mirror, startMirror } from '../helpers/mirror.js'
import { buildSharedLib } from '../helpers/native.js'

const LOCK = 'allo/lib/.assist-fetch.lock'
const V = '2.0.0.gccccccc'
const WAITING = /waiting for another (assist fetch(?: --build)?) \(pid (\d+)\) to finish with (.*) …/

let m: Mirror
let lib: Buffer
let oldLib: Buffer
let repo: string
let built: string
let base: string

/** A promise the test opens by hand. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open = () => {}
  const opened = new Promise<void>((r) => {
    open = r
  })
  return { open, opened }
}

before(async () => {
  m = await startMirror()
  base = tempDir('assist-lock-')
  lib = readFileSync(buildSharedLib(join(base, 'v.so'), 5))
  oldLib = readFileSync(buildSharedLib(join(base, 'old.so'), 99))
  // An allonet-like repository whose library target first waits for $ASSIST_TEST_GATE to exist.
  ;({ repo, version: built } = makeGatedAllonet(base, '0.2.0'))
})
after(async () => {
  await killAllCli()
  await m.close()
})

const app = (lock: string) => appLocking(lock, oldLib)
const libDir = (root: string) => readdirSync(join(root, 'allo/lib')).sort()
// These tests are about the lock: the gated routes publish no checksum, which fetch accepts only when told to.
const env = { ALLONET_BASE_URL: '', ALLONET_ALLOW_NO_CHECKSUM: '1' }

/** Which of two processes printed the waiting line first, and the holder's pid it names. */
async function waiterOf(
  a: CliProcess,
  b: CliProcess,
): Promise<{ waiter: CliProcess; holder: CliProcess; pid: number }> {
  const waiter = await new Promise<CliProcess>((resolve, reject) => {
    const done = (err?: Error, p?: CliProcess) => {
      clearTimeout(timer)
      for (const x of [a, b]) x.child.stderr?.off('data', check)
      if (p) resolve(p)
      else reject(err)
    }
    const check = () => {
      const p = [a, b].find((x) => WAITING.test(x.stderr))
      if (p) done(undefined, p)
    }
    const timer = setTimeout(
      () => done(new Error(`neither said it was waiting:\n${a.output}\n---\n${b.output}`)),
      120_000,
    )
    // CliProcess's own listener was added first, so x.stderr already holds each chunk here.
    for (const x of [a, b]) x.child.stderr?.on('data', check)
    check()
  })
  const holder = waiter === a ? b : a
  const pid = Number(WAITING.exec(waiter.stderr)?.[2])
  return { waiter, holder, pid }
}

/** Calls the installed library's function through the real LuaJIT FFI. */
function markerOf(path: string): string {
  return execFileSync(
    'luajit',
    [
      '-e',
      `local ffi=require('ffi') ffi.cdef('int allonet_test_marker(void);') io.write(ffi.load('${path}').allonet_test_marker())`,
    ],
    { encoding: 'utf8' },
  )
}

describe('concurrent assist fetch (download)', () => {
  test('two at once in one app: one download, the other waits (naming its pid) and finds it installed', async () => {
    const path = `/${V}/linux-x64/liballonet.so`
    const g = gate()
    m.set(path, { kind: 'gated', body: lib, open: g.opened })
    const hitsBefore = m.hits.filter((h) => h === path).length
    const root = app(V)
    const a = new CliProcess(['fetch', '--base-url', m.url], { cwd: root, env })
    const b = new CliProcess(['fetch', '--base-url', m.url], { cwd: root, env })
    const { waiter, holder, pid } = await waiterOf(a, b)
    assert.equal(pid, holder.child.pid, waiter.stderr)
    assert.match(waiter.stderr, /waiting for another assist fetch \(pid \d+\) to finish with allo\/lib …/)
    assert.equal(waiter.stderr.match(/waiting for/g)?.length, 1, 'said once')
    g.open()
    const [ea, eb] = await Promise.all([a.closed, b.closed])
    assert.equal(ea.code, 0, a.output)
    assert.equal(eb.code, 0, b.output)
    assert.match(holder.stdout, new RegExp(`Installed allonet ${V} for linux-x64`))
    assert.match(waiter.stdout, new RegExp(`allonet ${V} is already installed .*nothing to do`))
    assert.equal(m.hits.filter((h) => h === path).length - hitsBefore, 1, 'downloaded once')
    assert.deepEqual(readFileSync(join(root, LIB)), lib)
    assert.equal(markerOf(join(root, LIB)), '5')
    assert.equal(readFileSync(join(root, 'allo/lib/allonet.cache'), 'utf8'), `${V}\n`)
    assert.deepEqual(libDir(root), ['allonet.cache', 'liballonet.so'], 'no lock, no temp file left')
  })

  test('a lock left by a dead pid is taken over at once, saying so', async () => {
    const v = '2.0.1.gdddddd'
    m.file(`/${v}/linux-x64/liballonet.so`, lib)
    const root = app(v)
    const dead = spawnSync('true').pid as number
    assert.ok(!isAlive(dead))
    mkdirSync(join(root, LOCK))
    writeFileSync(
      join(root, LOCK, 'owner.json'),
      JSON.stringify({ pid: dead, host: hostname(), what: 'assist fetch', since: new Date().toISOString() }),
    )
    const r = await runCli(['fetch', '--base-url', m.url], { cwd: root, env })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(
      r.stderr,
      new RegExp(
        `taking over the lock on allo/lib left by assist fetch \\(pid ${dead}\\), which is no longer running`,
      ),
    )
    assert.deepEqual(readFileSync(join(root, LIB)), lib)
    assert.deepEqual(libDir(root), ['allonet.cache', 'liballonet.so'])
  })

  test('a lock nobody has refreshed for longer than the stale limit (holder unknown, or on another host) is taken over', async () => {
    const v = '2.0.2.geeeeee'
    m.file(`/${v}/linux-x64/liballonet.so`, lib)
    for (const owner of [
      undefined,
      { pid: 1, host: 'some-other-host', what: 'assist fetch', since: '2026-01-01' },
    ]) {
      const root = app(v)
      mkdirSync(join(root, LOCK))
      if (owner) writeFileSync(join(root, LOCK, 'owner.json'), JSON.stringify(owner))
      const hourAgo = new Date(Date.now() - 3600_000)
      utimesSync(join(root, LOCK), hourAgo, hourAgo)
      const r = await runCli(['fetch', '--base-url', m.url], { cwd: root, env })
      assert.equal(r.code, 0, r.stdout + r.stderr)
      assert.doesNotMatch(r.stderr, /waiting/)
      assert.deepEqual(readFileSync(join(root, LIB)), lib)
      assert.deepEqual(libDir(root), ['allonet.cache', 'liballonet.so'])
    }
  })

  test('Ctrl-C of the holder releases the lock and leaves nothing half-written; the waiter then installs', async () => {
    const v = '2.0.3.gffffff'
    const path = `/${v}/linux-x64/liballonet.so`
    const g = gate()
    m.set(path, { kind: 'gated', body: lib, open: g.opened })
    m.set(`${path}.sha256`, { kind: 'status', status: 404 })
    const root = app(v)
    const a = new CliProcess(['fetch', '--base-url', m.url], { cwd: root, env })
    // a holds the lock and is mid-download once its temp file exists
    for (let i = 0; i < 600 && !libDir(root).some((f) => f.endsWith('.tmp')); i++) await sleep(50)
    assert.ok(
      libDir(root).some((f) => f.includes(`.${a.child.pid}-`)),
      `a has no temp file: ${a.output}`,
    )
    const b = new CliProcess(['fetch', '--base-url', m.url], { cwd: root, env })
    await b.waitFor(new RegExp(`waiting for another assist fetch \\(pid ${a.child.pid}\\)`), 60_000)
    a.signal('SIGINT')
    const endA = await a.closed
    assert.equal(endA.signal, 'SIGINT')
    assert.ok(
      !libDir(root).some((f) => f.includes(`.${a.child.pid}-`)),
      `a's temp file is gone: ${libDir(root)}`,
    )
    assert.equal(readFileSync(join(root, 'allo/lib/allonet.cache'), 'utf8'), '0.0.1.g0\n')
    g.open()
    const endB = await b.closed
    assert.equal(endB.code, 0, b.output)
    assert.match(b.stdout, new RegExp(`Installed allonet ${v}`))
    assert.deepEqual(readFileSync(join(root, LIB)), lib)
    assert.deepEqual(libDir(root), ['allonet.cache', 'liballonet.so'])
  })
})

describe('concurrent assist fetch --build', () => {
  const cacheEnv = (cache: string, gateFile: string) => ({
    ...env,
    XDG_CACHE_HOME: cache,
    ASSIST_TEST_GATE: gateFile,
  })
  const buildArgs = () => ['fetch', '--build', '--allonet-url', repo]
  const cacheDirOf = (cache: string) => {
    const root = join(cache, 'allo-assist/allonet')
    return join(root, readdirSync(root)[0])
  }

  test('two apps building one version at once: one build, the other waits and uses its result', async () => {
    const cache = tempDir('assist-lock-cache-')
    const gateFile = join(tempDir(), 'open')
    const [one, two] = [app(built), app(built)]
    const a = new CliProcess(buildArgs(), { cwd: one, env: cacheEnv(cache, gateFile) })
    const b = new CliProcess(buildArgs(), { cwd: two, env: cacheEnv(cache, gateFile) })
    const { waiter, holder, pid } = await waiterOf(a, b)
    assert.equal(pid, holder.child.pid, waiter.stderr)
    assert.match(
      waiter.stderr,
      new RegExp(
        `waiting for another assist fetch --build \\(pid ${pid}\\) to finish with the build cache for allonet ${built}`,
      ),
    )
    writeFileSync(gateFile, '')
    const [ea, eb] = await Promise.all([a.closed, b.closed])
    assert.equal(ea.code, 0, a.output)
    assert.equal(eb.code, 0, b.output)
    assert.match(holder.stdout, new RegExp(`Built allonet ${built}`))
    assert.match(waiter.stdout, /just made by another assist fetch/)
    assert.match(waiter.stdout, /Installed the cached build .*no rebuild needed/)
    const cacheDir = cacheDirOf(cache)
    const log = readFileSync(join(cacheDir, 'build.log'), 'utf8')
    assert.equal(log.match(/=== assist fetch --build/g)?.length, 1, 'built once')
    for (const root of [one, two]) {
      assert.equal(markerOf(join(root, LIB)), '77')
      assert.deepEqual(libDir(root), ['allonet.cache', 'liballonet.so'])
    }
    assert.ok(!existsSync(join(cacheDir, '.lock')), 'the cache lock is released')
  })

  test('Ctrl-C of the building holder releases the cache lock; the waiter builds it and no temp source is left', async () => {
    const cache = tempDir('assist-lock-cache-')
    const gateFile = join(tempDir(), 'open')
    const [one, two] = [app(built), app(built)]
    const a = new CliProcess(buildArgs(), { cwd: one, env: cacheEnv(cache, gateFile) })
    await a.waitFor(/building the allonet target/, 120_000)
    const b = new CliProcess(buildArgs(), { cwd: two, env: cacheEnv(cache, gateFile) })
    await b.waitFor(new RegExp(`waiting for another assist fetch --build \\(pid ${a.child.pid}\\)`), 60_000)
    a.signal('SIGINT')
    const endA = await a.closed
    assert.equal(endA.signal, 'SIGINT')
    assert.deepEqual(readFileSync(join(one, LIB)), oldLib, 'the interrupted app keeps its old library')
    assert.deepEqual(libDir(one), ['allonet.cache', 'liballonet.so'])
    writeFileSync(gateFile, '')
    const endB = await b.closed
    assert.equal(endB.code, 0, b.output)
    assert.match(b.stdout, new RegExp(`Built allonet ${built}`))
    assert.equal(markerOf(join(two, LIB)), '77')
    const left = readdirSync(cacheDirOf(cache))
    assert.ok(!left.some((f) => f.endsWith('.tmp') || f === '.lock'), `cache holds ${left}`)
  })
})
