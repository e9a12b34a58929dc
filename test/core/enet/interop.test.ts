/**
 * Interoperability with the REAL C ENet (Debian libenet-dev): test/fixtures/enet/peer.c is compiled with
 * `cc … -lenet` and driven over stdin/stdout. Real UDP on 127.0.0.1, ephemeral ports.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { EnetHost, type EnetPeer } from '../../../src/core/enet/index.js'
import { CPeer, compileCPeer, fill, fnv1a, nextEvent } from '../../helpers/enet.js'

/** channel, length, seed, reliable: every channel, both kinds, single-datagram edge, fragmented ≥ 100 KB */
type Msg = [ch: number, len: number, seed: number, rel: boolean]
const TO_C: Msg[] = [
  ...[0, 1, 2, 3, 4, 5].flatMap((ch): Msg[] => [
    [ch, 200 + ch, 100 + ch, true],
    [ch, 300 + ch, 200 + ch, false],
    [ch, 10 + ch, 300 + ch, true],
  ]),
  [2, 120_000, 1, true],
  [4, 100_000, 2, true],
  [3, 50_000, 3, false], // > MTU: goes as reliable fragments even though sent unreliably
  [1, 1372, 4, false], // largest unfragmented payload at MTU 1400
  [1, 1373, 5, false], // smallest fragmented one
  [5, 0, 6, true], // empty packet
]
const FROM_C: Msg[] = [
  [5, 110_000, 11, true],
  [0, 64, 12, false],
  [1, 1000, 13, true],
  [3, 2000, 14, false],
  [2, 500, 15, false],
  [4, 30_000, 16, true],
  [1, 7, 17, true],
]
const fragmented = (len: number) => len > 1372

let bin: string
let cleanup: () => void
before(() => {
  ;({ bin, cleanup } = compileCPeer())
})
after(() => cleanup?.())

/** Collects `n` receive events from `peer`. */
function collect(host: EnetHost, peer: EnetPeer, n: number) {
  const got: { ch: number; data: Buffer; rel: boolean }[] = []
  return new Promise<typeof got>((resolve, reject) => {
    const timer = setTimeout(() => {
      host.off('receive', on)
      reject(new Error(`received ${got.length} of ${n} packets`))
    }, 30_000)
    const on = (p: EnetPeer, ch: number, data: Buffer, rel: boolean) => {
      if (p !== peer) return
      got.push({ ch, data, rel })
      if (got.length === n) {
        clearTimeout(timer)
        host.off('receive', on)
        resolve(got)
      }
    }
    host.on('receive', on)
  })
}

/** We send TO_C; the C peer reports each packet (hash) and echoes it; both sides must match byte for byte. */
async function oursToC(host: EnetHost, peer: EnetPeer, c: CPeer) {
  const from = c.lines.length
  const echoes = collect(host, peer, TO_C.length)
  for (const [ch, len, seed, rel] of TO_C) peer.send(ch, fill(len, seed), { reliable: rel })
  const got = await echoes
  // The echoes come back over UDP, the C peer's report lines over its stdout pipe: an echo can arrive
  // before the line that reports it has been read. Wait for each report line, then count them.
  const expected = TO_C.map(
    ([ch, len, seed, rel]) =>
      `RECV ch=${ch} len=${len} rel=${rel || fragmented(len) ? 1 : 0} hash=${fnv1a(fill(len, seed))}`,
  )
  for (const line of expected) await c.waitFor(new RegExp(`^${line}$`), 30_000, from)
  const recv = c.lines.slice(from).filter((l) => l.startsWith('RECV '))
  assert.equal(recv.length, TO_C.length, 'the C peer got every packet once')
  for (const [ch, len, seed, rel] of TO_C) {
    const data = fill(len, seed)
    const line = `RECV ch=${ch} len=${len} rel=${rel || fragmented(len) ? 1 : 0} hash=${fnv1a(data)}`
    assert.ok(recv.includes(line), `C peer reports ${line}`)
    const echo = got.find((g) => g.ch === ch && g.data.equals(data))
    assert.ok(echo, `echo of ${len} bytes on channel ${ch} came back intact`)
    assert.equal(echo.rel, rel || fragmented(len))
  }
  // reliable packets arrive in send order per channel
  for (let ch = 0; ch < 6; ch++) {
    const sent = TO_C.filter((m) => m[0] === ch && (m[3] || fragmented(m[1]))).map((m) =>
      fnv1a(fill(m[1], m[2])),
    )
    const seen = recv
      .filter((l) => l.startsWith(`RECV ch=${ch} `) && l.includes('rel=1'))
      .map((l) => l.slice(-8))
    assert.deepEqual(seen, sent, `reliable order on channel ${ch}`)
  }
}

