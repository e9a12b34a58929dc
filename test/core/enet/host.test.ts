/**
 * EnetHost over real UDP on 127.0.0.1: ours ↔ ours under simulated packet loss (a lossy wrapper on the
 * socket send: `host.sendFilter`), and hostile datagrams from a hand-driven raw UDP client, which must be
 * dropped without crashing and without disturbing the connection they target or other peers.
 */
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { describe, test } from 'node:test'
import { EnetHost, type EnetPeer } from '../../../src/core/enet/index.js'
import {
  type Command,
  type DecodedDatagram,
  decodeDatagram,
  encodeCommand,
  encodeDatagram,
} from '../../../src/core/enet/protocol.js'
import { connectCommand, fill, nextEvent } from '../../helpers/enet.js'
import { seededRandom } from '../../helpers/rng.js'

describe('EnetHost ours ↔ ours', () => {
  test('plain exchange: connect data, rtt, echo on every channel, graceful disconnect both sides', async () => {
    const server = await EnetHost.listen({ port: 0, channelLimit: 4 })
    const client = await EnetHost.client({ channelLimit: 8 })
    try {
      assert.equal(server.address.address, '127.0.0.1')
      server.on('receive', (p, ch, data, rel) => p.send(ch, data, { reliable: rel }))
      const peer = client.connect('localhost', server.address.port, 8, 7)
      const [[sp, data], [cp]] = await Promise.all([
        nextEvent(server, 'connect'),
        nextEvent(client, 'connect'),
      ])
      assert.equal(data, 7)
      assert.equal(cp, peer)
      assert.equal(sp.address, '127.0.0.1')
      assert.equal(peer.state, 'connected')
      const got: string[] = []
      const all = new Promise<void>((resolve) =>
        client.on('receive', (_p, ch, d) => {
          got.push(`${ch}:${d.toString()}`)
          if (got.length === 4) resolve()
        }),
      )
      // the channel count was negotiated down to the server's limit of 4
      assert.throws(() => peer.send(4, Buffer.from('x')), RangeError)
      for (let ch = 0; ch < 4; ch++) peer.send(ch, Buffer.from(`hello ${ch}`))
      await all
      assert.deepEqual(got.sort(), ['0:hello 0', '1:hello 1', '2:hello 2', '3:hello 3'])
      // an unreliable packet between two reliable ones on a channel is not dropped as stale
      const three: string[] = []
      const gotThree = new Promise<void>((resolve) =>
        client.on('receive', (_p, ch, d, rel) => {
          if (ch !== 0 || !d.toString().startsWith('seq')) return
          three.push(`${d.toString()}/${rel}`)
          if (three.length === 3) resolve()
        }),
      )
      peer.send(0, Buffer.from('seq A'))
      peer.send(0, Buffer.from('seq B'), { reliable: false })
      peer.send(0, Buffer.from('seq C'))
      await gotThree
      assert.deepEqual(three, ['seq A/true', 'seq B/false', 'seq C/true'])
      const [[, reason, d]] = await Promise.all([nextEvent(server, 'disconnect'), peer.disconnect(12)])
      assert.deepEqual([reason, d], ['disconnect', 12])
      assert.equal(peer.state, 'disconnecting')
      await nextEvent(client, 'disconnect')
      assert.equal(peer.state, 'disconnected')
      peer.send(0, Buffer.from('ignored after disconnect'))
    } finally {
      await client.close()
      await server.close()
    }
  })

  test('10% loss both ways: every reliable packet arrives once, in order, intact; unreliable ones intact', async () => {
    // ENet backs off exponentially per command and gives a peer up when a command's timeout has doubled
    // 5 times and 10 s have passed: long timeouts keep this test about delivery, not about giving up
    const server = await EnetHost.listen({ port: 0, channelLimit: 4, timeoutMs: 120_000 })
    const client = await EnetHost.client({ channelLimit: 4, timeoutMs: 120_000 })
    const lossy = (seed: number) => {
      const r = seededRandom(seed)
      return () => r() >= 0.1
    }
    server.sendFilter = lossy(1)
    client.sendFilter = lossy(2)
    try {
      const peer = client.connect('127.0.0.1', server.address.port, 4)
      const [[serverPeer]] = await Promise.all([nextEvent(server, 'connect'), nextEvent(client, 'connect')])
      const plan = (seed: number) => {
        const r = seededRandom(seed)
        return Array.from({ length: 120 }, (_, i) => {
          const len = i === 60 ? 150_000 : Math.floor(r() * 3000)
          return { ch: Math.floor(r() * 4), data: fill(len, seed * 1000 + i), rel: r() < 0.7 }
        })
      }
      const toServer = plan(3)
      const toClient = plan(4)
      const receivedBy = (host: EnetHost, from: EnetPeer, expected: typeof toServer) => {
        const reliable = expected.filter((m) => m.rel || m.data.length > 1372)
        const got: { ch: number; data: Buffer; rel: boolean }[] = []
        const done = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            const n = got.filter((g) => g.rel).length
            reject(
              new Error(
                `${n} of ${reliable.length} reliable packets after 100 s: ${JSON.stringify(host.stats)}`,
              ),
            )
          }, 100_000)
          host.on('receive', (p, ch, data, rel) => {
            if (p !== from) return
            got.push({ ch, data, rel })
            if (got.filter((g) => g.rel).length >= reliable.length) {
              clearTimeout(timer)
              resolve()
            }
          })
        })
        return { got, reliable, done }
      }
      const atServer = receivedBy(server, serverPeer, toServer)
      const atClient = receivedBy(client, peer, toClient)
      for (const m of toServer) peer.send(m.ch, m.data, { reliable: m.rel })
      for (const m of toClient) serverPeer.send(m.ch, m.data, { reliable: m.rel })
      await Promise.all([atServer.done, atClient.done])
      for (const side of [atServer, atClient]) {
        for (let ch = 0; ch < 4; ch++) {
          const want = side.reliable.filter((m) => m.ch === ch).map((m) => m.data.toString('hex'))
          const have = side.got.filter((g) => g.rel && g.ch === ch).map((g) => g.data.toString('hex'))
          assert.deepEqual(have, want, `reliable packets on channel ${ch}: all, once, in order`)
        }
        const sent = new Set(side === atServer ? toServer.map((m) => m.data.toString('hex')) : [])
        if (side === atClient) for (const m of toClient) sent.add(m.data.toString('hex'))
        for (const g of side.got)
          assert.ok(sent.has(g.data.toString('hex')), 'every delivery is a sent packet')
        const unreliable = side.got.filter((g) => !g.rel).map((g) => g.data.toString('hex'))
        assert.equal(new Set(unreliable).size, unreliable.length, 'no unreliable packet twice')
      }
      assert.ok(client.stats.retransmits > 0 && server.stats.retransmits > 0, 'loss was actually survived')
      assert.equal(server.stats.internalErrors + client.stats.internalErrors, 0)
      const gone = nextEvent(server, 'disconnect')
      peer.disconnect()
      assert.equal((await gone)[1], 'disconnect')
    } finally {
      await client.close()
      await server.close()
    }
  })

  test('a peer that stops answering is timed out; connecting to nobody times out too', async () => {
    const server = await EnetHost.listen({ port: 0, timeoutMs: 1500 })
    const client = await EnetHost.client({ timeoutMs: 1500 })
    try {
      const peer = client.connect('127.0.0.1', server.address.port, 2)
      const [[serverPeer]] = await Promise.all([nextEvent(server, 'connect'), nextEvent(client, 'connect')])
      client.sendFilter = () => false // the client goes silent (its process "vanished")
      serverPeer.send(1, Buffer.from('anyone?'))
      const [p, reason] = await nextEvent(server, 'disconnect')
      assert.equal(p, serverPeer)
      assert.equal(reason, 'timeout')
      peer.disconnectNow()

      // nobody listens on this port: the connect attempt ends with a timeout event
      const silent = dgram.createSocket('udp4')
      await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r))
      client.sendFilter = undefined
      const lonely = client.connect('127.0.0.1', silent.address().port, 2)
      const [lp, lreason] = await nextEvent(client, 'disconnect')
      assert.equal(lp, lonely)
      assert.equal(lreason, 'timeout')
      silent.close()
    } finally {
      await client.close()
      await server.close()
    }
  })
})

