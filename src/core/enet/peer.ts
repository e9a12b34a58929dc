/**
 * Per-peer ENet state (lsalzman/enet `peer.c` + the per-peer half of `protocol.c`): sequence numbers,
 * outgoing queue and sent-reliable list, acknowledgements to send, in-order delivery and fragment
 * reassembly per channel. No I/O here: the host drives it.
 */
import type { EnetPeer, EnetPeerState } from './index.js'
import {
  CMD,
  CONTROL_CHANNEL,
  type Command,
  commandSize,
  encodeCommand,
  FLAG_ACKNOWLEDGE,
  FLAG_UNSEQUENCED,
  PROTOCOL,
} from './protocol.js'

/** ENet's internal peer states (enet.h ENetPeerState). */
export type InternalState =
  | 'disconnected'
  | 'connecting'
  | 'acknowledging_connect'
  | 'connected'
  | 'disconnect_later'
  | 'disconnecting'
  | 'acknowledging_disconnect'
  | 'zombie'

export const PEER = {
  DEFAULT_ROUND_TRIP_TIME: 500,
  PING_INTERVAL: 500,
  TIMEOUT_LIMIT: 32,
  RELIABLE_WINDOWS: 16,
  RELIABLE_WINDOW_SIZE: 0x1000,
  FREE_RELIABLE_WINDOWS: 8,
  /** ENET_PEER_PACKET_THROTTLE_SCALE: packetThrottle is a fraction of this */
  PACKET_THROTTLE_SCALE: 32,
  /** ENET_PEER_DEFAULT_PACKET_THROTTLE */
  DEFAULT_PACKET_THROTTLE: 32,
  PACKET_THROTTLE_ACCELERATION: 2,
  PACKET_THROTTLE_DECELERATION: 2,
  PACKET_THROTTLE_INTERVAL: 5000,
  /**
   * Not in ENet (wire-neutral, the sender's own policy): a reliable command's first retransmission
   * timeout is at least this, whatever rtt + 4 × variance says. ENet's variance decays by a quarter
   * per acknowledgement, so between bursts on a fast link it shrinks to a few ms and the next burst
   * to a receiver that is busy for longer (a JavaScript event loop, an app polling ENet at 20 Hz) is
   * sent again whole. 200 ms is Linux TCP's minimum RTO.
   */
  MINIMUM_RETRANSMIT_TIMEOUT: 200,
  /** ENET_HOST_DEFAULT_MAXIMUM_WAITING_DATA (per peer here) */
  MAXIMUM_WAITING_DATA: 32 * 1024 * 1024,
  /** unreliable packets parked until their reliable predecessor arrives, per channel */
  MAXIMUM_PENDING_UNRELIABLE: 1024,
} as const

export interface OutgoingCommand {
  command: Command
  encoded: Buffer
  /** carries FLAG_ACKNOWLEDGE: kept until acknowledged, retransmitted */
  reliable: boolean
  /** payload bytes counted against the reliable window */
  dataLength: number
  /** carries packet data (ENet: `outgoingCommand->packet != NULL`): SEND_* commands, not control ones */
  packet: boolean
  sentTime: number
  roundTripTimeout: number
  sendAttempts: number
}

export interface Delivery {
  channel: number
  data: Buffer
  reliable: boolean
}

interface IncomingReliable {
  seq: number
  /** 0 for SEND_RELIABLE */
  fragmentCount: number
  fragmentsRemaining: number
  bits?: Uint8Array
  data: Buffer
}

interface PendingUnreliable {
  rel: number
  unrel: number
  data: Buffer
}

export class Channel {
  outRel = 0
  outUnrel = 0
  inRel = 0
  inUnrel = 0
  /** sending side: reliable commands sent and not yet acknowledged, per window of 4096 sequence numbers */
  readonly reliableWindows = new Uint16Array(PEER.RELIABLE_WINDOWS)
  /** sending side: bit w set while reliableWindows[w] > 0 */
  usedReliableWindows = 0
  readonly incomingReliable = new Map<number, IncomingReliable>()
  pendingUnreliable: PendingUnreliable[] = []
}