/** The C peer sends FROM_C; we must receive each one intact with the right channel and reliability. */
async function cToOurs(host: EnetHost, peer: EnetPeer, c: CPeer) {
  const received = collect(host, peer, FROM_C.length)
  for (const [ch, len, seed, rel] of FROM_C) c.command(`SEND ${ch} ${len} ${seed} ${rel ? 1 : 0}`)
  const got = await received
  for (const [ch, len, seed, rel] of FROM_C) {
    const data = fill(len, seed)
    const g = got.find((x) => x.data.equals(data))
    assert.ok(g, `got C's ${len}-byte packet on channel ${ch} intact`)
    assert.equal(g.ch, ch)
    assert.equal(g.rel, rel || fragmented(len))
  }
  // whatever the C side echoed back of ours in the meantime is ignored: its echo is on, ours is off
}

describe('ENet interop: our host ↔ C client (libenet)', () => {
  test('handshake, data both ways on 6 channels, graceful disconnects, vanished client', async () => {
    const server = await EnetHost.listen({ host: '127.0.0.1', port: 0, channelLimit: 6, timeoutMs: 2000 })
    const clients: CPeer[] = []
    try {
      const port = String(server.address.port)
      const c1 = new CPeer(bin, ['client', '127.0.0.1', port, '2000'])
      clients.push(c1)
      const [peer, data] = await nextEvent(server, 'connect')
      assert.equal(data, 1234, 'CONNECT data from the C client')
      assert.equal(peer.state, 'connected')
      await c1.waitFor(/^CONNECTED/)
      await oursToC(server, peer, c1)
      c1.command('ECHO 0')
      await cToOurs(server, peer, c1)
      assert.ok(peer.rttMs < 500, 'RTT estimate moved from its initial 500 ms')

      // C disconnects gracefully: we see its data
      const gone = nextEvent(server, 'disconnect')
      c1.command('DISCONNECT 77')
      const [gonePeer, reason, goneData] = await gone
      assert.equal(gonePeer, peer)
      assert.deepEqual([reason, goneData], ['disconnect', 77])
      assert.equal(peer.state, 'disconnected')
      await c1.waitFor(/^DISCONNECTED/)

      // we disconnect a second C client gracefully: it sees our data, we get our event once it acked
      const c2 = new CPeer(bin, ['client', '127.0.0.1', port, '2000'])
      clients.push(c2)
      const [peer2] = await nextEvent(server, 'connect')
      await c2.waitFor(/^CONNECTED/)
      peer2.send(1, fill(5000, 9)) // queued data goes out before the DISCONNECT
      const gone2 = nextEvent(server, 'disconnect')
      peer2.disconnect(5)
      assert.equal(peer2.state, 'disconnecting')
      assert.deepEqual((await gone2).slice(1), ['disconnect', 0])
      await c2.waitFor(/^DISCONNECTED data=5$/)
      assert.ok(c2.lines.includes(`RECV ch=1 len=5000 rel=1 hash=${fnv1a(fill(5000, 9))}`))

      // a third C client vanishes (kill -9): we time it out
      const c3 = new CPeer(bin, ['client', '127.0.0.1', port, '2000'])
      clients.push(c3)
      const [peer3] = await nextEvent(server, 'connect')
      await c3.waitFor(/^CONNECTED/)
      const gone3 = nextEvent(server, 'disconnect')
      await c3.kill9()
      const [p3, reason3] = await gone3
      assert.equal(p3, peer3)
      assert.equal(reason3, 'timeout')
      assert.equal(server.stats.internalErrors, 0)
    } finally {
      await Promise.all(clients.map((c) => c.stop()))
      await server.close()
    }
  })
})

