/**
 * ENet 1.3 wire format (lsalzman/enet `include/enet/protocol.h`): pure encode/decode functions, one per
 * command, no state. All multi-byte fields are big-endian. No checksum, no compression (allonet installs
 * neither; see docs/readme/enet.md).
 */

export const PROTOCOL = {
  MINIMUM_MTU: 576,
  MAXIMUM_MTU: 4096,
  MAXIMUM_PACKET_COMMANDS: 32,
  MINIMUM_WINDOW_SIZE: 4096,
  MAXIMUM_WINDOW_SIZE: 65536,
  MINIMUM_CHANNEL_COUNT: 1,
  MAXIMUM_CHANNEL_COUNT: 255,
  MAXIMUM_PEER_ID: 0xfff,
  MAXIMUM_FRAGMENT_COUNT: 1024 * 1024,
  /** ENET_HOST_DEFAULT_MAXIMUM_PACKET_SIZE */
  MAXIMUM_PACKET_SIZE: 32 * 1024 * 1024,
} as const

/** Command numbers (low nibble of the command byte). */
export const CMD = {
  ACKNOWLEDGE: 1,
  CONNECT: 2,
  VERIFY_CONNECT: 3,
  DISCONNECT: 4,
  PING: 5,
  SEND_RELIABLE: 6,
  SEND_UNRELIABLE: 7,
  SEND_FRAGMENT: 8,
  SEND_UNSEQUENCED: 9,
  BANDWIDTH_LIMIT: 10,
  THROTTLE_CONFIGURE: 11,
  SEND_UNRELIABLE_FRAGMENT: 12,
} as const
export const COMMAND_COUNT = 13
export const COMMAND_MASK = 0x0f
export const FLAG_ACKNOWLEDGE = 0x80
export const FLAG_UNSEQUENCED = 0x40
export const HEADER_FLAG_COMPRESSED = 1 << 14
export const HEADER_FLAG_SENT_TIME = 1 << 15
export const HEADER_SESSION_MASK = 3 << 12
export const HEADER_SESSION_SHIFT = 12
export const CONTROL_CHANNEL = 0xff

/** Fixed size of each command including its 4-byte header (index = command number; 0 = invalid). */
export const COMMAND_SIZES: readonly number[] = [0, 8, 48, 44, 8, 4, 6, 8, 24, 8, 12, 16, 24]

/** Names as used in the trace JSONL (`cmd` field). */
export const COMMAND_NAMES: readonly string[] = [
  'NONE',
  'ACKNOWLEDGE',
  'CONNECT',
  'VERIFY_CONNECT',
  'DISCONNECT',
  'PING',
  'SEND_RELIABLE',
  'SEND_UNRELIABLE',
  'SEND_FRAGMENT',
  'SEND_UNSEQUENCED',
  'BANDWIDTH_LIMIT',
  'THROTTLE_CONFIGURE',
  'SEND_UNRELIABLE_FRAGMENT',
]

/** Fields every command has: the 4-byte command header. `flags` = command byte & 0xF0. */
interface Base {
  flags: number
  channel: number
  /** reliableSequenceNumber of the command header */
  seq: number
}

export interface ConnectBody {
  outgoingPeerId: number
  incomingSessionId: number
  outgoingSessionId: number
  mtu: number
  windowSize: number
  channelCount: number
  incomingBandwidth: number
  outgoingBandwidth: number
  throttleInterval: number
  throttleAcceleration: number
  throttleDeceleration: number
  connectId: number
}

export interface FragmentBody {
  startSeq: number
  fragmentCount: number
  fragmentNumber: number
  totalLength: number
  fragmentOffset: number
  data: Buffer
}

export type Command =
  | (Base & { command: 1; receivedSeq: number; receivedSentTime: number })
  | (Base & { command: 2; data: number } & ConnectBody)
  | (Base & { command: 3 } & ConnectBody)
  | (Base & { command: 4; data: number })
  | (Base & { command: 5 })
  | (Base & { command: 6; data: Buffer })
  | (Base & { command: 7; unreliableSeq: number; data: Buffer })
  | (Base & { command: 8 } & FragmentBody)
  | (Base & { command: 9; unsequencedGroup: number; data: Buffer })
  | (Base & { command: 10; incomingBandwidth: number; outgoingBandwidth: number })
  | (Base & { command: 11; interval: number; acceleration: number; deceleration: number })
  | (Base & { command: 12 } & FragmentBody)

export type CommandOf<N extends Command['command']> = Extract<Command, { command: N }>

export interface DatagramHeader {
  /** bits 0–11 of the peer word */
  peerId: number
  /** bits 12–13 */
  session: number
  compressed: boolean
  /** present iff header bit 15 was set */
  sentTime?: number
}

export interface DecodedDatagram {
  header: DatagramHeader
  /** Commands decoded before the end of the datagram or the first malformed one. */
  commands: Command[]
  /** Why decoding stopped early (undefined = every byte consumed). */
  error?: string
}

