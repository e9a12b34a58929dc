/**
 * `assist serve` vs the old Python gateway (bench/fixtures/serve_py.py), same app, same run:
 * launch round trip (POST → full answer, a fresh connection per launch as a place makes) at
 * concurrency 1, 16 and 64, launches per second, the gateway's CPU time per launch (ours with its
 * process spawner), two floors (bare node spawning; bare node through the spawner, both without
 * HTTP), and gateway RSS idle and with 200 running instances.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { findExecutable } from '../src/core/fsutil.js'
import { makeLuaApp, removeDir, tempDir } from '../test/helpers/app.js'
import { IDLE_BOOT_LUA, PLACE, PLACE_BODY, PLACE_IDENTITY, QUICK_BOOT_LUA } from '../test/helpers/gateway.js'
import { median, printTable, quantile } from './lib.js'

const CLI = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/serve_py.py', import.meta.url))
const LEVELS: Array<{ concurrency: number; launches: number }> = [
  { concurrency: 1, launches: 100 },
  { concurrency: 16, launches: 256 },
  { concurrency: 64, launches: 512 },
]
const RUNNING = 200

interface Server {
  name: string
  child: ChildProcess
  port: number
  stop(): Promise<void>
}

/** Starts a gateway process and waits for its "listening … port N" line. */
function startServer(name: string, argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Own process group, so stopping it also ends what it spawned (the old gateway never does).
    const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...env }, detached: true })
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 30_000)
    const onData = (d: Buffer) => {
      out += d
      const m = /(?:listening on port |listening on http:\/\/[^:]+:)(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stderr?.removeAllListeners('data')
        child.stdout?.resume()
        child.stderr?.resume()
        resolve({
          name,
          child,
          port: Number(m[1]),
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done()
              child.once('exit', () => done())
              try {
                process.kill(-(child.pid as number), 'SIGTERM')
              } catch {
                done()
              }
              setTimeout(() => {
                try {
                  process.kill(-(child.pid as number), 'SIGKILL')
                } catch {}
              }, 10_000).unref()
            }),
        })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (d) => {
      out += d
    })
    child.on('error', reject)
  })
}

function post(port: number, path: string): Promise<{ ms: number; ok: boolean }> {
  const started = performance.now()
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false, // a fresh connection per launch, as a place does (Connection: close)
        timeout: 10_000,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(PLACE_BODY),
          connection: 'close',
          'x-alloverse-server': PLACE,
          'x-alloverse-launched-by': PLACE_IDENTITY,
        },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve({ ms: performance.now() - started, ok: res.statusCode === 200 }))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({ ms: performance.now() - started, ok: false }))
    req.end(PLACE_BODY)
  })
}

async function load(port: number, path: string, launches: number, concurrency: number) {
  const times: number[] = []
  let failed = 0
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < launches) {
        next++
        const r = await post(port, path)
        times.push(r.ms)
        if (!r.ok) failed++
      }
    }),
  )
  const wall = (performance.now() - started) / 1000
  // Launches per second counts successful launches only.
  return { median: median(times), p99: quantile(times, 0.99), perSecond: (launches - failed) / wall, failed }
}

/**
 * The spawn floor: a fresh, bare Node process (no oclif, no HTTP: the smallest process that can
 * spawn the way the launcher does — own group, piped output, same env) starting the same app,
 * `concurrency` at a time. Run in its own process because fork cost grows with the parent's size,
 * and this bench process is much bigger than a gateway. Prints launches per second.
 */
const FLOOR_SCRIPT = `
const { spawn } = require('node:child_process')
const [argv, cwd, env, launches, concurrency] = JSON.parse(process.argv[1])
let next = 0
const started = performance.now()
Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < launches) {
    next++
    await new Promise((resolve) => {
      const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      child.stdout.resume()
      child.stderr.resume()
      child.once('spawn', resolve)
      child.once('error', resolve)
    })
  }
})).then(() => console.log(launches / ((performance.now() - started) / 1000)))
`

/**
 * The spawner floor: a fresh, bare Node process starting the same app through the gateway's resident
 * spawner (the built launcher's ResidentSpawner), `concurrency` at a time, no HTTP: what the gateway
 * could reach if answering HTTP cost nothing.
 */
const SPAWNER_FLOOR_SCRIPT = `
const [argv, cwd, env, launches, concurrency, launcher] = JSON.parse(process.argv[1])
import(launcher).then(async ({ ResidentSpawner, startInstance }) => {
  const spawner = await ResidentSpawner.start({ luajit: argv[0] })
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < launches) {
      next++
      await startInstance({ spec: { argv, cwd, env }, tag: 'floor', spawner }).catch(() => {})
    }
  }))
  console.log(launches / ((performance.now() - started) / 1000))
  await spawner.close()
})
`
const LAUNCHER = new URL('../dist/core/launcher.js', import.meta.url).href
const GATEWAY = new URL('../dist/core/gateway.js', import.meta.url).href

