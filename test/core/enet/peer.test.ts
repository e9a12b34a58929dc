/** Per-peer receive state: in-order reliable delivery, unreliable sequencing, fragment reassembly. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { type Delivery, inReliableWindow, Peer, type PeerHost } from '../../../src/core/enet/peer.js'

const inert: PeerHost = {
  peerSend: () => assert.fail('not used'),
  peerDisconnect: () => assert.fail('not used'),
  peerDisconnectNow: () => assert.fail('not used'),
}

function connectedPeer(): Peer {
  const p = new Peer(inert, 0, '127.0.0.1', 1, { mtu: 1400, timeoutMs: 20000 })
  p.internalState = 'connected'
  p.setupChannels(6)
  return p
}

const text = (out: Delivery[]) => out.map((d) => d.data.toString())

/** Splits `data` into SEND_FRAGMENT bodies of `size` bytes starting at reliable number `start`. */
function fragments(data: Buffer, size: number, start: number) {
  const count = Math.ceil(data.length / size)
  return Array.from({ length: count }, (_, i) => ({
    seq: (start + i) & 0xffff,
    startSeq: start,
    fragmentCount: count,
    fragmentNumber: i,
    totalLength: data.length,
    fragmentOffset: i * size,
    data: data.subarray(i * size, (i + 1) * size),
  }))
}

describe('reliable sequencing', () => {
  test('out-of-order packets are delivered in order, duplicates once', () => {
    const p = connectedPeer()
    const out: Delivery[] = []
    for (const seq of [3, 1, 3, 2, 1, 5, 4, 2]) p.receiveReliable(1, seq, Buffer.from(`m${seq}`), out)
    assert.deepEqual(text(out), ['m1', 'm2', 'm3', 'm4', 'm5'])
    assert.ok(out.every((d) => d.channel === 1 && d.reliable))
  })

  test('any arrival order with duplicates gives each packet exactly once, in order (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.infiniteStream(fc.nat()),
        (n, start, dups, order) => {
          const p = connectedPeer()
          p.channels[2].inRel = start // exercise wrap-around at 65535 → 0
          const seqs = Array.from({ length: n }, (_, i) => (start + 1 + i) & 0xffff)
          const arrivals = [...seqs, ...dups.map((d) => seqs[d % n])]
          // shuffle with the generated stream
          const it = order[Symbol.iterator]()
          for (let i = arrivals.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1)
            ;[arrivals[i], arrivals[j]] = [arrivals[j], arrivals[i]]
          }
          const out: Delivery[] = []
          for (const s of arrivals) p.receiveReliable(2, s, Buffer.from(String(s)), out)
          assert.deepEqual(text(out), seqs.map(String))
        },
      ),
    )
  })

  test('commands 7 or more windows of 4096 ahead, and old ones, are discarded', () => {
    const p = connectedPeer()
    const out: Delivery[] = []
    p.receiveReliable(0, 1, Buffer.from('a'), out)
    assert.equal(inReliableWindow(7 * 4096, 1), false)
    assert.equal(inReliableWindow(7 * 4096 - 1, 1), true)
    p.receiveReliable(0, 7 * 4096 + 5, Buffer.from('far'), out)
    assert.equal(p.channels[0].incomingReliable.size, 0)
    p.receiveReliable(0, 1, Buffer.from('old'), out)
    assert.deepEqual(text(out), ['a'])
  })

  test('nothing is delivered while disconnecting later (ENet discards incoming data)', () => {
    const p = connectedPeer()
    p.internalState = 'disconnect_later'
    const out: Delivery[] = []
    p.receiveReliable(1, 1, Buffer.from('x'), out)
    p.receiveUnreliable(1, 0, 1, Buffer.from('y'), out)
    assert.deepEqual(out, [])
  })
})

describe('unreliable sequencing', () => {
  test('newer ones delivered, older or repeated ones dropped', () => {
    const p = connectedPeer()
    const out: Delivery[] = []
    for (const u of [1, 3, 2, 3, 4]) p.receiveUnreliable(5, 0, u, Buffer.from(`u${u}`), out)
    assert.deepEqual(text(out), ['u1', 'u3', 'u4'])
    assert.ok(out.every((d) => !d.reliable))
  })

  test('an unreliable packet waits for the reliable one it follows', () => {
    const p = connectedPeer()
    const out: Delivery[] = []
    p.receiveUnreliable(2, 1, 1, Buffer.from('after-r1'), out)
    assert.deepEqual(out, [])
    p.receiveReliable(2, 1, Buffer.from('r1'), out)
    assert.deepEqual(text(out), ['r1', 'after-r1'])
    // one that belongs to an already-passed reliable number is stale
    p.receiveReliable(2, 2, Buffer.from('r2'), out)
    p.receiveUnreliable(2, 1, 2, Buffer.from('stale'), out)
    assert.deepEqual(text(out), ['r1', 'after-r1', 'r2'])
  })
})