describe('ENet interop: our client ↔ C host (libenet)', () => {
  test('handshake, data both ways on 6 channels, disconnects, vanished host', async () => {
    const c = new CPeer(bin, ['server', '2000'])
    const client = await EnetHost.client({ channelLimit: 6, timeoutMs: 2000 })
    try {
      const port = Number((await c.waitFor(/^LISTENING (\d+)$/))[1])
      const peer = client.connect('127.0.0.1', port, 6, 99)
      assert.equal(peer.state, 'connecting')
      const [connected] = await nextEvent(client, 'connect')
      assert.equal(connected, peer)
      await c.waitFor(/^CONNECTED data=99$/)
      await oursToC(client, peer, c)
      c.command('ECHO 0')
      await cToOurs(client, peer, c)

      // the C host disconnects us gracefully
      const gone = nextEvent(client, 'disconnect')
      c.command('DISCONNECT 9')
      assert.deepEqual((await gone).slice(1), ['disconnect', 9])

      // reconnect, then a forced disconnect from our side: event at once, C sees our data
      const from = c.lines.length
      const peer2 = client.connect('127.0.0.1', port, 6, 100)
      await nextEvent(client, 'connect')
      await c.waitFor(/^CONNECTED data=100$/, 30_000, from)
      let fired: unknown[] | undefined
      client.once('disconnect', (...args) => {
        fired = args
      })
      peer2.disconnectNow(3)
      assert.deepEqual(fired, [peer2, 'disconnect', 0], "'disconnect' fired synchronously")
      await c.waitFor(/^DISCONNECTED data=3$/, 30_000, from)

      // reconnect, then the C host vanishes: we time out
      const from3 = c.lines.length
      client.connect('127.0.0.1', port, 6, 101)
      await nextEvent(client, 'connect')
      await c.waitFor(/^CONNECTED data=101$/, 30_000, from3)
      const gone3 = nextEvent(client, 'disconnect')
      await c.kill9()
      assert.equal((await gone3)[1], 'timeout')
      assert.equal(client.stats.internalErrors, 0)
    } finally {
      await c.stop()
      await client.close()
    }
  })

  test('the C host times out our client when our process vanishes (kill -9)', async () => {
    const c = new CPeer(bin, ['server', '2000'])
    const script = fileURLToPath(new URL('../../fixtures/enet/ours-client.ts', import.meta.url))
    let ours: ReturnType<typeof spawn> | undefined
    try {
      const port = (await c.waitFor(/^LISTENING (\d+)$/))[1]
      ours = spawn(process.execPath, ['--import', 'tsx', script, port], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      await c.waitFor(/^CONNECTED data=5$/)
      await c.waitFor(/^RECV ch=1 len=36 rel=1 /)
      ours.kill('SIGKILL')
      await c.waitFor(/^DISCONNECTED data=0$/)
    } finally {
      ours?.kill('SIGKILL')
      await c.stop()
    }
  })
})

describe('ENet interop: big reliable payloads (≥ 2 MB) with the C library', () => {
  const BIG = 2_500_000
  /** We send BIG bytes on channel 3 (as allonet's assets); the C peer hashes them and echoes them back. */
  async function bigRoundTrip(host: EnetHost, peer: EnetPeer, c: CPeer, seed: number) {
    const data = fill(BIG, seed)
    const from = c.lines.length
    const echo = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo: ${JSON.stringify(host.stats)}`)), 120_000)
      host.on('receive', (p, ch, d) => {
        if (p === peer && ch === 3 && d.length === BIG) {
          clearTimeout(timer)
          resolve(d)
        }
      })
    })
    const before = { ...host.stats }
    peer.send(3, data)
    await c.waitFor(new RegExp(`^RECV ch=3 len=${BIG} rel=1 hash=${fnv1a(data)}$`), 120_000, from)
    assert.ok((await echo).equals(data), 'the echo came back byte for byte')
    assert.equal(host.stats.internalErrors, 0)
    return {
      datagramsOut: host.stats.datagramsOut - before.datagramsOut,
      retransmits: host.stats.retransmits - before.retransmits,
      needless: host.stats.spuriousRetransmits - before.spuriousRetransmits,
    }
  }

  test('our host → C client → back, and our client → C host → back', async (t) => {
    const server = await EnetHost.listen({ host: '127.0.0.1', port: 0, channelLimit: 6, timeoutMs: 30_000 })
    const c1 = new CPeer(bin, ['client', '127.0.0.1', String(server.address.port), '30000'])
    const c2 = new CPeer(bin, ['server', '30000'])
    const client = await EnetHost.client({ channelLimit: 6, timeoutMs: 30_000 })
    try {
      const [peer] = await nextEvent(server, 'connect')
      await c1.waitFor(/^CONNECTED/)
      const a = await bigRoundTrip(server, peer, c1, 31)
      // retransmissions depend on scheduling (loopback loses nothing, but a busy machine delays ACKs):
      // reported, not asserted
      t.diagnostic(
        `our host → C: ${a.datagramsOut} datagrams, ${a.retransmits} retransmitted (${a.needless} needlessly)`,
      )

      const port = Number((await c2.waitFor(/^LISTENING (\d+)$/))[1])
      const p2 = client.connect('127.0.0.1', port, 6, 7)
      await nextEvent(client, 'connect')
      await c2.waitFor(/^CONNECTED data=7$/)
      const b = await bigRoundTrip(client, p2, c2, 32)
      t.diagnostic(
        `our client → C: ${b.datagramsOut} datagrams, ${b.retransmits} retransmitted (${b.needless} needlessly)`,
      )
      assert.equal(peer.state, 'connected')
      assert.equal(p2.state, 'connected')
    } finally {
      await Promise.all([c1.stop(), c2.stop()])
      await client.close()
      await server.close()
    }
  })
})