/** Bytes of variable data that follow the fixed part, read from the fixed part (0 if none). */
function dataLengthField(buf: Buffer, at: number, command: number): number {
  switch (command) {
    case CMD.SEND_RELIABLE:
      return buf.readUInt16BE(at + 4)
    case CMD.SEND_UNRELIABLE:
    case CMD.SEND_UNSEQUENCED:
    case CMD.SEND_FRAGMENT:
    case CMD.SEND_UNRELIABLE_FRAGMENT:
      return buf.readUInt16BE(at + 6)
    default:
      return 0
  }
}

function decodeConnectBody(b: Buffer, o: number): ConnectBody {
  return {
    outgoingPeerId: b.readUInt16BE(o + 4),
    incomingSessionId: b[o + 6],
    outgoingSessionId: b[o + 7],
    mtu: b.readUInt32BE(o + 8),
    windowSize: b.readUInt32BE(o + 12),
    channelCount: b.readUInt32BE(o + 16),
    incomingBandwidth: b.readUInt32BE(o + 20),
    outgoingBandwidth: b.readUInt32BE(o + 24),
    throttleInterval: b.readUInt32BE(o + 28),
    throttleAcceleration: b.readUInt32BE(o + 32),
    throttleDeceleration: b.readUInt32BE(o + 36),
    connectId: b.readUInt32BE(o + 40),
  }
}

/**
 * Decodes one command starting at `at`. `data` fields are views into `buf` (copy them to keep them).
 * Returns the command and the offset after it, or an error string (as ENet, which stops parsing there).
 */
export function decodeCommand(
  buf: Buffer,
  at: number,
): { command: Command; next: number } | { error: string } {
  if (at + 4 > buf.length) return { error: 'truncated command header' }
  const byte = buf[at]
  const number = byte & COMMAND_MASK
  if (number === 0 || number >= COMMAND_COUNT) return { error: `bad command number ${number}` }
  const size = COMMAND_SIZES[number]
  if (at + size > buf.length) return { error: `truncated ${COMMAND_NAMES[number]}` }
  const dataLength = dataLengthField(buf, at, number)
  const end = at + size + dataLength
  if (end > buf.length) return { error: `${COMMAND_NAMES[number]} data runs past the datagram` }
  const base = { flags: byte & 0xf0, channel: buf[at + 1], seq: buf.readUInt16BE(at + 2) }
  const data = () => buf.subarray(at + size, end)
  let command: Command
  switch (number) {
    case CMD.ACKNOWLEDGE:
      command = {
        command: 1,
        ...base,
        receivedSeq: buf.readUInt16BE(at + 4),
        receivedSentTime: buf.readUInt16BE(at + 6),
      }
      break
    case CMD.CONNECT:
      command = { command: 2, ...base, ...decodeConnectBody(buf, at), data: buf.readUInt32BE(at + 44) }
      break
    case CMD.VERIFY_CONNECT:
      command = { command: 3, ...base, ...decodeConnectBody(buf, at) }
      break
    case CMD.DISCONNECT:
      command = { command: 4, ...base, data: buf.readUInt32BE(at + 4) }
      break
    case CMD.PING:
      command = { command: 5, ...base }
      break
    case CMD.SEND_RELIABLE:
      command = { command: 6, ...base, data: data() }
      break
    case CMD.SEND_UNRELIABLE:
      command = { command: 7, ...base, unreliableSeq: buf.readUInt16BE(at + 4), data: data() }
      break
    case CMD.SEND_UNSEQUENCED:
      command = { command: 9, ...base, unsequencedGroup: buf.readUInt16BE(at + 4), data: data() }
      break
    case CMD.SEND_FRAGMENT:
    case CMD.SEND_UNRELIABLE_FRAGMENT:
      command = {
        command: number,
        ...base,
        startSeq: buf.readUInt16BE(at + 4),
        fragmentCount: buf.readUInt32BE(at + 8),
        fragmentNumber: buf.readUInt32BE(at + 12),
        totalLength: buf.readUInt32BE(at + 16),
        fragmentOffset: buf.readUInt32BE(at + 20),
        data: data(),
      }
      break
    case CMD.BANDWIDTH_LIMIT:
      command = {
        command: 10,
        ...base,
        incomingBandwidth: buf.readUInt32BE(at + 4),
        outgoingBandwidth: buf.readUInt32BE(at + 8),
      }
      break
    default:
      command = {
        command: 11,
        ...base,
        interval: buf.readUInt32BE(at + 4),
        acceleration: buf.readUInt32BE(at + 8),
        deceleration: buf.readUInt32BE(at + 12),
      }
  }
  return { command, next: end }
}

