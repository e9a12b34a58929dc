/** ENet wire codec: round trips of every command, and malformed input that must be refused, never thrown. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  COMMAND_SIZES,
  type Command,
  decodeCommand,
  decodeDatagram,
  encodeCommand,
  encodeDatagram,
  encodeHeader,
} from '../../../src/core/enet/protocol.js'
import { connectCommand } from '../../helpers/enet.js'

const u8 = fc.integer({ min: 0, max: 0xff })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))
const base = { flags: fc.constantFrom(0, 0x80, 0x40, 0xc0), channel: u8, seq: u16 }
const connectBody = {
  outgoingPeerId: u16,
  incomingSessionId: u8,
  outgoingSessionId: u8,
  mtu: u32,
  windowSize: u32,
  channelCount: u32,
  incomingBandwidth: u32,
  outgoingBandwidth: u32,
  throttleInterval: u32,
  throttleAcceleration: u32,
  throttleDeceleration: u32,
  connectId: u32,
}
const fragment = {
  startSeq: u16,
  fragmentCount: u32,
  fragmentNumber: u32,
  totalLength: u32,
  fragmentOffset: u32,
  data: bytes,
}

const command: fc.Arbitrary<Command> = fc
  .oneof(
    fc.record({ command: fc.constant(1 as const), ...base, receivedSeq: u16, receivedSentTime: u16 }),
    fc.record({ command: fc.constant(2 as const), ...base, ...connectBody, data: u32 }),
    fc.record({ command: fc.constant(3 as const), ...base, ...connectBody }),
    fc.record({ command: fc.constant(4 as const), ...base, data: u32 }),
    fc.record({ command: fc.constant(5 as const), ...base }),
    fc.record({ command: fc.constant(6 as const), ...base, data: bytes }),
    fc.record({ command: fc.constant(7 as const), ...base, unreliableSeq: u16, data: bytes }),
    fc.record({ command: fc.constant(8 as const), ...base, ...fragment }),
    fc.record({ command: fc.constant(9 as const), ...base, unsequencedGroup: u16, data: bytes }),
    fc.record({ command: fc.constant(10 as const), ...base, incomingBandwidth: u32, outgoingBandwidth: u32 }),
    fc.record({
      command: fc.constant(11 as const),
      ...base,
      interval: u32,
      acceleration: u32,
      deceleration: u32,
    }),
    fc.record({ command: fc.constant(12 as const), ...base, ...fragment }),
  )
  .map((c) => ({ ...c }) as Command) // plain objects (fc.record builds null-prototype ones)
const header = fc
  .record({
    peerId: fc.integer({ min: 0, max: 0xfff }),
    session: fc.integer({ min: 0, max: 3 }),
    compressed: fc.constant(false),
    sentTime: fc.option(u16, { nil: undefined }),
  })
  .map(({ sentTime, ...h }) => (sentTime === undefined ? { ...h } : { ...h, sentTime }))

describe('ENet codec', () => {
  test('every command survives encode → decode unchanged (property)', () => {
    fc.assert(
      fc.property(command, (c) => {
        const b = encodeCommand(c)
        const r = decodeCommand(b, 0)
        assert.ok(!('error' in r))
        assert.equal(r.next, b.length)
        assert.deepEqual(r.command, c)
      }),
      { numRuns: 2000 },
    )
  })

  test('datagrams of several commands round-trip, header included (property)', () => {
    fc.assert(
      fc.property(header, fc.array(command, { minLength: 1, maxLength: 8 }), (h, cs) => {
        const b = encodeDatagram(h, cs)
        const d = decodeDatagram(b)
        assert.ok(d.header)
        assert.equal(d.error, undefined)
        assert.deepEqual(d.header, h)
        assert.deepEqual(d.commands, cs)
        assert.deepEqual(encodeDatagram(d.header, d.commands), b)
      }),
    )
  })

  test('the worked CONNECT bytes of the fact sheet (§1.3) decode as documented', () => {
    const hex =
      '8fff2cba82ff00010000ffff0000057800010000000000060000000000000000000013880000000200000002bd22951600000000'
    const d = decodeDatagram(Buffer.from(hex, 'hex'))
    assert.ok(d.header)
    assert.deepEqual(d.header, { peerId: 0xfff, session: 0, compressed: false, sentTime: 0x2cba })
    assert.deepEqual(d.commands, [connectCommand()])
  })

  test('header: 2 bytes without sentTime, 4 with; session and flag bits', () => {
    assert.deepEqual(encodeHeader({ peerId: 0, session: 0, compressed: false }), Buffer.from([0, 0]))
    assert.deepEqual(
      encodeHeader({ peerId: 0x123, session: 2, compressed: false, sentTime: 0xbeef }),
      Buffer.from([0xa1, 0x23, 0xbe, 0xef]),
    )
  })

  test('truncated commands are refused at every cut, earlier commands kept', () => {
    fc.assert(
      fc.property(command, command, fc.nat(), (first, c, cutSeed) => {
        const a = encodeCommand(first)
        const b = encodeCommand(c)
        const cut = cutSeed % b.length // 0 … length-1 bytes of the second command
        if (cut === 0) return
        const d = decodeDatagram(Buffer.concat([Buffer.from([0, 0]), a, b.subarray(0, cut)]))
        assert.ok(d.header)
        assert.ok(d.error, `cut at ${cut} of ${b.length}`)
        assert.deepEqual(d.commands, [first])
      }),
    )
  })

  test('bad command numbers (0, 13, 14, 15) stop decoding', () => {
    for (const n of [0, 13, 14, 15, 0x80, 0x8d]) {
      const d = decodeDatagram(Buffer.from([0x80, 0x00, 0, 1, n, 0xff, 0, 1, 0, 0, 0, 0]))
      assert.ok(d.header)
      assert.match(d.error ?? '', /bad command number/)
      assert.deepEqual(d.commands, [])
    }
  })

  test('a data length running past the datagram is refused', () => {
    const c = encodeCommand({ command: 6, flags: 0x80, channel: 1, seq: 1, data: Buffer.alloc(10) })
    c.writeUInt16BE(60000, 4)
    const d = decodeDatagram(Buffer.concat([Buffer.from([0x80, 0, 0, 1]), c]))
    assert.match(d.error ?? '', /past the datagram/)
  })

  test('too-short datagrams are refused', () => {
    assert.ok(decodeDatagram(Buffer.alloc(0)).error)
    assert.ok(decodeDatagram(Buffer.from([0x80])).error)
    assert.ok(decodeDatagram(Buffer.from([0x80, 0x00, 0x01])).error)
    assert.equal(
      decodeDatagram(Buffer.from([0x00, 0x00])).error,
      undefined,
      'a bare header is empty, not bad',
    )
  })

  test('arbitrary bytes never throw (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (a) => {
        decodeDatagram(Buffer.from(a))
      }),
      { numRuns: 3000 },
    )
  })

  test('command sizes are those of protocol.h', () => {
    assert.deepEqual(COMMAND_SIZES, [0, 8, 48, 44, 8, 4, 6, 8, 24, 8, 12, 16, 24])
  })
})
