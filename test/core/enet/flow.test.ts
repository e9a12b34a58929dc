/**
 * ENet flow control as upstream (lsalzman/enet peer.c `enet_peer_throttle`, protocol.c
 * `enet_protocol_handle_acknowledge` and `enet_protocol_check_outgoing_commands`): the RTT/variance
 * update, the packet throttle and the reliable window it scales, and the sending side's
 * free-reliable-windows rule. Pure Peer state first, then real UDP between two of our hosts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { EnetPeer } from '../../../src/core/enet/index.js'
import { EnetHost } from '../../../src/core/enet/index.js'
import { Channel, PEER, Peer, type PeerHost, reliableWindowBlocked } from '../../../src/core/enet/peer.js'
import { fill, nextEvent } from '../../helpers/enet.js'

const inert: PeerHost = {
  peerSend: () => assert.fail('not used'),
  peerDisconnect: () => assert.fail('not used'),
  peerDisconnectNow: () => assert.fail('not used'),
}

function peer(): Peer {
  const p = new Peer(inert, 0, '127.0.0.1', 1, { mtu: 1400, timeoutMs: 20000 })
  p.internalState = 'connected'
  p.setupChannels(4)
  return p
}

describe('round-trip time (enet_protocol_handle_acknowledge)', () => {
  test('the first sample replaces the initial 500 ms, variance half of it; later ones move by 1/8 and 1/4', () => {
    const p = peer()
    assert.equal(p.roundTripTime, 500)
    p.updateRoundTripTime(40, 1)
    assert.deepEqual([p.roundTripTime, p.roundTripTimeVariance], [40, 20])
    p.updateRoundTripTime(120, 2) // diff 80: variance 20 - 5 + 20, rtt 40 + 10
    assert.deepEqual([p.roundTripTime, p.roundTripTimeVariance], [50, 35])
    p.updateRoundTripTime(10, 3) // diff 40: variance 35 - 8 + 10, rtt 50 - 5
    assert.deepEqual([p.roundTripTime, p.roundTripTimeVariance], [45, 37])
    p.updateRoundTripTime(0, 4) // samples count as at least 1 ms
    assert.deepEqual([p.roundTripTime, p.roundTripTimeVariance], [40, 39])
  })
})

describe('packet throttle (enet_peer_throttle)', () => {
  /** A peer whose previous throttle interval saw RTT 10 ms, variance 5 ms. */
  function settled(): Peer {
    const p = peer()
    p.updateRoundTripTime(10, 1) // first sample: rtt 10, variance 5, and the interval starts
    return p
  }

  test('rising RTT closes the throttle step by step down to 0, and the window with it; low RTT reopens both', () => {
    const p = settled()
    assert.deepEqual([p.lastRoundTripTime, p.lastRoundTripTimeVariance], [10, 5])
    assert.equal(p.packetThrottle, 32)
    assert.equal(p.reliableWindowLimit, 65536)
    const seen: number[] = []
    for (let t = 2; t < 40; t++) {
      p.updateRoundTripTime(100, t) // 100 > 10 + 2 × 5: decelerate by 2 each time
      seen.push(p.packetThrottle)
      assert.ok(p.reliableWindowLimit <= Math.max((p.packetThrottle * 65536) / 32, p.mtu))
    }
    assert.deepEqual(seen.slice(0, 4), [30, 28, 26, 24])
    assert.equal(p.packetThrottle, 0)
    assert.equal(p.reliableWindowLimit, 1400, 'never below one MTU (ENet sends at least one command)')
    const back: number[] = []
    for (let t = 40; t < 70; t++) {
      p.updateRoundTripTime(8, t) // ≤ the interval's lowest RTT: accelerate by 2
      back.push(p.packetThrottle)
    }
    assert.deepEqual(back.slice(0, 3), [2, 4, 6])
    assert.equal(p.packetThrottle, 32, 'capped at the limit')
    assert.equal(p.reliableWindowLimit, 65536)
  })

  test('an RTT between the lowest and lowest + 2 variances leaves it alone; the limit caps it', () => {
    const p = settled()
    p.packetThrottle = 10
    assert.equal(p.throttle(15), 0)
    assert.equal(p.packetThrottle, 10)
    p.packetThrottleLimit = 12
    assert.equal(p.throttle(5), 1)
    assert.equal(p.throttle(5), 1)
    assert.equal(p.packetThrottle, 12)
  })

  test('when the reference RTT is within its own variance the throttle jumps to its limit', () => {
    const p = settled()
    p.packetThrottle = 4
    p.lastRoundTripTime = 6
    p.lastRoundTripTimeVariance = 6
    assert.equal(p.throttle(500), 0)
    assert.equal(p.packetThrottle, 32)
  })

  test('after an interval the reference becomes that interval’s lowest RTT and highest variance', () => {
    const p = settled()
    p.updateRoundTripTime(200, 100)
    p.updateRoundTripTime(200, 200)
    const { roundTripTime, highestRoundTripTimeVariance } = p
    p.updateRoundTripTime(200, 1 + PEER.PACKET_THROTTLE_INTERVAL)
    assert.equal(p.lastRoundTripTime, 10, 'the lowest smoothed RTT of the interval')
    assert.ok(p.lastRoundTripTimeVariance >= highestRoundTripTimeVariance)
    assert.equal(p.lowestRoundTripTime, p.roundTripTime)
    assert.ok(roundTripTime > 10)
  })
})