/** A gateway in a bare node process (no CLI): `[gateway module, apps root, use the spawner]`. */
const GATEWAY_SCRIPT = `
const [gateway, root, spawner] = JSON.parse(process.argv[1])
import(gateway).then(async ({ startGateway, silentLog }) => {
  const g = await startGateway({ port: 0, host: '127.0.0.1', appsRoot: root, maxInstances: 0, spawner, log: silentLog })
  console.log('listening on port ' + g.port)
  process.on('SIGTERM', () => g.close().then(() => process.exit(0)))
})
`

async function bareSpawn(
  appDir: string,
  launches: number,
  concurrency: number,
  viaSpawner = false,
): Promise<number> {
  const argv = [
    viaSpawner ? (findExecutable('luajit') ?? 'luajit') : 'luajit',
    `${appDir}/allo/boot.lua`,
    appDir,
    PLACE,
  ]
  const env = { ALLO_APP_BOOT_ARGS: PLACE_BODY, ALLO_APP_BOOTED_BY_IDENTITY: PLACE_IDENTITY }
  const child = spawn(process.execPath, [
    '-e',
    viaSpawner ? SPAWNER_FLOOR_SCRIPT : FLOOR_SCRIPT,
    JSON.stringify([argv, appDir, env, launches, concurrency, LAUNCHER]),
  ])
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  child.stderr.resume()
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  const rate = Number(out.trim())
  if (code !== 0 || !Number.isFinite(rate))
    throw new Error(`spawn floor process failed (exit ${code}): ${out}`)
  return rate
}

/** CPU time (user + system, ms) a process has used so far. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100 // USER_HZ is 100 on Linux
}

/** CPU time (ms) of the reaped children of a process (the instances, for the spawner). */
function childrenCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100
}

/** The pids of `pid` and of its direct children running `match` (e.g. the spawner). */
function withChildren(pid: number, match: RegExp): number[] {
  const pids = [pid]
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid && match.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

async function waitIdle(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.json() as Promise<{ instances: number }>,
    )
    if (res.instances === 0) return
    await new Promise((r) => setTimeout(r, 50))
  }
}

