/**
 * ENet transport: round-trip latency and throughput of reliable 1 KB messages, ours↔ours (our echo server
 * in a child process, our client here) against C↔C (test/fixtures/enet/peer.c on Debian's libenet, both
 * ends real C ENet) as the anchor, in the same run. Loopback, 127.0.0.1.
 */
import { fileURLToPath } from 'node:url'
import { EnetHost, type EnetPeer } from '../src/core/enet/index.js'
import { CPeer, compileCPeer, fill } from '../test/helpers/enet.js'
import { median, printTable, quantile } from './lib.js'

const ROUND_TRIPS = 500
const BURST = 3000
const SIZE = 1024

async function oursToOurs(): Promise<{ lat: number[]; tputMs: number }> {
  const script = fileURLToPath(new URL('./enet-echo-server.ts', import.meta.url))
  const server = new CPeer(process.execPath, ['--import', 'tsx', script])
  const client = await EnetHost.client({ channelLimit: 6 })
  try {
    const port = Number((await server.waitFor(/^LISTENING (\d+)$/))[1])
    const peer = client.connect('127.0.0.1', port, 6)
    await new Promise((r) => client.once('connect', r))
    const nextReceive = () => new Promise<void>((r) => client.once('receive', () => r()))
    const send = (p: EnetPeer, i: number) => p.send(1, fill(SIZE, i))
    for (let i = 0; i < 50; i++) {
      const got = nextReceive()
      send(peer, i)
      await got
    }
    const lat: number[] = []
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const got = nextReceive()
      const t0 = process.hrtime.bigint()
      send(peer, i)
      await got
      lat.push(Number(process.hrtime.bigint() - t0) / 1000)
    }
    const payloads = Array.from({ length: BURST }, (_, i) => fill(SIZE, i))
    const burst = async () => {
      const t0 = process.hrtime.bigint()
      const all = new Promise<void>((resolve) => {
        let n = 0
        const on = () => {
          if (++n === BURST) {
            client.off('receive', on)
            resolve()
          }
        }
        client.on('receive', on)
      })
      for (const p of payloads) peer.send(1, p)
      await all
      return Number(process.hrtime.bigint() - t0) / 1e6
    }
    await burst() // warm-up (JIT)
    const times = [await burst(), await burst(), await burst()]
    return { lat, tputMs: median(times) }
  } finally {
    await client.close()
    await server.stop()
  }
}

async function cToC(bin: string): Promise<{ lat: number[]; tputMs: number }> {
  const server = new CPeer(bin, ['server', '0'])
  let client: CPeer | undefined
  try {
    const port = (await server.waitFor(/^LISTENING (\d+)$/))[1]
    client = new CPeer(bin, ['client', '127.0.0.1', port, '0'])
    await client.waitFor(/^CONNECTED/)
    client.command(`BENCH_LAT 50 ${SIZE}`)
    await client.waitFor(/^LAT/)
    const from = client.lines.length
    client.command(`BENCH_LAT ${ROUND_TRIPS} ${SIZE}`)
    const lat = (await client.waitFor(/^LAT (.*)$/, 60_000, from))[1].trim().split(' ').map(Number)
    const times: number[] = []
    for (let i = 0; i < 4; i++) {
      const at = client.lines.length
      client.command(`BENCH_TPUT ${BURST} ${SIZE}`)
      const [, us, got] = await client.waitFor(/^TPUT (\d+) (\d+)$/, 120_000, at)
      if (Number(got) !== BURST) throw new Error(`C client got ${got} of ${BURST} echoes`)
      if (i > 0) times.push(Number(us) / 1000) // the first one is a warm-up, as for ours
    }
    return { lat, tputMs: median(times) }
  } finally {
    await client?.stop()
    await server.stop()
  }
}

export default async function bench(): Promise<void> {
  const { bin, cleanup } = compileCPeer()
  try {
    const c = await cToC(bin)
    const ours = await oursToOurs()
    const anchorName = 'C ENet ↔ C ENet (libenet 1.3.17)'
    const perSec = (ms: number) => BURST / (ms / 1000)
    printTable('ENet transport: reliable 1 KB messages over loopback (echo)', [
      {
        metric: `round trip, median (µs, ${ROUND_TRIPS} sequential)`,
        ours: median(ours.lat),
        anchor: median(c.lat),
        anchorName,
        note: 'ours: client in this process, echo server in a child Node process',
      },
      {
        metric: 'round trip, p95 (µs)',
        ours: quantile(ours.lat, 0.95),
        anchor: quantile(c.lat, 0.95),
        anchorName,
      },
      {
        metric: `throughput (echoed msgs/s, median of 3 bursts of ${BURST})`,
        ours: perSec(ours.tputMs),
        anchor: perSec(c.tputMs),
        anchorName,
        note: 'first burst of each side is a discarded warm-up; both sides keep ≤ 64 KiB of reliable data unacked',
      },
    ])
  } finally {
    cleanup()
  }
}