/** Decodes a whole datagram: header, then commands back to back until the end. */
export function decodeDatagram(buf: Buffer): DecodedDatagram | { error: string; header?: undefined } {
  if (buf.length < 2) return { error: 'datagram shorter than the header' }
  const word = buf.readUInt16BE(0)
  const header: DatagramHeader = {
    peerId: word & PROTOCOL.MAXIMUM_PEER_ID,
    session: (word & HEADER_SESSION_MASK) >> HEADER_SESSION_SHIFT,
    compressed: (word & HEADER_FLAG_COMPRESSED) !== 0,
  }
  let at = 2
  if (word & HEADER_FLAG_SENT_TIME) {
    if (buf.length < 4) return { error: 'datagram shorter than the header' }
    header.sentTime = buf.readUInt16BE(2)
    at = 4
  }
  const commands: Command[] = []
  if (header.compressed) return { header, commands, error: 'compressed datagrams are not supported' }
  while (at < buf.length) {
    const r = decodeCommand(buf, at)
    if ('error' in r) return { header, commands, error: r.error }
    commands.push(r.command)
    at = r.next
  }
  return { header, commands }
}

/** Size on the wire of a command (fixed part + data). */
export function commandSize(c: Command): number {
  const fixed = COMMAND_SIZES[c.command]
  return 'data' in c && typeof c.data !== 'number' ? fixed + c.data.length : fixed
}

function writeConnectBody(b: Buffer, c: ConnectBody): void {
  b.writeUInt16BE(c.outgoingPeerId, 4)
  b[6] = c.incomingSessionId
  b[7] = c.outgoingSessionId
  b.writeUInt32BE(c.mtu >>> 0, 8)
  b.writeUInt32BE(c.windowSize >>> 0, 12)
  b.writeUInt32BE(c.channelCount >>> 0, 16)
  b.writeUInt32BE(c.incomingBandwidth >>> 0, 20)
  b.writeUInt32BE(c.outgoingBandwidth >>> 0, 24)
  b.writeUInt32BE(c.throttleInterval >>> 0, 28)
  b.writeUInt32BE(c.throttleAcceleration >>> 0, 32)
  b.writeUInt32BE(c.throttleDeceleration >>> 0, 36)
  b.writeUInt32BE(c.connectId >>> 0, 40)
}

/** Encodes one command (fixed part and data) into a fresh buffer. */
export function encodeCommand(c: Command): Buffer {
  const b = Buffer.alloc(commandSize(c))
  b[0] = (c.flags & 0xf0) | c.command
  b[1] = c.channel
  b.writeUInt16BE(c.seq & 0xffff, 2)
  switch (c.command) {
    case 1:
      b.writeUInt16BE(c.receivedSeq & 0xffff, 4)
      b.writeUInt16BE(c.receivedSentTime & 0xffff, 6)
      break
    case 2:
      writeConnectBody(b, c)
      b.writeUInt32BE(c.data >>> 0, 44)
      break
    case 3:
      writeConnectBody(b, c)
      break
    case 4:
      b.writeUInt32BE(c.data >>> 0, 4)
      break
    case 5:
      break
    case 6:
      b.writeUInt16BE(c.data.length, 4)
      c.data.copy(b, 6)
      break
    case 7:
      b.writeUInt16BE(c.unreliableSeq & 0xffff, 4)
      b.writeUInt16BE(c.data.length, 6)
      c.data.copy(b, 8)
      break
    case 9:
      b.writeUInt16BE(c.unsequencedGroup & 0xffff, 4)
      b.writeUInt16BE(c.data.length, 6)
      c.data.copy(b, 8)
      break
    case 8:
    case 12:
      b.writeUInt16BE(c.startSeq & 0xffff, 4)
      b.writeUInt16BE(c.data.length, 6)
      b.writeUInt32BE(c.fragmentCount >>> 0, 8)
      b.writeUInt32BE(c.fragmentNumber >>> 0, 12)
      b.writeUInt32BE(c.totalLength >>> 0, 16)
      b.writeUInt32BE(c.fragmentOffset >>> 0, 20)
      c.data.copy(b, 24)
      break
    case 10:
      b.writeUInt32BE(c.incomingBandwidth >>> 0, 4)
      b.writeUInt32BE(c.outgoingBandwidth >>> 0, 8)
      break
    case 11:
      b.writeUInt32BE(c.interval >>> 0, 4)
      b.writeUInt32BE(c.acceleration >>> 0, 8)
      b.writeUInt32BE(c.deceleration >>> 0, 12)
      break
  }
  return b
}

/** Encodes the 2- or 4-byte datagram header. */
export function encodeHeader(h: DatagramHeader): Buffer {
  const hasTime = h.sentTime !== undefined
  const b = Buffer.alloc(hasTime ? 4 : 2)
  let word = (h.peerId & PROTOCOL.MAXIMUM_PEER_ID) | ((h.session & 3) << HEADER_SESSION_SHIFT)
  if (h.compressed) word |= HEADER_FLAG_COMPRESSED
  if (hasTime) word |= HEADER_FLAG_SENT_TIME
  b.writeUInt16BE(word, 0)
  if (hasTime) b.writeUInt16BE(h.sentTime! & 0xffff, 2)
  return b
}

/** Encodes a datagram: header followed by the commands, back to back. */
export function encodeDatagram(h: DatagramHeader, commands: readonly Command[]): Buffer {
  return Buffer.concat([encodeHeader(h), ...commands.map(encodeCommand)])
}
