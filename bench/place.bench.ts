/**
 * The development place under load: 50 connected agents (real UDP ENet), each owning 20 entities
 * that it changes 10 times a second (10 000 change_components/s in all). Measured: the place
 * process's CPU share over the window (process.cpuUsage in the place process), the median delta
 * latency (change sent → seen in another agent's applied state, same clock: all agents run in
 * this process) and the place's memory per agent. There is no anchor to compare with (no real
 * place binary here), so the table reports our numbers only. Also reported, to tell why changes
 * queue: datagrams in and out, ENet retransmissions on both sides (and how many were needless),
 * UDP datagrams the kernel dropped for a full receive buffer, and each process's event-loop delay.
 * PLACE_HZ=10 runs one load level only.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { loadavg } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { AlloClient } from '../src/core/place/client.js'
import { median, printTable, quantile } from './lib.js'

const SERVER = fileURLToPath(new URL('./fixtures/place-server.ts', import.meta.url))
const AGENTS = 50
const ENTITIES = 20
const OBSERVERS = 5
const WARMUP_MS = 2000
const WINDOW_MS = 8000

interface Stats {
  cpu: { user: number; system: number }
  rss: number
  heapUsed: number
  agents: number
  entities: number
  revision: number
  t: number
  net?: unknown
}

function startServer(): Promise<{ child: ChildProcess; port: number; stats(gc?: boolean): Promise<Stats> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...(process.env.PLACE_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/placeprof'] : []),
        '--expose-gc',
        '--import',
        'tsx',
        SERVER,
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    )
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    const waiting: Array<(s: Stats) => void> = []
    const timer = setTimeout(() => reject(new Error('the bench place did not start')), 30_000)
    rl.on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line)
      if (m) {
        clearTimeout(timer)
        resolve({
          child,
          port: Number(m[1]),
          stats: (gc = false) =>
            new Promise((r) => {
              waiting.push(r)
              child.stdin?.write(gc ? 'gc\n' : 'stats\n')
            }),
        })
      } else if (line.startsWith('{')) waiting.shift()?.(JSON.parse(line) as Stats)
    })
  })
}

/**
 * Datagrams the kernel dropped because a socket's receive buffer was full, summed over the UDP
 * sockets of process `pid` (the `drops` column of /proc/net/udp; Linux only, 0 elsewhere).
 */
function kernelDrops(pid: number | 'self'): number {
  try {
    const inodes = new Set<string>()
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m) inodes.add(m[1])
      } catch {
        // the fd closed meanwhile
      }
    }
    let drops = 0
    for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length >= 13 && inodes.has(f[9])) drops += Number(f[12])
    }
    return drops
  } catch {
    return 0
  }
}