/** ENet's window test (`enet_peer_queue_incoming_command`): is `seq` acceptable relative to `inRel`? */
export function inReliableWindow(seq: number, inRel: number): boolean {
  let window = Math.floor(seq / PEER.RELIABLE_WINDOW_SIZE)
  const current = Math.floor(inRel / PEER.RELIABLE_WINDOW_SIZE)
  if (seq < inRel) window += PEER.RELIABLE_WINDOWS
  return !(window < current || window >= current + PEER.FREE_RELIABLE_WINDOWS - 1)
}

/**
 * ENet's sending-side reliable-window rule (`enet_protocol_check_outgoing_commands`): a never-sent
 * reliable command that opens a new window of 4096 sequence numbers must wait while the previous
 * window is entirely in flight, or while any of the windows it and the next 9 would use still has
 * unacknowledged commands (so the receiver, which accepts 7 windows ahead, never sees a number it
 * would take for an old one).
 */
export function reliableWindowBlocked(ch: Channel, seq: number): boolean {
  if (seq % PEER.RELIABLE_WINDOW_SIZE !== 0) return false
  const w = Math.floor(seq / PEER.RELIABLE_WINDOW_SIZE)
  if (
    ch.reliableWindows[(w + PEER.RELIABLE_WINDOWS - 1) % PEER.RELIABLE_WINDOWS] >= PEER.RELIABLE_WINDOW_SIZE
  )
    return true
  const span = (1 << (PEER.FREE_RELIABLE_WINDOWS + 2)) - 1
  // 16-bit arithmetic as ENet's usedReliableWindows (an enet_uint16)
  const mask = ((span << w) | (span >>> (PEER.RELIABLE_WINDOWS - w))) & 0xffff
  return (ch.usedReliableWindows & mask) !== 0
}

/** Operations the peer needs from its host (implemented by EnetHost). */
export interface PeerHost {
  peerSend(peer: Peer, channel: number, data: Uint8Array, reliable: boolean): void
  peerDisconnect(peer: Peer, data: number): void
  peerDisconnectNow(peer: Peer, data: number): void
}

export class Peer implements EnetPeer {
  user?: unknown
  internalState: InternalState = 'disconnected'
  /** the 'connect' event was emitted, or the user created this peer with connect() */
  announced = false
  /** the remote's slot for us (written in our headers); 0xFFF until known */
  outgoingPeerId: number = PROTOCOL.MAXIMUM_PEER_ID
  incomingSessionId = 0xff
  outgoingSessionId = 0xff
  connectId = 0
  mtu: number
  windowSize: number = PROTOCOL.MAXIMUM_WINDOW_SIZE
  channelCount = 0
  channels: Channel[] = []
  incomingBandwidth = 0
  outgoingBandwidth = 0
  throttleInterval: number = PEER.PACKET_THROTTLE_INTERVAL
  throttleAcceleration: number = PEER.PACKET_THROTTLE_ACCELERATION
  throttleDeceleration: number = PEER.PACKET_THROTTLE_DECELERATION
  /** peer-wide reliable counter of the control channel 0xFF */
  outgoingReliableSeq = 0
  acknowledgements: { channel: number; seq: number; sentTime: number; command: number }[] = []
  /**
   * Queued, not yet sent, in send order (one list, as ENet ≥ 1.3.18: two lists would let an unreliable
   * packet overtake the reliable one it follows, and the receiver would drop it as stale).
   */
  outgoing: OutgoingCommand[] = []
  /** how many of `outgoing` are unreliable (lets the sender stop scanning early) */
  unreliableQueued = 0
  sentReliable: OutgoingCommand[] = []
  reliableDataInTransit = 0
  roundTripTime: number = PEER.DEFAULT_ROUND_TRIP_TIME
  roundTripTimeVariance = 0
  /** an acknowledgement has been timed (ENet: `lastReceiveTime > 0`): the next sample is smoothed */
  roundTripTimeSampled = false
  /** lowest RTT and highest variance of the current throttle interval, and those of the previous one */
  lowestRoundTripTime: number = PEER.DEFAULT_ROUND_TRIP_TIME
  highestRoundTripTimeVariance = 0
  lastRoundTripTime: number = PEER.DEFAULT_ROUND_TRIP_TIME
  lastRoundTripTimeVariance = 0
  /**
   * ENet's packet throttle (0…32): the reliable window is windowSize × packetThrottle / 32.
   *
   * Not in ENet (wire-neutral, the sender's own policy): ENet also drops about 32 − packetThrottle of
   * every 32 unreliable packets before sending; this host never does. Its RTT is in whole ms, so on
   * loopback or a LAN (lowest RTT 2 ms, variance 1) an acknowledgement 3 ms late already lowers the
   * throttle, and allonet's unreliable traffic — clock replies, one-datagram state diffs — would be
   * thinned by a few ms of scheduling jitter, not by congestion. (Seen in `npm test`: state diffs
   * dropped at 30/32 and 26/32, and a clock reply lost under CI load.)
   */
  packetThrottle: number = PEER.DEFAULT_PACKET_THROTTLE
  packetThrottleLimit: number = PEER.PACKET_THROTTLE_SCALE
  packetThrottleEpoch = 0
  lastReceiveTime = 0
  earliestTimeout = 0
  nextTimeout = 0
  timeoutLimit: number = PEER.TIMEOUT_LIMIT
  timeoutMinimum: number
  timeoutMaximum: number
  waitingData = 0
  eventData = 0
  /** set while the host name given to connect() is being resolved */
  resolving = false