describe('fragment reassembly', () => {
  test('out of order with duplicates: one packet, identical bytes, next reliable follows', () => {
    const p = connectedPeer()
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251))
    const fs = fragments(data, 1372, 1)
    const out: Delivery[] = []
    for (const i of [3, 1, 1, 0, 3, 2]) assert.ok(p.receiveFragment(2, fs[i], out))
    assert.equal(out.length, 1)
    assert.ok(out[0].data.equals(data))
    assert.equal(out[0].reliable, true)
    assert.equal(p.channels[2].inRel, 4, 'the set used reliable numbers 1…4')
    p.receiveReliable(2, 5, Buffer.from('next'), out)
    assert.equal(out[1].data.toString(), 'next')
    // a late duplicate fragment of the delivered set is ignored
    assert.ok(p.receiveFragment(2, fs[2], out))
    assert.equal(out.length, 2)
    assert.equal(p.waitingData, 0)
  })

  test('a complete set waits for the reliable packet before it', () => {
    const p = connectedPeer()
    const data = Buffer.alloc(3000, 7)
    const out: Delivery[] = []
    for (const f of fragments(data, 1372, 2)) p.receiveFragment(3, f, out)
    assert.equal(out.length, 0)
    p.receiveReliable(3, 1, Buffer.from('first'), out)
    assert.deepEqual(
      out.map((d) => d.data.length),
      [5, 3000],
    )
  })

  test('any order and duplication of the fragments reassembles the same bytes once (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 20000 }),
        fc.integer({ min: 1, max: 1400 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.infiniteStream(fc.nat()),
        (bytes, size, dups, order) => {
          const data = Buffer.from(bytes)
          const fs = fragments(data, size, 1)
          const arrivals = [...fs, ...dups.map((d) => fs[d % fs.length])]
          const it = order[Symbol.iterator]()
          for (let i = arrivals.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1)
            ;[arrivals[i], arrivals[j]] = [arrivals[j], arrivals[i]]
          }
          const p = connectedPeer()
          const out: Delivery[] = []
          for (const f of arrivals) assert.ok(p.receiveFragment(1, f, out))
          assert.equal(out.length, 1)
          assert.ok(out[0].data.equals(data))
        },
      ),
      { numRuns: 200 },
    )
  })

  const good = { startSeq: 1, fragmentCount: 2, fragmentNumber: 0, totalLength: 10, fragmentOffset: 0 }
  const hostile: [string, Partial<typeof good> & { data?: Buffer }][] = [
    ['absurd fragment count', { fragmentCount: 0xffffffff }],
    ['count above 1 048 576', { fragmentCount: 1024 * 1024 + 1, totalLength: 2 * 1024 * 1024 }],
    ['number ≥ count', { fragmentNumber: 2 }],
    ['total above 32 MiB', { totalLength: 32 * 1024 * 1024 + 1 }],
    ['total below count', { fragmentCount: 20, totalLength: 10 }],
    ['offset ≥ total', { fragmentOffset: 10 }],
    ['offset + length > total', { fragmentOffset: 8 }],
    ['empty fragment', { data: Buffer.alloc(0) }],
  ]
  for (const [name, patch] of hostile) {
    test(`refused: ${name}`, () => {
      const p = connectedPeer()
      const out: Delivery[] = []
      assert.equal(p.receiveFragment(1, { ...good, data: Buffer.alloc(5, 1), ...patch }, out), false)
      assert.deepEqual(out, [])
      assert.equal(p.channels[1].incomingReliable.size, 0)
    })
  }

  test('refused: a fragment disagreeing with its set (count or total)', () => {
    const p = connectedPeer()
    const out: Delivery[] = []
    assert.ok(p.receiveFragment(1, { ...good, data: Buffer.alloc(5, 1) }, out))
    assert.equal(
      p.receiveFragment(
        1,
        { ...good, fragmentNumber: 1, fragmentOffset: 5, totalLength: 11, data: Buffer.alloc(5) },
        out,
      ),
      false,
    )
    assert.equal(
      p.receiveFragment(1, { ...good, fragmentNumber: 1, fragmentCount: 3, data: Buffer.alloc(5) }, out),
      false,
    )
    assert.deepEqual(out, [])
  })

  test('refused: sets whose buffers would exceed 32 MiB of waiting data per peer', () => {
    const p = connectedPeer()
    const out: Delivery[] = []
    const big = {
      fragmentCount: 2,
      fragmentNumber: 0,
      totalLength: 20 * 1024 * 1024,
      fragmentOffset: 0,
      data: Buffer.alloc(1),
    }
    assert.ok(p.receiveFragment(1, { ...big, startSeq: 10 }, out))
    assert.equal(p.receiveFragment(1, { ...big, startSeq: 20 }, out), false)
  })
})