/** A raw UDP socket speaking ENet by hand (acks what it gets), to send datagrams EnetHost would never send. */
class RawClient {
  readonly sock = dgram.createSocket('udp4')
  slot = 0xfff
  session = 0
  seq = 0
  private inbox: DecodedDatagram[] = []
  private waiters: (() => void)[] = []

  static async open(): Promise<RawClient> {
    const r = new RawClient()
    await new Promise<void>((res) => r.sock.bind(0, '127.0.0.1', res))
    r.sock.on('message', (msg) => {
      const d = decodeDatagram(msg)
      if (!d.header) return
      r.inbox.push(d)
      const acks = d.commands.filter((c) => c.flags & 0x80)
      if (acks.length > 0 && d.header.sentTime !== undefined && r.slot !== 0xfff) {
        r.send(
          r.datagram(
            acks.map((c) => ({
              command: 1,
              flags: 0,
              channel: c.channel,
              seq: c.seq,
              receivedSeq: c.seq,
              receivedSentTime: d.header.sentTime!,
            })),
          ),
        )
      }
      for (const w of r.waiters) w()
    })
    return r
  }

  /** A datagram from this client: right peer id and session unless overridden. */
  datagram(commands: Command[], h: { peerId?: number; session?: number; sentTime?: boolean } = {}): Buffer {
    return encodeDatagram(
      {
        peerId: h.peerId ?? this.slot,
        session: h.session ?? this.session,
        compressed: false,
        sentTime: h.sentTime === false ? undefined : 0x1234,
      },
      commands,
    )
  }