export default async function bench(): Promise<void> {
  const root = tempDir('assist-bench-serve-')
  const quick = makeLuaApp('quick', { boot: QUICK_BOOT_LUA }, root)
  makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, root)
  const ourArgv = [process.execPath, CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--apps-root', root]
  const pyArgv = ['python3', FIXTURE]
  const rows: Parameters<typeof printTable>[1] = []
  const servers: Server[] = []
  try {
    // Launch round trips, short-lived app: ours, then the old gateway, level by level.
    const ours = await startServer('ours', [...ourArgv, '--max-instances', '0'], {}, root)
    servers.push(ours)
    const py = await startServer('serve.py', pyArgv, { APPS_ROOT: root, PORT: '0' }, root)
    servers.push(py)
    // Warm both up (JIT, page cache) before measuring.
    await load(ours.port, '/quick', 20, 4)
    await load(py.port, '/quick', 20, 1)
    const oursPids = withChildren(ours.child.pid as number, /spawner\.lua/)
    const pyPids = [py.child.pid as number]
    const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuMs(pid), 0)
    for (const { concurrency, launches } of LEVELS) {
      await waitIdle(ours.port)
      const cpuA = cpuOf(oursPids)
      const appsA = oursPids.length > 1 ? childrenCpuMs(oursPids[1]) : Number.NaN
      const a = await load(ours.port, '/quick', launches, concurrency)
      const usedA = cpuOf(oursPids) - cpuA
      await waitIdle(ours.port)
      const appMs = oursPids.length > 1 ? (childrenCpuMs(oursPids[1]) - appsA) / launches : Number.NaN
      const cpuB = cpuOf(pyPids)
      const b = await load(py.port, '/quick', launches, concurrency)
      const usedB = cpuOf(pyPids) - cpuB
      const failures = a.failed || b.failed ? ` (failed: ours ${a.failed}, serve.py ${b.failed})` : ''
      rows.push({
        metric: `launch round trip median, c=${concurrency} (ms)`,
        ours: a.median,
        anchor: b.median,
        anchorName: 'serve.py',
        note: failures,
      })
      rows.push({
        metric: `launch round trip p99, c=${concurrency} (ms)`,
        ours: a.p99,
        anchor: b.p99,
        anchorName: 'serve.py',
        note: concurrency === 64 ? `goal < 100 ms: ${a.p99 < 100 ? 'met' : 'NOT met'}` : '',
      })
      rows.push({
        metric: `launches per second, c=${concurrency}`,
        ours: a.perSecond,
        anchor: b.perSecond,
        anchorName: 'serve.py',
        note: concurrency === 64 ? `goal ≥ 10×: ${a.perSecond >= 10 * b.perSecond ? 'met' : 'NOT met'}` : '',
      })
      rows.push({
        metric: `gateway CPU per launch, c=${concurrency} (ms)`,
        ours: usedA / launches,
        anchor: usedB / launches,
        anchorName: 'serve.py',
        note:
          oursPids.length > 1
            ? `ours includes its process spawner; the app itself used ${appMs.toFixed(2)} ms per launch`
            : 'no process spawner ran',
      })
    }
    await waitIdle(ours.port)
    const floor = await bareSpawn(quick, 512, 64)
    const spawnerFloor = await bareSpawn(quick, 512, 64, true)
    const oursAt64 = rows.find((r) => r.metric === 'launches per second, c=64')?.ours ?? Number.NaN
    rows.push({
      metric: 'launches per second, c=64, vs the spawn floor',
      ours: oursAt64,
      anchor: floor,
      anchorName: 'a fresh bare node process spawning the same app, no HTTP',
    })
    rows.push({
      metric: 'launches per second, c=64, vs the spawner floor',
      ours: oursAt64,
      anchor: spawnerFloor,
      anchorName: "a fresh bare node process starting the same app through the gateway's spawner, no HTTP",
    })

    await ours.stop()
    await py.stop()

    // The same gateway code with and without its process spawner, each in a bare node process
    // (startGateway from the build, no CLI), alternately, so the change is measured in this run.
    const variants: Record<string, { perSecond: number[]; p99: number[]; cpu: number[] }> = {
      spawner: { perSecond: [], p99: [], cpu: [] },
      direct: { perSecond: [], p99: [], cpu: [] },
    }
    for (let round = 0; round < 2; round++) {
      for (const variant of ['spawner', 'direct'] as const) {
        const gw = await startServer(
          variant,
          [process.execPath, '-e', GATEWAY_SCRIPT, JSON.stringify([GATEWAY, root, variant === 'spawner'])],
          {},
          root,
        )
        servers.push(gw)
        const pids = withChildren(gw.child.pid as number, /spawner\.lua/)
        await load(gw.port, '/quick', 20, 4)
        const before = pids.reduce((sum, pid) => sum + cpuMs(pid), 0)
        const r = await load(gw.port, '/quick', 512, 64)
        variants[variant].cpu.push((pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - before) / 512)
        variants[variant].perSecond.push(r.perSecond)
        variants[variant].p99.push(r.p99)
        await gw.stop()
      }
    }
    const same =
      'the same gateway spawning directly (bare startGateway, spawner off; median of 2 alternating runs)'
    rows.push({
      metric: 'spawner on: launches per second, c=64',
      ours: median(variants.spawner.perSecond),
      anchor: median(variants.direct.perSecond),
      anchorName: same,
    })
    rows.push({
      metric: 'spawner on: launch round trip p99, c=64 (ms)',
      ours: median(variants.spawner.p99),
      anchor: median(variants.direct.p99),
      anchorName: same,
    })
    rows.push({
      metric: 'spawner on: gateway CPU per launch, c=64 (ms)',
      ours: median(variants.spawner.cpu),
      anchor: median(variants.direct.cpu),
      anchorName: same,
      note: 'spawner on: includes the spawner',
    })

    // Memory: fresh gateways, idle, then while tracking 200 running (idle) instances.
    const ours2 = await startServer('ours', [...ourArgv, '--max-instances', '0', '--grace', '1000'], {}, root)
    servers.push(ours2)
    const py2 = await startServer('serve.py', pyArgv, { APPS_ROOT: root, PORT: '0' }, root)
    servers.push(py2)
    await new Promise((r) => setTimeout(r, 300))
    const oursIdle = rssMiB(ours2.child.pid as number)
    const pyIdle = rssMiB(py2.child.pid as number)
    const a = await load(ours2.port, '/idle', RUNNING, 16)
    const b = await load(py2.port, '/idle', RUNNING, 1)
    await new Promise((r) => setTimeout(r, 500))
    rows.push({ metric: 'gateway RSS idle (MiB)', ours: oursIdle, anchor: pyIdle, anchorName: 'serve.py' })
    // Ours: the gateway process; its process spawner is listed apart in the note.
    const spawnerPid = withChildren(ours2.child.pid as number, /spawner\.lua/)[1]
    const spawnerNote = spawnerPid ? `; plus ${rssMiB(spawnerPid).toFixed(1)} MiB in its process spawner` : ''
    rows.push({
      metric: `gateway RSS with ${RUNNING} running instances (MiB)`,
      ours: rssMiB(ours2.child.pid as number),
      anchor: rssMiB(py2.child.pid as number),
      anchorName: 'serve.py',
      note:
        (a.failed || b.failed ? `failed launches: ours ${a.failed}, serve.py ${b.failed}` : '') +
        spawnerNote.replace(/^; /, a.failed || b.failed ? '; ' : ''),
    })
  } finally {
    for (const s of servers) await s.stop()
    removeDir(root)
  }
  printTable('assist serve: launch round trip and memory (vs the old Python gateway)', rows)
}