describe('free reliable windows (sending side)', () => {
  test('with one window in flight, a new window may open iff the receiver would take it (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 }), (u, w) => {
        const ch = new Channel()
        ch.reliableWindows[u] = 1
        ch.usedReliableWindows = 1 << u
        const distance = (w - u + 16) % 16
        // the receiver, whose oldest undelivered number is in window u, takes windows u … u + 6
        assert.equal(
          !reliableWindowBlocked(ch, w * PEER.RELIABLE_WINDOW_SIZE),
          distance >= 1 && distance <= 6,
        )
        // numbers inside a window never wait for this rule
        assert.equal(reliableWindowBlocked(ch, w * PEER.RELIABLE_WINDOW_SIZE + 1), false)
      }),
    )
  })

  test('a window waits while the previous one is entirely in flight', () => {
    const ch = new Channel()
    ch.reliableWindows[2] = PEER.RELIABLE_WINDOW_SIZE
    ch.usedReliableWindows = 0 // (the previous-window count alone decides)
    assert.equal(reliableWindowBlocked(ch, 3 * PEER.RELIABLE_WINDOW_SIZE), true)
    ch.reliableWindows[2]--
    assert.equal(reliableWindowBlocked(ch, 3 * PEER.RELIABLE_WINDOW_SIZE), false)
  })
})

/** Two of our hosts on loopback, connected, with the client's `Peer` and the server's. */
async function pair() {
  const server = await EnetHost.listen({ port: 0, channelLimit: 4, timeoutMs: 60_000 })
  const client = await EnetHost.client({ channelLimit: 4, timeoutMs: 60_000 })
  const peer = client.connect('127.0.0.1', server.address.port, 4) as Peer
  const [[serverPeer]] = await Promise.all([nextEvent(server, 'connect'), nextEvent(client, 'connect')])
  return { server, client, peer, serverPeer: serverPeer as Peer }
}

const timers = new Set<NodeJS.Timeout>()