  send(b: Buffer, port = this.port): void {
    this.sock.send(b, port, '127.0.0.1')
  }

  port = 0

  waitFor(pred: (c: Command, d: DecodedDatagram) => boolean): Promise<[Command, DecodedDatagram]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('raw client: nothing matching arrived')), 10_000)
      const check = () => {
        for (const d of this.inbox) {
          for (const c of d.commands) {
            if (pred(c, d)) {
              clearTimeout(timer)
              this.waiters = this.waiters.filter((w) => w !== check)
              resolve([c, d])
              return
            }
          }
        }
      }
      this.waiters.push(check)
      check()
    })
  }

  connectCommand(overrides: Partial<Extract<Command, { command: 2 }>> = {}): Command {
    return connectCommand({ connectId: 0x1234abcd, data: 42, ...overrides })
  }

  /** CONNECT → VERIFY_CONNECT → ACK, by hand. */
  async handshake(port: number): Promise<void> {
    this.port = port
    this.send(this.datagram([this.connectCommand()], { peerId: 0xfff, session: 0 }))
    const [verify, d] = await this.waitFor((c) => c.command === 3)
    assert.equal(verify.command, 3)
    this.slot = verify.outgoingPeerId
    this.session = verify.outgoingSessionId
    assert.equal(verify.connectId, 0x1234abcd)
    assert.equal(verify.channelCount, 6)
    assert.equal(verify.mtu, 1400)
    this.send(
      this.datagram([
        { command: 1, flags: 0, channel: 0xff, seq: 1, receivedSeq: 1, receivedSentTime: d.header.sentTime! },
      ]),
    )
  }

  /** The next reliable packet on channel 1 (a legitimate probe). */
  reliable(data: Buffer): Buffer {
    this.seq++
    return this.datagram([{ command: 6, flags: 0x80, channel: 1, seq: this.seq, data }])
  }

  close(): void {
    this.sock.close()
  }
}

