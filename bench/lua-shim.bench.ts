/**
 * Lua apps through assist-boot.lua (issues 18, 19), on the real-shaped stand-in alloui + a C
 * liballonet built here on the real C ENet library (test/helpers/alloui-realshape.ts), connected
 * over real UDP to our place, in the same run:
 * - idle CPU of one instance: ours vs the same app started the old way (`luajit allo/boot.lua …`);
 * - how many idle instances `assist serve` holds with launch p99 (POST → the app announced in the
 *   place) under 1 s, with the poll fix vs --no-poll-fix (bounded: stops at 1 s or at a cap);
 * - poke round trip (a visor's request → the app's answer through the place), with and without the fix;
 * - a save: from the stop of the old instance to the place holding only the new instance's
 *   entities, ours (the app leaves) vs kill and restart (the place waits for the peer timeout,
 *   5 s as `assist run`'s built-in place, or the launch token's drop).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { type Instance, startInstance } from '../src/core/launcher.js'
import { AlloClient } from '../src/core/place/client.js'
import { Place } from '../src/core/place/place.js'
import { loadProject } from '../src/core/project.js'
import { launchSpecFor } from '../src/core/runtimes/index.js'
import { ASSIST_BOOT } from '../src/core/runtimes/lua.js'
import { makeRealshapeApp } from '../test/helpers/alloui-realshape.js'
import { MemoryLog } from '../test/helpers/place.js'
import { median, printTable, quantile } from './lib.js'

const CLI = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const IDLE_SECONDS = 5
const SERVE_STEP = 4
const SERVE_CAP = 40
const POKES = 60

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}
const TICK_MS = 10 // CLK_TCK 100 on Linux

async function startPlace(timeoutMs = 20_000): Promise<Place> {
  return Place.start({ host: '127.0.0.1', port: 0, name: 'Bench place', log: new MemoryLog(), timeoutMs })
}

async function startApp(place: Place, root: string, how: 'ours' | 'no-fix' | 'old'): Promise<Instance> {
  const spec = launchSpecFor(loadProject(root), place.url, { pollFix: how !== 'no-fix' })
  if (how === 'old') spec.argv = spec.argv.filter((a) => a !== ASSIST_BOOT)
  return startInstance({ spec, tag: how, baseEnv: { PATH: process.env.PATH }, onLine: () => {} })
}

function untilAnnounced(place: Place, count: number, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () =>
      place.agentList().filter((a) => a.announced && a.displayName === 'realshape').length >= count
    if (check()) return resolve()
    const timer = setTimeout(() => reject(new Error(`not ${count} announced`)), timeoutMs)
    const on = () => {
      if (!check()) return
      clearTimeout(timer)
      place.off('agent', on)
      resolve()
    }
    place.on('agent', on)
  })
}

async function idleCpu(): Promise<{ ours: number; old: number }> {
  const place = await startPlace()
  const root = makeRealshapeApp()
  const ours = await startApp(place, root, 'ours')
  const old = await startApp(place, root, 'old')
  await untilAnnounced(place, 2)
  await sleep(1000)
  const t0 = [cpuTicks(ours.pid), cpuTicks(old.pid)]
  await sleep(IDLE_SECONDS * 1000)
  const used = [cpuTicks(ours.pid) - t0[0], cpuTicks(old.pid) - t0[1]]
  await Promise.all([ours.stop(3000), old.stop(3000, 0)])
  await place.close()
  // % of one core
  return {
    ours: (used[0] * TICK_MS * 100) / (IDLE_SECONDS * 1000),
    old: (used[1] * TICK_MS * 100) / (IDLE_SECONDS * 1000),
  }
}

function post(port: number, placeUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const body = '{}'
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': 2,
          'x-alloverse-server': placeUrl,
          'x-alloverse-launched-by': '{"display_name":"bench"}',
        },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode === 200))
      },
    )
    req.on('error', () => resolve(false))
    req.end(body)
  })
}

async function startServe(root: string, extra: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--port', '0', '--host', '127.0.0.1', '--max-instances', String(SERVE_CAP + 8), ...extra],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  )
  let out = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000)
    child.stdout?.on('data', (d) => {
      out += d
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    child.stderr?.on('data', (d) => {
      out += d
    })
  })
  return { child, port }
}

/** Launches SERVE_STEP at a time until a step's launch p99 (POST → announced) reaches 1 s or the cap. */
/** CPU (% of a core) of every process whose command line names `root`, over `seconds`. */
async function cpuOfAppProcesses(root: string, seconds: number): Promise<number> {
  const pids = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(root)
      } catch {
        return false
      }
    })
  const ticks = (pid: number) => {
    try {
      return cpuTicks(pid)
    } catch {
      return 0
    }
  }
  const before = pids.map(ticks)
  await sleep(seconds * 1000)
  const used = pids.reduce((sum, pid, i) => sum + Math.max(0, ticks(pid) - before[i]), 0)
  return (used * TICK_MS * 100) / (seconds * 1000)
}