function receiveAll(host: EnetHost, from: EnetPeer, n: number): Promise<Buffer[]> {
  const got: Buffer[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${got.length} of ${n} packets: ${JSON.stringify(host.stats)}`)),
      120_000,
    )
    timers.add(timer)
    host.on('receive', (p, _ch, data) => {
      if (p !== from) return
      got.push(data)
      if (got.length === n) {
        clearTimeout(timer)
        resolve(got)
      }
    })
  })
}

describe('flow control between two hosts (real UDP)', () => {
  test('reliable bytes in flight never exceed windowSize × packetThrottle / 32', async () => {
    const { server, client, peer, serverPeer } = await pair()
    try {
      // what ENet's bandwidth throttle does to a slow peer: limit, and so the throttle, at 4/32
      serverPeer.packetThrottleLimit = 4
      serverPeer.packetThrottle = 4
      const window = (4 * serverPeer.windowSize) / 32
      let maxInFlight = 0
      let checks = 0
      const violations: string[] = []
      server.sendFilter = () => {
        // called for every datagram, after its commands were counted as in flight
        checks++
        maxInFlight = Math.max(maxInFlight, serverPeer.reliableDataInTransit)
        if (
          serverPeer.packetThrottle > 4 ||
          serverPeer.reliableDataInTransit > serverPeer.reliableWindowLimit
        )
          violations.push(
            `${serverPeer.reliableDataInTransit} bytes in flight, throttle ${serverPeer.packetThrottle}`,
          )
        return true
      }
      const payload = fill(600_000, 7)
      const got = receiveAll(client, peer, 2)
      serverPeer.send(2, payload)
      serverPeer.send(3, fill(50_000, 8))
      const [a, b] = await got
      assert.ok(a.equals(payload) && b.equals(fill(50_000, 8)))
      assert.deepEqual(violations, [])
      assert.ok(checks > 400, 'the payload went as hundreds of datagrams')
      assert.ok(
        maxInFlight > 0 && maxInFlight <= window,
        `at most ${window} bytes in flight, saw ${maxInFlight}`,
      )
    } finally {
      for (const t of timers) clearTimeout(t)
      await client.close()
      await server.close()
    }
  })

  test('at throttle 0/32 every unreliable packet is still sent (unlike ENet, which drops 31 of 32), and so is the reliable one', async () => {
    const { server, client, peer, serverPeer } = await pair()
    try {
      serverPeer.packetThrottleLimit = 0 // what ENet's bandwidth throttle does to a starved peer
      serverPeer.packetThrottle = 0
      const got: { data: string; rel: boolean }[] = []
      const last = new Promise<void>((resolve) =>
        client.on('receive', (p, _ch, data, rel) => {
          if (p === peer) got.push({ data: data.toString(), rel })
          if (rel) resolve()
        }),
      )
      for (let i = 0; i < 64; i++) serverPeer.send(2, Buffer.from(`u${i}`), { reliable: false })
      serverPeer.send(2, Buffer.from('reliable'))
      await last
      // the reliable packet follows every unreliable one on the channel, so all that were sent are in
      const unreliable = got.filter((g) => !g.rel)
      assert.deepEqual(
        unreliable.map((g) => g.data),
        Array.from({ length: 64 }, (_, i) => `u${i}`),
      )
      assert.deepEqual(got.at(-1), { data: 'reliable', rel: true })
    } finally {
      for (const t of timers) clearTimeout(t)
      await client.close()
      await server.close()
    }
  })

  test('a new reliable window waits while the previous one is wholly unacknowledged; the rest follows once acknowledged', async () => {
    const { server, client, peer, serverPeer } = await pair()
    try {
      const n = 40_000
      const got = receiveAll(server, serverPeer, n)
      client.sendFilter = () => false // nothing reaches the server yet: nothing is acknowledged
      for (let i = 0; i < n; i++) peer.send(1, Buffer.of(i & 0xff, i >> 8))
      client.flush()
      // 2-byte packets: the 64 KiB data window would allow 32 768 of them; the windows rule stops at
      // number 8192 (the first of window 2) because all 4096 numbers of window 1 are in flight
      const inFlight = peer.sentReliable.filter((c) => c.command.channel === 1)
      assert.equal(inFlight.length, 2 * PEER.RELIABLE_WINDOW_SIZE - 1)
      assert.equal(Math.max(...inFlight.map((c) => c.command.seq)), 2 * PEER.RELIABLE_WINDOW_SIZE - 1)
      assert.ok(peer.reliableDataInTransit < peer.reliableWindowLimit, 'the data window was not the limit')
      assert.equal(peer.channels[1].usedReliableWindows, 0b11)
      assert.deepEqual([...peer.channels[1].reliableWindows.subarray(0, 3)], [4095, 4096, 0])
      client.sendFilter = undefined
      const all = await got
      assert.equal(all.length, n)
      assert.ok(
        all.every((d, i) => d[0] === (i & 0xff) && d[1] === i >> 8),
        'every packet once, in order',
      )
      // the server's last acknowledgements leave before (or with) this reply, so once it is here
      // every command has been acknowledged
      const reply = nextEvent(client, 'receive')
      serverPeer.send(0, Buffer.from('done'))
      await reply
      assert.equal(peer.sentReliable.length, 0)
      assert.equal(peer.channels[1].usedReliableWindows, 0, 'all acknowledged: no window in use')
      assert.ok(peer.channels[1].reliableWindows.every((c) => c === 0))
    } finally {
      for (const t of timers) clearTimeout(t)
      await client.close()
      await server.close()
    }
  })
})