describe('EnetHost against hostile datagrams', () => {
  test('30 kinds of malformed or forged datagrams are dropped; the targeted connection and others carry on', async () => {
    const server = await EnetHost.listen({ port: 0, peerLimit: 16, channelLimit: 6 })
    const raws: RawClient[] = []
    const received: string[] = []
    server.on('receive', (_p, _ch, data) => received.push(data.toString('utf8')))
    let connects = 0
    server.on('connect', () => connects++)
    try {
      const port = server.address.port
      const raw = await RawClient.open()
      raws.push(raw)
      const [[rawPeer, data]] = await Promise.all([nextEvent(server, 'connect'), raw.handshake(port)])
      assert.equal(data, 42)
      const fresh = async () => {
        const r = await RawClient.open()
        raws.push(r)
        r.port = port
        return r
      }
      const next = (seqOffset = 1) => raw.seq + seqOffset
      const frag = (o: Partial<Extract<Command, { command: 8 }>>): Command => ({
        command: 8,
        flags: 0x80,
        channel: 3,
        seq: 1,
        startSeq: 1,
        fragmentCount: 2,
        fragmentNumber: 0,
        totalLength: 10,
        fragmentOffset: 0,
        data: Buffer.from('EVIL!'),
        ...o,
      })
      const evil = Buffer.from('EVIL')
      const rnd = seededRandom(99)

      const cases: [string, () => Promise<void> | void][] = [
        ['empty datagram', () => raw.send(Buffer.alloc(0))],
        ['one byte', () => raw.send(Buffer.from([0x80]))],
        [
          'sentTime flag but 3 bytes',
          () => raw.send(Buffer.from([0x80 | (raw.slot >> 8), raw.slot & 0xff, 0x12])),
        ],
        [
          'compressed flag',
          () => {
            const b = raw.datagram([{ command: 6, flags: 0x80, channel: 1, seq: next(), data: evil }])
            b[0] |= 0x40
            raw.send(b)
          },
        ],
        [
          'command number 0',
          () => raw.send(Buffer.concat([raw.datagram([]), Buffer.from([0x80, 1, 0, 9, 0, 4])])),
        ],
        [
          'command number 13',
          () => raw.send(Buffer.concat([raw.datagram([]), Buffer.from([0x8d, 1, 0, 9, 0, 0, 0, 0])])),
        ],
        [
          'command number 15',
          () => raw.send(Buffer.concat([raw.datagram([]), Buffer.from([0x0f, 1, 0, 9])])),
        ],
        [
          'truncated SEND_RELIABLE',
          () => raw.send(Buffer.concat([raw.datagram([]), Buffer.from([0x86, 1, 0, next(), 0])])),
        ],
        [
          'data length past the datagram',
          () => {
            const c = encodeCommand({ command: 6, flags: 0x80, channel: 1, seq: next(), data: evil })
            c.writeUInt16BE(60000, 4)
            raw.send(Buffer.concat([raw.datagram([]), c]))
          },
        ],
        [
          'channel ≥ channel count',
          () => raw.send(raw.datagram([{ command: 6, flags: 0x80, channel: 6, seq: 1, data: evil }])),
        ],
        [
          'data on channel 0xFF',
          () => raw.send(raw.datagram([{ command: 6, flags: 0x80, channel: 0xff, seq: 9, data: evil }])),
        ],
        [
          'unreliable on a bad channel',
          () =>
            raw.send(
              raw.datagram([{ command: 7, flags: 0, channel: 200, seq: 0, unreliableSeq: 1, data: evil }]),
            ),
        ],
        [
          'unsequenced on a bad channel',
          () =>
            raw.send(
              raw.datagram([
                { command: 9, flags: 0x40, channel: 9, seq: 0, unsequencedGroup: 1, data: evil },
              ]),
            ),
        ],
        [
          'PING flagged for ACK without sentTime',
          () =>
            raw.send(
              raw.datagram([{ command: 5, flags: 0x80, channel: 0xff, seq: 50 }], { sentTime: false }),
            ),
        ],
        ['fragment count 0xFFFFFFFF', () => raw.send(raw.datagram([frag({ fragmentCount: 0xffffffff })]))],
        ['fragment total 0xFFFFFFFF', () => raw.send(raw.datagram([frag({ totalLength: 0xffffffff })]))],
        ['fragment number ≥ count', () => raw.send(raw.datagram([frag({ fragmentNumber: 7 })]))],
        ['fragment offset + length > total', () => raw.send(raw.datagram([frag({ fragmentOffset: 8 })]))],
        [
          'fragment total below count',
          () => raw.send(raw.datagram([frag({ fragmentCount: 100, totalLength: 10 })])),
        ],
        [
          'wrong session bits',
          () =>
            raw.send(
              raw.datagram([{ command: 6, flags: 0x80, channel: 1, seq: next(), data: evil }], {
                session: (raw.session + 1) & 3,
              }),
            ),
        ],
        [
          'unknown peer id',
          () =>
            raw.send(
              raw.datagram([{ command: 6, flags: 0x80, channel: 1, seq: next(), data: evil }], {
                peerId: 77,
              }),
            ),
        ],
        [
          'right peer id from another address',
          async () =>
            (await fresh()).send(
              raw.datagram([{ command: 6, flags: 0x80, channel: 1, seq: next(), data: evil }]),
            ),
        ],
        [
          'data before CONNECT (peer id 0xFFF)',
          () =>
            raw.send(
              raw.datagram([{ command: 6, flags: 0x80, channel: 1, seq: next(), data: evil }], {
                peerId: 0xfff,
              }),
            ),
        ],
        [
          'CONNECT on an established peer',
          () => raw.send(raw.datagram([raw.connectCommand({ connectId: 5 })])),
        ],
        [
          'CONNECT with 0 channels',
          async () =>
            (await fresh()).send(raw.datagram([raw.connectCommand({ channelCount: 0 })], { peerId: 0xfff })),
        ],
        [
          'CONNECT with 256 channels',
          async () =>
            (await fresh()).send(
              raw.datagram([raw.connectCommand({ channelCount: 256 })], { peerId: 0xfff }),
            ),
        ],
        [
          'datagram over 4096 bytes',
          () =>
            raw.send(
              raw.datagram([
                { command: 6, flags: 0x80, channel: 1, seq: next(), data: Buffer.alloc(5000, 69) },
              ]),
            ),
        ],
        [
          'ACK of nothing, from the future',
          () =>
            raw.send(
              raw.datagram([
                { command: 1, flags: 0, channel: 1, seq: 999, receivedSeq: 999, receivedSentTime: 0xffff },
              ]),
            ),
        ],
        [
          'VERIFY_CONNECT sent to a server',
          () => raw.send(raw.datagram([{ ...raw.connectCommand(), command: 3 } as Command])),
        ],
        [
          'a flood of CONNECTs (half-open peers)',
          async () => {
            for (let i = 0; i < 10; i++)
              (await fresh()).send(raw.datagram([raw.connectCommand({ connectId: i })], { peerId: 0xfff }))
          },
        ],
        [
          '50 random datagrams from strangers',
          async () => {
            const r = await fresh()
            for (let i = 0; i < 50; i++) {
              const b = Buffer.alloc(1 + Math.floor(rnd() * 200))
              for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256)
              r.send(b)
            }
          },
        ],
        [
          'BANDWIDTH_LIMIT and THROTTLE_CONFIGURE with odd values',
          () =>
            raw.send(
              raw.datagram([
                {
                  command: 10,
                  flags: 0x80,
                  channel: 0xff,
                  seq: 60,
                  incomingBandwidth: 1,
                  outgoingBandwidth: 0xffffffff,
                },
                {
                  command: 11,
                  flags: 0x80,
                  channel: 0xff,
                  seq: 61,
                  interval: 0,
                  acceleration: 0,
                  deceleration: 0,
                },
              ]),
            ),
        ],
      ]
      assert.ok(cases.length >= 30)
      const probes: string[] = []
      for (const [name, send] of cases) {
        await send()
        const probe = `probe after ${name}`
        probes.push(probe)
        const arrived = nextEvent(
          server,
          'receive',
          (p, _ch, d) => p === rawPeer && d.toString('utf8') === probe,
          10_000,
        )
        raw.send(raw.reliable(Buffer.from(probe, 'utf8')))
        await arrived.catch((e) =>
          assert.fail(
            `${name}: the connection stopped working (${e.message}); ${JSON.stringify(server.stats)}`,
          ),
        )
      }
      assert.deepEqual(received, probes, 'nothing but the probes was delivered')
      assert.equal(connects, 1, 'no hostile CONNECT produced a connect event')
      assert.equal(server.stats.internalErrors, 0)
      assert.ok(server.stats.dropped >= 10 && server.stats.rejected >= 10)

      // another (well-behaved) client still gets served
      const client = await EnetHost.client({ channelLimit: 6 })
      try {
        const peer = client.connect('127.0.0.1', port, 6)
        const [[sp]] = await Promise.all([nextEvent(server, 'connect'), nextEvent(client, 'connect')])
        const echo = nextEvent(client, 'receive')
        server.once('receive', (p, ch, d) => p.send(ch, d))
        peer.send(2, fill(20_000, 1))
        assert.ok((await echo)[2].equals(fill(20_000, 1)))
        assert.notEqual(sp, rawPeer)
      } finally {
        await client.close()
      }

      // the raw client leaves with a DISCONNECT carrying data
      const gone = nextEvent(server, 'disconnect', (p) => p === rawPeer)
      raw.send(raw.datagram([{ command: 4, flags: 0x80, channel: 0xff, seq: 70, data: 0xdead }]))
      assert.deepEqual((await gone).slice(1), ['disconnect', 0xdead])
    } finally {
      for (const r of raws) r.close()
      await server.close()
    }
  })
})
