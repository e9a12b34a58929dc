/**
 * Byte-for-byte check of the ENet codec against the recorded real sessions (test/fixtures/traces, copies of
 * alloverse/traces): every UDP datagram of both pcaps is decoded, compared field by field with the commands
 * listed in the matching JSONL, re-encoded to the identical bytes, and replayed through our per-peer
 * receive state (sequencing + fragment reassembly) to give exactly the payloads the JSONL lists.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Delivery, Peer, type PeerHost } from '../../../src/core/enet/peer.js'
import {
  COMMAND_NAMES,
  type Command,
  decodeDatagram,
  encodeDatagram,
  FLAG_ACKNOWLEDGE,
  FLAG_UNSEQUENCED,
} from '../../../src/core/enet/protocol.js'
import { readPcapUdp } from '../../helpers/pcap.js'

const TRACES = fileURLToPath(new URL('../../fixtures/traces/', import.meta.url))
const PLACE_PORT = 21337

interface Line {
  dgram: number
  dgram_len: number
  cmd_index: number
  dir: string
  client_port: number
  peer_id: number
  session: number
  sent_time?: number
  cmd: string
  command_byte: number
  channel: number
  reliable_seq: number
  flags: string[]
  retransmission?: boolean
  payload?: { len: number; json?: string; hex?: string }
  reassembled?: { len: number; json?: string; hex?: string }
  fragment_data_len?: number
  fragment_data_hex?: string
  [field: string]: unknown
}

/** JSONL field → our decoded field, per command */
const FIELDS: Record<string, Record<string, string>> = {
  ACKNOWLEDGE: { received_reliable_seq: 'receivedSeq', received_sent_time: 'receivedSentTime' },
  CONNECT: {
    outgoing_peer_id: 'outgoingPeerId',
    incoming_session_id: 'incomingSessionId',
    outgoing_session_id: 'outgoingSessionId',
    mtu: 'mtu',
    window_size: 'windowSize',
    channel_count: 'channelCount',
    incoming_bandwidth: 'incomingBandwidth',
    outgoing_bandwidth: 'outgoingBandwidth',
    packet_throttle_interval: 'throttleInterval',
    packet_throttle_acceleration: 'throttleAcceleration',
    packet_throttle_deceleration: 'throttleDeceleration',
    connect_id: 'connectId',
    data: 'data',
  },
  DISCONNECT: { data: 'data' },
  BANDWIDTH_LIMIT: { incoming_bandwidth: 'incomingBandwidth', outgoing_bandwidth: 'outgoingBandwidth' },
  SEND_UNRELIABLE: { unreliable_seq: 'unreliableSeq' },
  SEND_FRAGMENT: {
    start_seq: 'startSeq',
    fragment_count: 'fragmentCount',
    fragment_number: 'fragmentNumber',
    total_length: 'totalLength',
    fragment_offset: 'fragmentOffset',
  },
}
FIELDS.VERIFY_CONNECT = Object.fromEntries(Object.entries(FIELDS.CONNECT).filter(([k]) => k !== 'data'))

const bytesOf = (p: { json?: string; hex?: string }) =>
  p.json !== undefined ? Buffer.from(p.json, 'utf8') : Buffer.from(p.hex ?? '', 'hex')

const inert: PeerHost = {
  peerSend: () => assert.fail('not used'),
  peerDisconnect: () => assert.fail('not used'),
  peerDisconnectNow: () => assert.fail('not used'),
}