async function serveCapacity(fix: boolean): Promise<{ held: number; p99: number[]; cpu: number }> {
  const place = await startPlace()
  const root = makeRealshapeApp()
  const { child, port } = await startServe(root, fix ? [] : ['--no-poll-fix'])
  let held = 0
  let cpu = 0
  const p99s: number[] = []
  try {
    while (held < SERVE_CAP) {
      const before = place.agentList().filter((a) => a.announced).length
      const t0 = performance.now()
      const times: number[] = []
      const seen = new Set<string>()
      const on = () => {
        for (const a of place.agentList())
          if (a.announced && !seen.has(a.agentId)) {
            seen.add(a.agentId)
            if (seen.size > before) times.push(performance.now() - t0)
          }
      }
      for (const a of place.agentList()) if (a.announced) seen.add(a.agentId)
      place.on('agent', on)
      const ok = await Promise.all(Array.from({ length: SERVE_STEP }, () => post(port, place.url)))
      if (ok.some((x) => !x)) break
      const deadline = performance.now() + 10_000
      while (times.length < SERVE_STEP && performance.now() < deadline) await sleep(20)
      place.off('agent', on)
      const p99 = times.length < SERVE_STEP ? Number.POSITIVE_INFINITY : quantile(times, 0.99)
      p99s.push(p99)
      if (p99 >= 1000) break
      held += SERVE_STEP
      await sleep(1000) // let them settle into idling
    }
    cpu = await cpuOfAppProcesses(root, 3)
  } finally {
    try {
      process.kill(-(child.pid as number), 'SIGTERM')
    } catch {}
    await new Promise((r) => child.once('exit', r))
    await place.close()
  }
  return { held, p99: p99s, cpu }
}

async function pokeLatency(how: 'ours' | 'no-fix'): Promise<number[]> {
  const place = await startPlace()
  const root = makeRealshapeApp()
  const app = await startApp(place, root, how)
  await untilAnnounced(place, 1)
  const avatar = place.agentList().find((a) => a.displayName === 'realshape')?.avatarId as string
  const visor = await AlloClient.connect({ host: '127.0.0.1', port: place.port })
  await visor.announce({ identity: { display_name: 'visor' } })
  const times: number[] = []
  for (let i = 0; i < POKES; i++) {
    const t = performance.now()
    await visor.request(avatar, ['poke', true])
    times.push(performance.now() - t)
    await sleep(20)
  }
  await visor.disconnect()
  await app.stop(3000)
  await place.close()
  return times
}

/** Stop the old instance, start a new one; ms until the place holds only the new one's entities. */
async function saveToOnlyNew(how: 'ours' | 'old'): Promise<number> {
  const place = await startPlace(5000) // `assist run`'s built-in place forgets a silent peer after 5 s
  const root = makeRealshapeApp()
  const first = await startApp(place, root, how)
  await untilAnnounced(place, 1)
  const oldId = place.agentList().find((a) => a.displayName === 'realshape')?.agentId
  const t0 = performance.now()
  await (how === 'ours' ? first.stop(3000) : first.stop(3000, 0)) // old: SIGTERM at once
  const second = await startApp(place, root, how)
  const onlyNew = () => {
    const agents = place.agentList().filter((a) => a.displayName === 'realshape')
    return agents.length === 1 && agents[0].announced && agents[0].agentId !== oldId
  }
  while (!onlyNew() && performance.now() - t0 < 60_000) await sleep(5)
  const ms = performance.now() - t0
  await second.stop(3000, how === 'ours' ? undefined : 0)
  await place.close()
  return ms
}

export default async function bench(): Promise<void> {
  const cpu = await idleCpu()
  const pokeOurs = await pokeLatency('ours')
  const pokeNoFix = await pokeLatency('no-fix')
  const saveOurs: number[] = []
  const saveOld: number[] = []
  for (let i = 0; i < 3; i++) {
    saveOurs.push(await saveToOnlyNew('ours'))
    saveOld.push(await saveToOnlyNew('old'))
  }
  const withFix = await serveCapacity(true)
  const noFix = await serveCapacity(false)
  const fmtP99 = (p: number[]) => p.map((x) => (Number.isFinite(x) ? x.toFixed(0) : '∞')).join(', ')
  printTable('Lua apps through assist-boot.lua: idle CPU, serve capacity, poke, save', [
    {
      metric: `idle CPU of one instance over ${IDLE_SECONDS} s (% of a core)`,
      ours: cpu.ours,
      anchor: cpu.old,
      anchorName: 'luajit allo/boot.lua (old way)',
      note: 'same app, same place, at the same time',
    },
    {
      metric: 'poke round trip, median (ms)',
      ours: median(pokeOurs),
      anchor: median(pokeNoFix),
      anchorName: '--no-poll-fix',
      note: 'goal: not worse',
    },
    {
      metric: 'poke round trip, p90 (ms)',
      ours: quantile(pokeOurs, 0.9),
      anchor: quantile(pokeNoFix, 0.9),
      anchorName: '--no-poll-fix',
    },
    {
      metric: 'save → place holds only the new instance, median of 3 (ms)',
      ours: median(saveOurs),
      anchor: median(saveOld),
      anchorName: 'kill and restart (peer timeout 5 s)',
      note: `ours ${saveOurs.map((x) => x.toFixed(0)).join('/')}; old ${saveOld.map((x) => x.toFixed(0)).join('/')}`,
    },
    {
      metric: `idle instances serve holds with launch p99 < 1 s (cap ${SERVE_CAP}, steps of ${SERVE_STEP})`,
      ours: withFix.held,
      anchor: noFix.held,
      anchorName: 'serve --no-poll-fix',
      note: `step p99 ms: ours ${fmtP99(withFix.p99)}; --no-poll-fix ${fmtP99(noFix.p99)}`,
    },
    {
      metric: 'CPU of all those instances, over 3 s (% of a core)',
      ours: withFix.cpu,
      anchor: noFix.cpu,
      anchorName: 'serve --no-poll-fix',
      note: `${withFix.held} vs ${noFix.held} instances`,
    },
  ])
}