  constructor(
    private readonly host: PeerHost,
    readonly id: number,
    public address: string,
    readonly port: number,
    opts: { mtu: number; timeoutMs: number },
  ) {
    this.mtu = opts.mtu
    this.timeoutMaximum = opts.timeoutMs
    this.timeoutMinimum = Math.max(1, Math.floor(opts.timeoutMs / 2))
  }

  /** anything queued or unacknowledged */
  get busy(): boolean {
    return this.outgoing.length + this.sentReliable.length > 0
  }

  get state(): EnetPeerState {
    switch (this.internalState) {
      case 'connecting':
      case 'acknowledging_connect':
        return 'connecting'
      case 'connected':
        return 'connected'
      case 'disconnect_later':
      case 'disconnecting':
      case 'acknowledging_disconnect':
        return 'disconnecting'
      default:
        return 'disconnected'
    }
  }

  get rttMs(): number {
    return this.roundTripTime
  }

  send(channel: number, data: Uint8Array, opts?: { reliable?: boolean }): void {
    this.host.peerSend(this, channel, data, opts?.reliable ?? true)
  }

  disconnect(data = 0): void {
    this.host.peerDisconnect(this, data)
  }

  disconnectNow(data = 0): void {
    this.host.peerDisconnectNow(this, data)
  }

  setupChannels(count: number): void {
    this.channelCount = count
    this.channels = Array.from({ length: count }, () => new Channel())
  }

  /** `enet_peer_setup_outgoing_command`: assigns sequence numbers, encodes, queues. */
  queueOutgoing(command: Command, dataLength = 0): OutgoingCommand {
    const reliable = (command.flags & FLAG_ACKNOWLEDGE) !== 0
    if (command.channel === CONTROL_CHANNEL) {
      this.outgoingReliableSeq = (this.outgoingReliableSeq + 1) & 0xffff
      command.seq = this.outgoingReliableSeq
    } else {
      const ch = this.channels[command.channel]
      if (reliable) {
        ch.outRel = (ch.outRel + 1) & 0xffff
        ch.outUnrel = 0
        command.seq = ch.outRel
      } else if (command.flags & FLAG_UNSEQUENCED) {
        command.seq = 0
      } else {
        ch.outUnrel = (ch.outUnrel + 1) & 0xffff
        command.seq = ch.outRel
        if (command.command === CMD.SEND_UNRELIABLE) command.unreliableSeq = ch.outUnrel
      }
    }
    const out: OutgoingCommand = {
      command,
      encoded: encodeCommand(command),
      reliable,
      dataLength,
      packet:
        (command.command >= CMD.SEND_RELIABLE && command.command <= CMD.SEND_UNSEQUENCED) ||
        command.command === CMD.SEND_UNRELIABLE_FRAGMENT,
      sentTime: 0,
      roundTripTimeout: 0,
      sendAttempts: 0,
    }
    this.outgoing.push(out)
    if (!reliable) this.unreliableQueued++
    return out
  }