const cpuMs = (a: Stats, b: Stats) => (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1000

export default async function placeBench(): Promise<void> {
  // The load the issue asks for, then a lighter one for context (same agents and entities).
  for (const hz of process.env.PLACE_HZ ? [Number(process.env.PLACE_HZ)] : [10, 1]) await scenario(hz)
}

async function scenario(HZ: number): Promise<void> {
  const server = await startServer()
  const base = await server.stats(true)
  const clients: AlloClient[] = []
  const owned = new Map<AlloClient, string[]>()
  const latencies: number[] = []
  let measuring = false
  let sent = 0
  let answered = 0
  let failed = 0
  try {
    for (let i = 0; i < AGENTS; i++) {
      const observer = i < OBSERVERS
      const c = await AlloClient.connect(
        { host: '127.0.0.1', port: server.port },
        { trackState: observer, requestTimeoutMs: 30_000, connectTimeoutMs: 10_000 },
      )
      await c.announce({ identity: { display_name: `agent ${i}` } })
      clients.push(c)
      if (observer) {
        const seen = new Map<string, number>()
        c.on('state', (st) => {
          const now = performance.now()
          for (const e of Object.values(st.entities)) {
            const b = e.components.bench as { t?: number; by?: number } | undefined
            if (!b || b.t === undefined || b.by === i || seen.get(e.id) === b.t) continue
            seen.set(e.id, b.t)
            if (measuring) latencies.push(now - b.t)
          }
        })
      }
    }
    await Promise.all(
      clients.map(async (c, i) => {
        const ids: string[] = []
        for (let k = 0; k < ENTITIES; k++)
          ids.push(await c.spawnEntity({ text: { string: `agent ${i} thing ${k}` } }))
        owned.set(c, ids)
      }),
    )
    const loaded = await server.stats(true)

    const timers = clients.map((c, i) =>
      setInterval(() => {
        for (const id of owned.get(c) ?? []) {
          const t = performance.now()
          const m = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, Math.sin(t / 1000), 1.2, -2, 1]
          sent++
          c.request('place', [
            'change_components',
            id,
            'add_or_change',
            { transform: { matrix: m }, bench: { t, by: i } },
            'remove',
            [],
          ])
            .then(() => {
              answered++
            })
            .catch(() => {
              failed++
            })
        }
      }, 1000 / HZ),
    )
    await new Promise((r) => setTimeout(r, WARMUP_MS))
    const agentNet = () => {
      let retransmits = 0
      let datagramsOut = 0
      for (const c of clients) {
        const st = (c as unknown as { host: { stats: { retransmits: number; datagramsOut: number } } }).host
          .stats
        retransmits += st.retransmits
        datagramsOut += st.datagramsOut
      }
      return { retransmits, datagramsOut }
    }
    const before = await server.stats()
    const agentsBefore = agentNet()
    const dropsBefore = { place: kernelDrops(server.child.pid!), agents: kernelDrops('self') }
    const cpuBefore = process.cpuUsage()
    const answeredBefore = answered
    const sentBefore = sent
    measuring = true
    const lag = monitorEventLoopDelay({ resolution: 5 })
    lag.enable()
    await new Promise((r) => setTimeout(r, WINDOW_MS))
    lag.disable()
    measuring = false
    const after = await server.stats()
    const agentsAfter = agentNet()
    const drops = {
      place: kernelDrops(server.child.pid!) - dropsBefore.place,
      agents: kernelDrops('self') - dropsBefore.agents,
    }
    const wall = after.t - before.t
    const placeLag = (after as Stats & { lag?: { p99: number; max: number } }).lag
    const rtts = (after as Stats & { rttMs?: number[] }).rttMs ?? []
    const net = (x: Stats) =>
      x.net as {
        datagramsIn: number
        datagramsOut: number
        retransmits: number
        spuriousRetransmits: number
        bytesOut: number
      }
    // (older transports have no such counter)
    const spurious =
      net(after).spuriousRetransmits === undefined
        ? 'n/a'
        : net(after).spuriousRetransmits - net(before).spuriousRetransmits
    const throttles = (after as Stats & { throttle?: number[] }).throttle ?? []
    const sentDgrams = net(after).datagramsOut - net(before).datagramsOut
    const retrans = net(after).retransmits - net(before).retransmits
    const mbps = (net(after).bytesOut - net(before).bytesOut) / wall / 1000
    const loadCpu = process.cpuUsage(cpuBefore)
    for (const t of timers) clearInterval(t)
    const placeCpu = (100 * cpuMs(before, after)) / wall
    const genCpu = (100 * (loadCpu.user + loadCpu.system)) / 1000 / wall
    const perAgentHeap = (loaded.heapUsed - base.heapUsed) / AGENTS / 1024
    const perAgentRss = (loaded.rss - base.rss) / AGENTS / 1024
    const rate = ((answered - answeredBefore) * 1000) / wall
    const offered = ((sent - sentBefore) * 1000) / wall
    const none = { anchor: 0, anchorName: '— (no anchor)' }
    printTable(
      `Development place: ${AGENTS} agents × ${ENTITIES} entities changing ${HZ}×/s (window ${WINDOW_MS / 1000} s, machine load average ${loadavg()[0].toFixed(1)})`,
      [
        {
          metric: 'place CPU share (% of one core)',
          ours: placeCpu,
          ...none,
          note: `revisions in window: ${after.revision - before.revision}`,
        },
        {
          metric: 'median delta latency (ms)',
          ours: median(latencies),
          ...none,
          note: `p90 ${quantile(latencies, 0.9).toFixed(0)} ms over ${latencies.length} changes seen by ${OBSERVERS} observers`,
        },
        {
          metric: 'changes answered per second',
          ours: rate,
          ...none,
          note: `offered ${offered.toFixed(0)}/s; ${failed} failed`,
        },
        {
          metric: 'place heap per agent (KiB)',
          ours: perAgentHeap,
          ...none,
          note: `RSS per agent ${perAgentRss.toFixed(0)} KiB (after GC, before the changes start)`,
        },
        {
          metric: 'place output (MB/s)',
          ours: mbps,
          ...none,
          note: `${sentDgrams} datagrams out, ${retrans} reliable retransmissions (${spurious} of them needless: the first copy's ACK came later); median ENet RTT estimate ${median(rtts).toFixed(0)} ms, packet throttle median ${throttles.length ? median(throttles) : 'n/a'}/32, lowest ${throttles.length ? Math.min(...throttles) : 'n/a'}/32; kernel receive-buffer drops: ${drops.place} at the place, ${drops.agents} at the agents`,
        },
        {
          metric: 'place input (datagrams/s)',
          ours: ((net(after).datagramsIn - net(before).datagramsIn) * 1000) / wall,
          ...none,
          note: `the agents sent ${agentsAfter.datagramsOut - agentsBefore.datagramsOut} datagrams, ${agentsAfter.retransmits - agentsBefore.retransmits} of their reliable commands again`,
        },
        {
          metric: 'place event-loop delay p99 (ms)',
          ours: placeLag?.p99 ?? Number.NaN,
          ...none,
          note: `max ${placeLag?.max.toFixed(0)} ms; the agents' process: p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms (a late ACK is a retransmission)`,
        },
        {
          metric: 'load generator CPU share (%)',
          ours: genCpu,
          ...none,
          note: 'the 50 agents, all in the bench process (same 2 cores)',
        },
      ],
    )
  } finally {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})))
    server.child.stdin?.end()
    await new Promise((r) => {
      const kill = setTimeout(() => server.child.kill('SIGKILL'), 5000)
      server.child.once('exit', () => {
        clearTimeout(kill)
        r(undefined)
      })
    })
  }
}