for (const name of ['template-app-session', 'launch-flow']) {
  describe(`trace ${name}`, () => {
    const datagrams = readPcapUdp(`${TRACES}${name}.pcap`)
    const lines: Line[] = readFileSync(`${TRACES}${name}.jsonl`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))

    test('every datagram decodes to the listed commands, and re-encodes to the same bytes', () => {
      assert.ok(datagrams.length > 90)
      const byDgram = new Map<number, Line[]>()
      for (const l of lines) byDgram.set(l.dgram, [...(byDgram.get(l.dgram) ?? []), l])
      assert.equal(byDgram.size, datagrams.length, 'the JSONL covers every datagram')
      for (const d of datagrams) {
        const expected = byDgram.get(d.index)!
        const where = `${name} dgram ${d.index}`
        assert.ok(expected, `${where} is in the JSONL`)
        assert.equal(d.payload.length, expected[0].dgram_len, where)
        const decoded = decodeDatagram(d.payload)
        assert.ok(decoded.header, where)
        assert.equal(decoded.error, undefined, `${where}: no leftover or malformed bytes`)
        const { header, commands } = decoded
        assert.equal(header.peerId, expected[0].peer_id, where)
        assert.equal(header.session, expected[0].session, where)
        assert.equal(header.compressed, false, where)
        assert.equal(header.sentTime, expected[0].sent_time, where)
        assert.equal(commands.length, expected.length, `${where}: command count`)
        for (const [i, c] of commands.entries()) checkCommand(c, expected[i], `${where} cmd ${i}`)
        assert.deepEqual(encodeDatagram(header, commands), d.payload, `${where}: re-encoded bytes`)
      }
    })

    test('sequencing and reassembly deliver exactly the payloads of the JSONL', () => {
      // one receiving peer per direction and connection (client port)
      const receivers = new Map<string, Peer>()
      const delivered = new Map<string, Delivery[]>()
      for (const d of datagrams) {
        const toPlace = d.dstPort === PLACE_PORT
        const key = `${toPlace ? 'client→place' : 'place→client'} ${toPlace ? d.srcPort : d.dstPort}`
        let peer = receivers.get(key)
        if (!peer) {
          peer = new Peer(inert, 0, '127.0.0.1', 1, { mtu: 1400, timeoutMs: 20000 })
          peer.internalState = 'connected'
          peer.setupChannels(6)
          receivers.set(key, peer)
          delivered.set(key, [])
        }
        const out = delivered.get(key)!
        const decoded = decodeDatagram(d.payload)
        for (const c of decoded.header ? decoded.commands : []) {
          if (c.command === 6) peer.receiveReliable(c.channel, c.seq, c.data, out)
          else if (c.command === 7) peer.receiveUnreliable(c.channel, c.seq, c.unreliableSeq, c.data, out)
          else if (c.command === 8) assert.ok(peer.receiveFragment(c.channel, c, out))
        }
      }
      let total = 0
      for (const [key, got] of delivered) {
        const expected = lines
          .filter((l) => `${l.dir} ${l.client_port}` === key)
          .filter((l) => !l.retransmission)
          .flatMap((l) => {
            const p = l.payload ?? l.reassembled
            return p ? [{ channel: l.channel, data: bytesOf(p), len: p.len }] : []
          })
        assert.equal(got.length, expected.length, `${key}: number of packets delivered`)
        got.forEach((g, i) => {
          assert.equal(g.channel, expected[i].channel, `${key} packet ${i}: channel`)
          assert.equal(g.data.length, expected[i].len, `${key} packet ${i}: length`)
          assert.ok(g.data.equals(expected[i].data), `${key} packet ${i}: bytes`)
        })
        total += got.length
      }
      assert.ok(total > 50)
    })
  })
}

function checkCommand(c: Command, l: Line, where: string): void {
  assert.equal(COMMAND_NAMES[c.command], l.cmd, `${where}: command`)
  assert.equal(c.flags | c.command, l.command_byte, `${where}: command byte`)
  assert.equal(c.channel, l.channel, `${where}: channel`)
  assert.equal(c.seq, l.reliable_seq, `${where}: reliable seq`)
  const flags = [
    ...(c.flags & FLAG_ACKNOWLEDGE ? ['acknowledge'] : []),
    ...(c.flags & FLAG_UNSEQUENCED ? ['unsequenced'] : []),
  ]
  assert.deepEqual(flags, l.flags, `${where}: flags`)
  const record = c as unknown as Record<string, unknown>
  for (const [jsonField, ours] of Object.entries(FIELDS[l.cmd] ?? {})) {
    assert.equal(record[ours], l[jsonField], `${where}: ${jsonField}`)
  }
  if ('data' in c && Buffer.isBuffer(c.data)) {
    if (l.payload) {
      assert.equal(c.data.length, l.payload.len, `${where}: payload length`)
      assert.ok(c.data.equals(bytesOf(l.payload)), `${where}: payload bytes`)
    }
    if (l.fragment_data_hex !== undefined) {
      assert.equal(c.data.length, l.fragment_data_len, `${where}: fragment length`)
      assert.equal(c.data.toString('hex'), l.fragment_data_hex, `${where}: fragment bytes`)
    }
  }
}