  /** `enet_peer_reset_queues` */
  resetQueues(): void {
    this.acknowledgements = []
    this.outgoing = []
    this.unreliableQueued = 0
    this.sentReliable = []
    this.reliableDataInTransit = 0
    for (const ch of this.channels) {
      ch.incomingReliable.clear()
      ch.pendingUnreliable = []
      ch.reliableWindows.fill(0)
      ch.usedReliableWindows = 0
    }
    this.waitingData = 0
  }

  /** The reliable command goes out for the first time: count it in its channel's window. */
  markReliableSent(oc: OutgoingCommand): void {
    const ch = this.channels[oc.command.channel] as Channel | undefined
    if (!ch || oc.sendAttempts > 0) return
    const w = Math.floor(oc.command.seq / PEER.RELIABLE_WINDOW_SIZE)
    ch.usedReliableWindows |= 1 << w
    ch.reliableWindows[w]++
  }

  /**
   * `enet_protocol_remove_sent_reliable_command`: forgets the acknowledged command and returns it
   * (undefined if unknown: a duplicate acknowledgement).
   */
  removeSentReliable(seq: number, channel: number): OutgoingCommand | undefined {
    let idx = this.sentReliable.findIndex((c) => c.command.seq === seq && c.command.channel === channel)
    let list = this.sentReliable
    if (idx < 0) {
      // already queued again for retransmission
      idx = this.outgoing.findIndex(
        (c) => c.reliable && c.sendAttempts > 0 && c.command.seq === seq && c.command.channel === channel,
      )
      if (idx < 0) return undefined
      list = this.outgoing
    }
    const [cmd] = list.splice(idx, 1)
    if (list === this.sentReliable) this.reliableDataInTransit -= cmd.dataLength
    const ch = this.channels[channel] as Channel | undefined
    if (ch) {
      const w = Math.floor(seq / PEER.RELIABLE_WINDOW_SIZE)
      if (ch.reliableWindows[w] > 0 && --ch.reliableWindows[w] === 0) ch.usedReliableWindows &= ~(1 << w)
    }
    if (this.sentReliable.length > 0) {
      const first = this.sentReliable[0]
      this.nextTimeout = first.sentTime + first.roundTripTimeout
    }
    return cmd
  }

  /**
   * `enet_peer_throttle`: against the previous interval's lowest RTT and highest variance, an RTT no
   * higher opens the throttle by the acceleration, one more than two variances above closes it by the
   * deceleration; when that RTT is within its own variance the throttle goes straight to its limit.
   * Returns 1, -1 or 0 as ENet.
   */
  throttle(rtt: number): number {
    if (this.lastRoundTripTime <= this.lastRoundTripTimeVariance) {
      this.packetThrottle = this.packetThrottleLimit
    } else if (rtt <= this.lastRoundTripTime) {
      this.packetThrottle = Math.min(
        this.packetThrottleLimit,
        this.packetThrottle + this.throttleAcceleration,
      )
      return 1
    } else if (rtt > this.lastRoundTripTime + 2 * this.lastRoundTripTimeVariance) {
      this.packetThrottle = Math.max(0, this.packetThrottle - this.throttleDeceleration)
      return -1
    }
    return 0
  }

  /**
   * On an acknowledgement timed `sample` ms (`enet_protocol_handle_acknowledge`), integer maths as
   * ENet: the first sample sets the RTT (variance half of it); later ones adjust the throttle, then
   * move the RTT by 1/8 and the variance by 1/4 of the difference; every throttle interval the
   * interval's lowest RTT and highest variance become the throttle's reference.
   */
  updateRoundTripTime(sample: number, now: number): void {
    const rtt = Math.max(1, sample)
    if (this.roundTripTimeSampled) {
      this.throttle(rtt)
      this.roundTripTimeVariance -= Math.floor(this.roundTripTimeVariance / 4)
      const diff = Math.abs(rtt - this.roundTripTime)
      this.roundTripTimeVariance += Math.floor(diff / 4)
      this.roundTripTime += rtt >= this.roundTripTime ? Math.floor(diff / 8) : -Math.floor(diff / 8)
    } else {
      this.roundTripTimeSampled = true
      this.roundTripTime = rtt
      this.roundTripTimeVariance = Math.floor((rtt + 1) / 2)
    }
    if (this.roundTripTime < this.lowestRoundTripTime) this.lowestRoundTripTime = this.roundTripTime
    if (this.roundTripTimeVariance > this.highestRoundTripTimeVariance)
      this.highestRoundTripTimeVariance = this.roundTripTimeVariance
    if (this.packetThrottleEpoch === 0 || now - this.packetThrottleEpoch >= this.throttleInterval) {
      this.lastRoundTripTime = this.lowestRoundTripTime
      this.lastRoundTripTimeVariance = Math.max(1, this.highestRoundTripTimeVariance)
      this.lowestRoundTripTime = this.roundTripTime
      this.highestRoundTripTimeVariance = this.roundTripTimeVariance
      this.packetThrottleEpoch = now
    }
  }

  /** A reliable command's first retransmission timeout: ENet's rtt + 4 × variance, with our floor. */
  get retransmitTimeout(): number {
    return Math.max(PEER.MINIMUM_RETRANSMIT_TIMEOUT, this.roundTripTime + 4 * this.roundTripTimeVariance)
  }

  /** The reliable window now (ENet: windowSize × packetThrottle / scale, never below one MTU). */
  get reliableWindowLimit(): number {
    return Math.max(
      Math.floor((this.packetThrottle * this.windowSize) / PEER.PACKET_THROTTLE_SCALE),
      this.mtu,
    )
  }

  /** Reliable in-order delivery: queue SEND_RELIABLE, then deliver what is now in sequence. */
  receiveReliable(channelId: number, seq: number, data: Buffer, out: Delivery[]): boolean {
    if (this.internalState === 'disconnect_later') return true
    const ch = this.channels[channelId]
    if (!inReliableWindow(seq, ch.inRel) || seq === ch.inRel || ch.incomingReliable.has(seq)) return true
    if (seq === ((ch.inRel + 1) & 0xffff)) {
      // the common case: in sequence, deliver without copying
      ch.inRel = seq
      ch.inUnrel = 0
      out.push({ channel: channelId, data, reliable: true })
      this.flushPendingUnreliable(ch, channelId, out)
      this.dispatchReliable(channelId, out)
      return true
    }
    if (this.waitingData + data.length > PEER.MAXIMUM_WAITING_DATA) return false
    this.waitingData += data.length
    ch.incomingReliable.set(seq, { seq, fragmentCount: 0, fragmentsRemaining: 0, data: Buffer.from(data) })
    return true
  }

  /**
   * One SEND_FRAGMENT (`enet_protocol_handle_send_fragment`). Returns false if the command is malformed
   * (the host then stops processing the datagram, as ENet does).
   */
  receiveFragment(
    channelId: number,
    f: {
      startSeq: number
      fragmentCount: number
      fragmentNumber: number
      totalLength: number
      fragmentOffset: number
      data: Buffer
    },
    out: Delivery[],
  ): boolean {
    const ch = this.channels[channelId]
    const len = f.data.length
    if (len === 0 || len > PROTOCOL.MAXIMUM_PACKET_SIZE) return false
    if (!inReliableWindow(f.startSeq, ch.inRel)) return true
    if (
      f.fragmentCount > PROTOCOL.MAXIMUM_FRAGMENT_COUNT ||
      f.fragmentNumber >= f.fragmentCount ||
      f.totalLength > PROTOCOL.MAXIMUM_PACKET_SIZE ||
      f.totalLength < f.fragmentCount ||
      f.fragmentOffset >= f.totalLength ||
      len > f.totalLength - f.fragmentOffset
    ) {
      return false
    }
    if (this.internalState === 'disconnect_later' || f.startSeq === ch.inRel) return true
    let entry = ch.incomingReliable.get(f.startSeq)
    if (entry) {
      if (entry.fragmentCount !== f.fragmentCount || entry.data.length !== f.totalLength) return false
    } else {
      if (this.waitingData + f.totalLength > PEER.MAXIMUM_WAITING_DATA) return false
      entry = {
        seq: f.startSeq,
        fragmentCount: f.fragmentCount,
        fragmentsRemaining: f.fragmentCount,
        bits: new Uint8Array(Math.ceil(f.fragmentCount / 8)),
        data: Buffer.alloc(f.totalLength),
      }
      this.waitingData += f.totalLength
      ch.incomingReliable.set(f.startSeq, entry)
    }
    const bits = entry.bits!
    const byte = f.fragmentNumber >>> 3
    const bit = 1 << (f.fragmentNumber & 7)
    if ((bits[byte] & bit) === 0) {
      bits[byte] |= bit
      entry.fragmentsRemaining--
      f.data.copy(entry.data, f.fragmentOffset)
      if (entry.fragmentsRemaining <= 0) this.dispatchReliable(channelId, out)
    }
    return true
  }

  /** SEND_UNRELIABLE: deliver if newer than the last one of the current reliable number; park if ahead. */
  receiveUnreliable(channelId: number, rel: number, unrel: number, data: Buffer, out: Delivery[]): void {
    if (this.internalState === 'disconnect_later') return
    const ch = this.channels[channelId]
    if (!inReliableWindow(rel, ch.inRel)) return
    if (rel === ch.inRel) {
      if (unrel <= ch.inUnrel) return
      ch.inUnrel = unrel
      out.push({ channel: channelId, data, reliable: false })
      return
    }
    if (ch.pendingUnreliable.length >= PEER.MAXIMUM_PENDING_UNRELIABLE) ch.pendingUnreliable.shift()
    ch.pendingUnreliable.push({ rel, unrel, data: Buffer.from(data) })
  }

  /** `enet_peer_dispatch_incoming_reliable_commands` + the unreliable ones that were waiting. */
  private dispatchReliable(channelId: number, out: Delivery[]): void {
    const ch = this.channels[channelId]
    for (;;) {
      const next = (ch.inRel + 1) & 0xffff
      const entry = ch.incomingReliable.get(next)
      if (!entry || entry.fragmentsRemaining > 0) break
      ch.incomingReliable.delete(next)
      ch.inRel = entry.fragmentCount > 0 ? (entry.seq + entry.fragmentCount - 1) & 0xffff : entry.seq
      this.waitingData -= entry.data.length
      ch.inUnrel = 0
      out.push({ channel: channelId, data: entry.data, reliable: true })
      // unreliable packets that were waiting for exactly this reliable one follow it
      this.flushPendingUnreliable(ch, channelId, out)
    }
  }

  private flushPendingUnreliable(ch: Channel, channelId: number, out: Delivery[]): void {
    if (ch.pendingUnreliable.length === 0) return
    const keep: PendingUnreliable[] = []
    const now: PendingUnreliable[] = []
    for (const p of ch.pendingUnreliable) {
      if (p.rel === ch.inRel) now.push(p)
      else if (inReliableWindow(p.rel, ch.inRel)) keep.push(p)
    }
    now.sort((a, b) => a.unrel - b.unrel)
    for (const p of now) {
      if (p.unrel <= ch.inUnrel) continue
      ch.inUnrel = p.unrel
      out.push({ channel: channelId, data: p.data, reliable: false })
    }
    ch.pendingUnreliable = keep
  }
}

/** Bytes a command takes in a datagram (re-exported for the host's packing). */
export const sizeOf = commandSize
