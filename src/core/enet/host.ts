/**
 * ENet host (lsalzman/enet `host.c` + `protocol.c`): one UDP socket, a table of peer slots, the incoming
 * datagram loop with one handler per command number (dispatched from a table), and a service pass that
 * sends acknowledgements, queued commands, retransmissions, pings and bandwidth limits and detects timeouts.
 */
import dgram from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { EventEmitter } from 'node:events'
import { isIP } from 'node:net'
import type {
  EnetClientOptions,
  EnetDisconnectReason,
  EnetHostEvents,
  EnetHostOptions,
  EnetPeer,
} from './index.js'
import {
  type Delivery,
  type InternalState,
  type OutgoingCommand,
  PEER,
  Peer,
  type PeerHost,
  reliableWindowBlocked,
} from './peer.js'
import {
  CMD,
  CONTROL_CHANNEL,
  type Command,
  type CommandOf,
  type DatagramHeader,
  decodeDatagram,
  encodeCommand,
  encodeHeader,
  FLAG_ACKNOWLEDGE,
  FLAG_UNSEQUENCED,
  PROTOCOL,
} from './protocol.js'

/** Counters, mostly for tests and diagnostics. */
export interface EnetHostStats {
  datagramsIn: number
  datagramsOut: number
  bytesIn: number
  bytesOut: number
  /** datagrams dropped whole (too short/long, compressed, unknown peer, wrong address or session) */
  dropped: number
  /** datagrams whose commands stopped early (malformed command or a handler refused one) */
  rejected: number
  /** reliable commands sent again after their retransmission timeout */
  retransmits: number
  /**
   * retransmissions found needless afterwards: the acknowledgement that came back was for an earlier
   * transmission of the command (it was late, not lost)
   */
  spuriousRetransmits: number
  /** exceptions caught while handling a datagram (should stay 0: a bug if not) */
  internalErrors: number
  /** last reason a datagram was dropped or rejected */
  lastDrop?: string
}

type PendingEvent =
  | { type: 'connect'; peer: Peer; data: number }
  | { type: 'receive'; peer: Peer; channel: number; data: Buffer; reliable: boolean }
  | { type: 'disconnect'; peer: Peer; reason: EnetDisconnectReason; data: number }

type Handler = (peer: Peer, command: Command, header: DatagramHeader, out: Delivery[]) => boolean

const SERVICE_INTERVAL_MS = 10
const BANDWIDTH_THROTTLE_INTERVAL_MS = 1000
const HEADER_SIZE = 4
const RECEIVE_BUFFER_SIZE = 1024 * 1024
const FRAGMENT_OVERHEAD = HEADER_SIZE + 24

const clampMtu = (m: number) => Math.min(PROTOCOL.MAXIMUM_MTU, Math.max(PROTOCOL.MINIMUM_MTU, m >>> 0))
const clampWindow = (w: number) =>
  Math.min(PROTOCOL.MAXIMUM_WINDOW_SIZE, Math.max(PROTOCOL.MINIMUM_WINDOW_SIZE, w >>> 0))
const ACTIVE: readonly InternalState[] = ['connected', 'disconnect_later']

export class EnetHost extends EventEmitter<EnetHostEvents> implements PeerHost {
  readonly stats: EnetHostStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped: 0,
    rejected: 0,
    retransmits: 0,
    spuriousRetransmits: 0,
    internalErrors: 0,
  }
  /**
   * Test hook (simulated packet loss): return false to drop an outgoing datagram instead of sending it.
   * Not part of the public API in index.ts.
   */
  sendFilter?: (datagram: Buffer, address: string, port: number) => boolean

  private readonly socket = dgram.createSocket('udp4')
  private readonly peers: (Peer | undefined)[]
  /** per-slot session counters; they survive the slot's reuse (ENet never resets them) */
  private readonly slotSessions: { incoming: number; outgoing: number }[]
  private readonly channelLimit: number
  private readonly timeoutMs: number
  private readonly mtu: number
  private readonly incomingBandwidth = 0
  private readonly outgoingBandwidth = 0
  private readonly epoch = performance.now()
  private serviceTime = 1
  private timer?: NodeJS.Timeout
  private flushScheduled = false
  private events: PendingEvent[] = []
  private bandwidthDirty = false
  private lastBandwidthThrottle = 0
  private closed = false
  private readonly handlers: (Handler | undefined)[] = []

  private constructor(opts: EnetHostOptions) {
    super()
    const peerLimit = Math.min(PROTOCOL.MAXIMUM_PEER_ID, Math.max(1, opts.peerLimit ?? 128))
    this.peers = new Array(peerLimit).fill(undefined)
    this.slotSessions = Array.from({ length: peerLimit }, () => ({ incoming: 0xff, outgoing: 0xff }))
    this.channelLimit = Math.min(255, Math.max(1, opts.channelLimit ?? 255))
    this.timeoutMs = Math.max(100, opts.timeoutMs ?? 20000)
    this.mtu = clampMtu(opts.mtu ?? 1400)
    // one handler per command number (CONNECT is special: it arrives before there is a peer)
    this.handlers[CMD.ACKNOWLEDGE] = (p, c, h) => this.handleAcknowledge(p, c as CommandOf<1>, h)
    this.handlers[CMD.VERIFY_CONNECT] = (p, c) => this.handleVerifyConnect(p, c as CommandOf<3>)
    this.handlers[CMD.DISCONNECT] = (p, c) => this.handleDisconnect(p, c as CommandOf<4>)
    this.handlers[CMD.PING] = (p) => ACTIVE.includes(p.internalState)
    this.handlers[CMD.SEND_RELIABLE] = (p, c, _h, out) => this.handleSendReliable(p, c as CommandOf<6>, out)
    this.handlers[CMD.SEND_UNRELIABLE] = (p, c, _h, out) =>
      this.handleSendUnreliable(p, c as CommandOf<7>, out)
    this.handlers[CMD.SEND_FRAGMENT] = (p, c, _h, out) => this.handleSendFragment(p, c as CommandOf<8>, out)
    this.handlers[CMD.SEND_UNSEQUENCED] = (p, c, _h, out) =>
      this.handleSendUnsequenced(p, c as CommandOf<9>, out)
    this.handlers[CMD.BANDWIDTH_LIMIT] = (p, c) => this.handleBandwidthLimit(p, c as CommandOf<10>)
    this.handlers[CMD.THROTTLE_CONFIGURE] = (p, c) => this.handleThrottleConfigure(p, c as CommandOf<11>)
    // unreliable fragments are never sent by allonet; accepted (so the datagram goes on) but not reassembled
    this.handlers[CMD.SEND_UNRELIABLE_FRAGMENT] = (p, c) => this.dataAllowed(p, c.channel)
  }

  /** A host bound to `opts.host`:`opts.port` (default 127.0.0.1, ephemeral), ready to accept peers. */
  static async listen(opts: EnetHostOptions): Promise<EnetHost> {
    const host = new EnetHost(opts)
    await host.bind(opts.host ?? '127.0.0.1', opts.port ?? 0)
    return host
  }

  /** A host for outgoing connections only: ephemeral port, one peer slot per connect(). */
  static async client(opts: EnetClientOptions = {}): Promise<EnetHost> {
    const host = new EnetHost({ ...opts, peerLimit: 16 })
    await host.bind('0.0.0.0', 0)
    return host
  }

  get address(): { address: string; port: number } {
    const a = this.socket.address()
    return { address: a.address, port: a.port }
  }

  /** Starts connecting; 'connect' fires once the remote's VERIFY_CONNECT arrives. */
  connect(host: string, port: number, channelCount: number, data = 0): EnetPeer {
    if (this.closed) throw new Error('EnetHost.connect: the host is closed')
    const slot = this.peers.indexOf(undefined)
    if (slot < 0) throw new Error('EnetHost.connect: no free peer slot')
    const literal = isIP(host) ? host : host === 'localhost' ? '127.0.0.1' : ''
    const peer = new Peer(this, slot, literal || host, port, { mtu: this.mtu, timeoutMs: this.timeoutMs })
    peer.internalState = 'connecting'
    peer.announced = true
    peer.connectId = (Math.random() * 0x100000000) >>> 0
    peer.setupChannels(Math.min(this.channelLimit, Math.max(1, channelCount)))
    peer.windowSize = this.peerWindowSize(peer)
    peer.lastReceiveTime = this.now()
    this.peers[slot] = peer
    peer.queueOutgoing({
      command: CMD.CONNECT,
      flags: FLAG_ACKNOWLEDGE,
      channel: CONTROL_CHANNEL,
      seq: 0,
      outgoingPeerId: slot,
      incomingSessionId: peer.incomingSessionId,
      outgoingSessionId: peer.outgoingSessionId,
      mtu: peer.mtu,
      windowSize: this.outgoingBandwidth === 0 ? PROTOCOL.MAXIMUM_WINDOW_SIZE : peer.windowSize,
      channelCount: peer.channelCount,
      incomingBandwidth: this.incomingBandwidth,
      outgoingBandwidth: this.outgoingBandwidth,
      throttleInterval: peer.throttleInterval,
      throttleAcceleration: peer.throttleAcceleration,
      throttleDeceleration: peer.throttleDeceleration,
      connectId: peer.connectId,
      data: data >>> 0,
    })
    if (!literal) {
      peer.resolving = true
      lookup(host, { family: 4 }).then(
        (r) => {
          peer.address = r.address
          peer.resolving = false
          this.scheduleFlush()
        },
        () => {
          if (this.peers[peer.id] === peer) this.notifyDisconnect(peer, 'timeout', 0)
          this.dispatchEvents()
        },
      )
    } else {
      this.scheduleFlush()
    }
    return peer
  }

  /** Sends everything queued now (normally done within a few ms by the service loop). */
  flush(): void {
    if (this.closed) return
    this.service()
  }

  /** Disconnects every peer (waits up to 1 s for their acknowledgements), then closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return
    for (const peer of this.peers) {
      if (!peer) continue
      if (ACTIVE.includes(peer.internalState)) this.startDisconnect(peer, 0)
      else if (peer.internalState !== 'disconnecting') this.peerDisconnectNow(peer, 0)
    }
    this.service()
    const deadline = Date.now() + 1000
    while (this.peers.some((p) => p) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    for (const peer of this.peers) if (peer) this.peerDisconnectNow(peer, 0)
    this.closed = true
    clearInterval(this.timer)
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }

  // ---------------------------------------------------------------- PeerHost (called by Peer methods)

  peerSend(peer: Peer, channel: number, data: Uint8Array, reliable: boolean): void {
    if (peer.internalState !== 'connected' || this.peers[peer.id] !== peer) return
    if (!Number.isInteger(channel) || channel < 0 || channel >= peer.channelCount) {
      throw new RangeError(`EnetPeer.send: channel ${channel} is not in 0…${peer.channelCount - 1}`)
    }
    if (data.length > PROTOCOL.MAXIMUM_PACKET_SIZE) {
      throw new RangeError(
        `EnetPeer.send: ${data.length} bytes exceed ENet's ${PROTOCOL.MAXIMUM_PACKET_SIZE}`,
      )
    }
    const buf = Buffer.from(data)
    const fragmentLength = peer.mtu - FRAGMENT_OVERHEAD
    const ch = peer.channels[channel]
    if (buf.length > fragmentLength) {
      // fragments are always reliable (ENet without ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT)
      const count = Math.ceil(buf.length / fragmentLength)
      const startSeq = (ch.outRel + 1) & 0xffff
      for (let i = 0; i < count; i++) {
        const part = buf.subarray(i * fragmentLength, Math.min(buf.length, (i + 1) * fragmentLength))
        peer.queueOutgoing(
          {
            command: CMD.SEND_FRAGMENT,
            flags: FLAG_ACKNOWLEDGE,
            channel,
            seq: 0,
            startSeq,
            fragmentCount: count,
            fragmentNumber: i,
            totalLength: buf.length,
            fragmentOffset: i * fragmentLength,
            data: part,
          },
          part.length,
        )
      }
    } else if (reliable || ch.outUnrel >= 0xffff) {
      peer.queueOutgoing(
        { command: CMD.SEND_RELIABLE, flags: FLAG_ACKNOWLEDGE, channel, seq: 0, data: buf },
        buf.length,
      )
    } else {
      peer.queueOutgoing({
        command: CMD.SEND_UNRELIABLE,
        flags: 0,
        channel,
        seq: 0,
        unreliableSeq: 0,
        data: buf,
      })
    }
    this.scheduleFlush()
  }

  /** Graceful (`enet_peer_disconnect_later`): queued data first, then DISCONNECT. */
  peerDisconnect(peer: Peer, data: number): void {
    if (this.peers[peer.id] !== peer) return
    const s = peer.internalState
    if (s === 'connected') {
      if (peer.busy) {
        peer.internalState = 'disconnect_later'
        peer.eventData = data >>> 0
      } else {
        this.startDisconnect(peer, data)
      }
      this.scheduleFlush()
    } else if (s === 'connecting' || s === 'acknowledging_connect') {
      this.peerDisconnectNow(peer, data)
    }
  }

  /** Forced (`enet_peer_disconnect_now`): one unsequenced DISCONNECT, then the peer is forgotten. */
  peerDisconnectNow(peer: Peer, data: number): void {
    if (this.peers[peer.id] !== peer || peer.internalState === 'disconnected') return
    if (peer.internalState !== 'zombie' && peer.internalState !== 'disconnecting' && !this.closed) {
      peer.resetQueues()
      peer.queueOutgoing({
        command: CMD.DISCONNECT,
        flags: FLAG_UNSEQUENCED,
        channel: CONTROL_CHANNEL,
        seq: 0,
        data,
      })
      this.sendPeer(peer, false)
    }
    this.notifyDisconnect(peer, 'disconnect', 0)
    this.dispatchEvents()
  }

  // ---------------------------------------------------------------- socket

  private bind(address: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        this.closed = true
        reject(err)
      }
      this.socket.once('error', onError)
      this.socket.bind({ address, port, exclusive: true }, () => {
        this.socket.off('error', onError)
        try {
          // ENet asks for 256 KiB; a JavaScript host also has to ride out its own event-loop pauses
          // (GC, a big JSON state) while 50 peers keep sending: 1 MiB (the kernel caps it at rmem_max).
          // Not more: under overload a deeper queue only adds its drain time to every RTT.
          this.socket.setRecvBufferSize(RECEIVE_BUFFER_SIZE)
          this.socket.setSendBufferSize(256 * 1024)
        } catch {
          // the OS may refuse; ENet ignores that too
        }
        this.socket.on('error', (err) => {
          if (this.listenerCount('error') > 0) this.emit('error', err)
        })
        this.socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port))
        this.timer = setInterval(() => this.service(), SERVICE_INTERVAL_MS)
        this.timer.unref()
        resolve()
      })
    })
  }

  private now(): number {
    return Math.floor(performance.now() - this.epoch) + 1
  }

  private readonly onSent = (err: Error | null) => {
    if (err) this.stats.lastDrop = `send: ${err.message}`
  }

  /** Sends one datagram given as its parts (header, commands), without concatenating them. */
  private transmit(parts: Buffer[], peer: Peer): void {
    if (this.closed) return
    if (this.sendFilter && !this.sendFilter(Buffer.concat(parts), peer.address, peer.port)) return
    this.stats.datagramsOut++
    for (const p of parts) this.stats.bytesOut += p.length
    this.socket.send(parts, peer.port, peer.address, this.onSent)
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      if (!this.closed) this.service()
    })
  }

  private dispatchEvents(): void {
    while (this.events.length > 0) {
      const e = this.events.shift()!
      if (e.type === 'connect') this.emit('connect', e.peer, e.data)
      else if (e.type === 'receive') this.emit('receive', e.peer, e.channel, e.data, e.reliable)
      else this.emit('disconnect', e.peer, e.reason, e.data)
    }
  }

  private drop(reason: string): void {
    this.stats.dropped++
    this.stats.lastDrop = reason
  }

  // ---------------------------------------------------------------- incoming (enet_protocol_handle_incoming_commands)

  private onDatagram(msg: Buffer, address: string, port: number): void {
    if (this.closed) return
    this.stats.datagramsIn++
    this.stats.bytesIn += msg.length
    try {
      this.handleDatagram(msg, address, port)
    } catch (err) {
      this.stats.internalErrors++
      this.stats.lastDrop = `internal error: ${(err as Error).message}`
    }
    this.scheduleFlush()
    this.dispatchEvents()
  }

  private handleDatagram(msg: Buffer, address: string, port: number): void {
    if (msg.length > PROTOCOL.MAXIMUM_MTU) {
      this.drop('datagram larger than 4096 bytes')
      return
    }
    const decoded = decodeDatagram(msg)
    if (!decoded.header) {
      this.drop(decoded.error)
      return
    }
    const { header, commands } = decoded
    if (header.compressed) {
      this.drop('compressed datagram')
      return
    }
    this.serviceTime = this.now()
    let peer: Peer | undefined
    if (header.peerId !== PROTOCOL.MAXIMUM_PEER_ID) {
      peer = this.peers[header.peerId]
      if (
        !peer ||
        peer.internalState === 'disconnected' ||
        peer.internalState === 'zombie' ||
        peer.address !== address ||
        peer.port !== port ||
        (peer.outgoingPeerId < PROTOCOL.MAXIMUM_PEER_ID && header.session !== peer.incomingSessionId)
      ) {
        this.drop('unknown peer, address or session')
        return
      }
    }
    let stopped = decoded.error
    for (const command of commands) {
      if (command.command === CMD.CONNECT) {
        if (peer) {
          stopped = 'CONNECT on a connected peer'
          break
        }
        peer = this.handleConnect(command, address, port)
        if (!peer) {
          stopped = 'CONNECT refused'
          break
        }
        continue // ACKNOWLEDGING_CONNECT: VERIFY_CONNECT is the acknowledgement
      }
      if (!peer) {
        stopped = 'command before CONNECT'
        break
      }
      const out: Delivery[] = []
      const ok = this.handlers[command.command]!(peer, command, header, out)
      for (const d of out) this.events.push({ type: 'receive', peer, ...d })
      if (!ok) {
        stopped = `${command.command} refused`
        break
      }
      if (command.flags & FLAG_ACKNOWLEDGE) {
        if (header.sentTime === undefined) {
          stopped = 'acknowledge flag without sentTime'
          break
        }
        this.queueAcknowledgement(peer, command, header.sentTime)
      }
    }
    if (stopped) {
      this.stats.rejected++
      this.stats.lastDrop = stopped
    }
  }

  private queueAcknowledgement(peer: Peer, command: Command, sentTime: number): void {
    switch (peer.internalState) {
      case 'disconnecting':
      case 'acknowledging_connect':
      case 'disconnected':
      case 'zombie':
        return
      case 'acknowledging_disconnect':
        if (command.command !== CMD.DISCONNECT) return
        break
    }
    if (command.channel < peer.channelCount) {
      // ENet does not acknowledge commands in the window just past the free ones
      const ch = peer.channels[command.channel]
      let window = Math.floor(command.seq / PEER.RELIABLE_WINDOW_SIZE)
      const current = Math.floor(ch.inRel / PEER.RELIABLE_WINDOW_SIZE)
      if (command.seq < ch.inRel) window += PEER.RELIABLE_WINDOWS
      if (
        window >= current + PEER.FREE_RELIABLE_WINDOWS - 1 &&
        window <= current + PEER.FREE_RELIABLE_WINDOWS
      )
        return
    }
    peer.acknowledgements.push({
      channel: command.channel,
      seq: command.seq,
      sentTime,
      command: command.command,
    })
  }

  private dataAllowed(peer: Peer, channel: number): boolean {
    return channel < peer.channelCount && ACTIVE.includes(peer.internalState)
  }

  private peerWindowSize(peer: Peer): number {
    if (peer.incomingBandwidth === 0 && this.outgoingBandwidth === 0) return PROTOCOL.MAXIMUM_WINDOW_SIZE
    const bw =
      peer.incomingBandwidth === 0 || this.outgoingBandwidth === 0
        ? Math.max(peer.incomingBandwidth, this.outgoingBandwidth)
        : Math.min(peer.incomingBandwidth, this.outgoingBandwidth)
    return clampWindow(Math.floor(bw / 65536) * PROTOCOL.MINIMUM_WINDOW_SIZE)
  }

  private handleConnect(c: CommandOf<2>, address: string, port: number): Peer | undefined {
    if (c.channelCount < PROTOCOL.MINIMUM_CHANNEL_COUNT || c.channelCount > PROTOCOL.MAXIMUM_CHANNEL_COUNT) {
      return undefined
    }
    for (const p of this.peers) {
      // a retransmitted CONNECT: our VERIFY_CONNECT retransmission covers it
      if (p && p.address === address && p.port === port && p.connectId === c.connectId) return undefined
    }
    const slot = this.peers.indexOf(undefined)
    if (slot < 0) return undefined
    const peer = new Peer(this, slot, address, port, { mtu: clampMtu(c.mtu), timeoutMs: this.timeoutMs })
    peer.internalState = 'acknowledging_connect'
    peer.connectId = c.connectId
    peer.outgoingPeerId = c.outgoingPeerId
    peer.incomingBandwidth = c.incomingBandwidth
    peer.outgoingBandwidth = c.outgoingBandwidth
    peer.throttleInterval = c.throttleInterval
    peer.throttleAcceleration = c.throttleAcceleration
    peer.throttleDeceleration = c.throttleDeceleration
    peer.eventData = c.data
    peer.lastReceiveTime = this.serviceTime
    peer.setupChannels(Math.min(c.channelCount, this.channelLimit))
    const sessions = this.slotSessions[slot]
    let incoming = c.incomingSessionId === 0xff ? sessions.outgoing : c.incomingSessionId
    incoming = (incoming + 1) & 3
    if (incoming === sessions.outgoing) incoming = (incoming + 1) & 3
    sessions.outgoing = peer.outgoingSessionId = incoming
    let outgoing = c.outgoingSessionId === 0xff ? sessions.incoming : c.outgoingSessionId
    outgoing = (outgoing + 1) & 3
    if (outgoing === sessions.incoming) outgoing = (outgoing + 1) & 3
    sessions.incoming = peer.incomingSessionId = outgoing
    peer.windowSize = this.peerWindowSize(peer)
    let windowSize = this.incomingBandwidth === 0 ? PROTOCOL.MAXIMUM_WINDOW_SIZE : this.peerWindowSize(peer)
    if (windowSize > c.windowSize >>> 0) windowSize = c.windowSize >>> 0
    windowSize = clampWindow(windowSize)
    this.peers[slot] = peer
    peer.queueOutgoing({
      command: CMD.VERIFY_CONNECT,
      flags: FLAG_ACKNOWLEDGE,
      channel: CONTROL_CHANNEL,
      seq: 0,
      outgoingPeerId: slot,
      incomingSessionId: incoming,
      outgoingSessionId: outgoing,
      mtu: peer.mtu,
      windowSize,
      channelCount: peer.channelCount,
      incomingBandwidth: this.incomingBandwidth,
      outgoingBandwidth: this.outgoingBandwidth,
      throttleInterval: c.throttleInterval,
      throttleAcceleration: c.throttleAcceleration,
      throttleDeceleration: c.throttleDeceleration,
      connectId: c.connectId,
    })
    return peer
  }

  private handleAcknowledge(peer: Peer, c: CommandOf<1>, _h: DatagramHeader): boolean {
    if (peer.internalState === 'disconnected' || peer.internalState === 'zombie') return true
    const now = this.serviceTime
    let received = now - (now % 65536) + c.receivedSentTime
    if ((received & 0x8000) > (now & 0x8000)) received -= 0x10000
    if (received > now) return true
    peer.updateRoundTripTime(now - received, now)
    peer.lastReceiveTime = now
    peer.earliestTimeout = 0
    const ackedCommand = peer.removeSentReliable(c.receivedSeq, c.channel)
    if (ackedCommand && ackedCommand.sendAttempts > 1 && received < ackedCommand.sentTime)
      this.stats.spuriousRetransmits++
    const acked = ackedCommand?.command.command ?? 0
    switch (peer.internalState) {
      case 'acknowledging_connect':
        if (acked !== CMD.VERIFY_CONNECT) return false
        this.notifyConnect(peer)
        break
      case 'disconnecting':
        if (acked !== CMD.DISCONNECT) return false
        this.notifyDisconnect(peer, 'disconnect', 0)
        break
      case 'disconnect_later':
        if (!peer.busy) this.startDisconnect(peer, peer.eventData)
        break
    }
    return true
  }

  private handleVerifyConnect(peer: Peer, c: CommandOf<3>): boolean {
    if (peer.internalState !== 'connecting') return true
    if (
      c.channelCount < PROTOCOL.MINIMUM_CHANNEL_COUNT ||
      c.channelCount > PROTOCOL.MAXIMUM_CHANNEL_COUNT ||
      c.throttleInterval !== peer.throttleInterval ||
      c.throttleAcceleration !== peer.throttleAcceleration ||
      c.throttleDeceleration !== peer.throttleDeceleration ||
      c.connectId !== peer.connectId
    ) {
      peer.eventData = 0
      this.notifyDisconnect(peer, 'disconnect', 0)
      return false
    }
    peer.removeSentReliable(1, CONTROL_CHANNEL)
    if (c.channelCount < peer.channelCount) {
      peer.channelCount = c.channelCount
      peer.channels.length = c.channelCount
    }
    peer.outgoingPeerId = c.outgoingPeerId
    peer.incomingSessionId = c.incomingSessionId
    peer.outgoingSessionId = c.outgoingSessionId
    const mtu = clampMtu(c.mtu)
    if (mtu < peer.mtu) peer.mtu = mtu
    const window = clampWindow(c.windowSize)
    if (window < peer.windowSize) peer.windowSize = window
    peer.incomingBandwidth = c.incomingBandwidth
    peer.outgoingBandwidth = c.outgoingBandwidth
    this.notifyConnect(peer)
    return true
  }

  private handleDisconnect(peer: Peer, c: CommandOf<4>): boolean {
    const s = peer.internalState
    if (s === 'disconnected' || s === 'zombie' || s === 'acknowledging_disconnect') return true
    peer.resetQueues()
    if (s === 'connecting' || s === 'disconnecting') {
      this.notifyDisconnect(peer, 'disconnect', c.data)
    } else if (s === 'acknowledging_connect') {
      this.notifyDisconnect(peer, 'disconnect', c.data) // never announced: silently forgotten
    } else if (c.flags & FLAG_ACKNOWLEDGE) {
      peer.internalState = 'acknowledging_disconnect'
      peer.eventData = c.data
    } else {
      this.notifyDisconnect(peer, 'disconnect', c.data)
    }
    return true
  }

  private handleSendReliable(peer: Peer, c: CommandOf<6>, out: Delivery[]): boolean {
    if (!this.dataAllowed(peer, c.channel)) return false
    return peer.receiveReliable(c.channel, c.seq, c.data, out)
  }

  private handleSendUnreliable(peer: Peer, c: CommandOf<7>, out: Delivery[]): boolean {
    if (!this.dataAllowed(peer, c.channel)) return false
    peer.receiveUnreliable(c.channel, c.seq, c.unreliableSeq, c.data, out)
    return true
  }

  private handleSendFragment(peer: Peer, c: CommandOf<8>, out: Delivery[]): boolean {
    if (!this.dataAllowed(peer, c.channel)) return false
    return peer.receiveFragment(c.channel, c, out)
  }

  private handleSendUnsequenced(peer: Peer, c: CommandOf<9>, out: Delivery[]): boolean {
    if (!this.dataAllowed(peer, c.channel)) return false
    if (peer.internalState === 'connected') out.push({ channel: c.channel, data: c.data, reliable: false })
    return true
  }

  private handleBandwidthLimit(peer: Peer, c: CommandOf<10>): boolean {
    if (!ACTIVE.includes(peer.internalState)) return false
    peer.incomingBandwidth = c.incomingBandwidth
    peer.outgoingBandwidth = c.outgoingBandwidth
    peer.windowSize = this.peerWindowSize(peer)
    return true
  }

  private handleThrottleConfigure(peer: Peer, c: CommandOf<11>): boolean {
    if (!ACTIVE.includes(peer.internalState)) return false
    peer.throttleInterval = c.interval
    peer.throttleAcceleration = c.acceleration
    peer.throttleDeceleration = c.deceleration
    return true
  }

  // ---------------------------------------------------------------- state changes

  private notifyConnect(peer: Peer): void {
    peer.internalState = 'connected'
    peer.announced = true
    this.bandwidthDirty = true
    this.events.push({ type: 'connect', peer, data: peer.eventData })
  }

  /** The peer is gone: free its slot and tell the user (if they knew it). */
  private notifyDisconnect(peer: Peer, reason: EnetDisconnectReason, data: number): void {
    if (this.peers[peer.id] !== peer) return
    if (peer.internalState === 'connected' || peer.internalState === 'disconnect_later')
      this.bandwidthDirty = true
    peer.internalState = 'disconnected'
    peer.resetQueues()
    this.peers[peer.id] = undefined
    if (peer.announced) this.events.push({ type: 'disconnect', peer, reason, data })
  }

  /** `enet_peer_disconnect` on a connected peer: drop queues, send a reliable DISCONNECT. */
  private startDisconnect(peer: Peer, data: number): void {
    peer.resetQueues()
    peer.queueOutgoing({
      command: CMD.DISCONNECT,
      flags: FLAG_ACKNOWLEDGE,
      channel: CONTROL_CHANNEL,
      seq: 0,
      data,
    })
    peer.internalState = 'disconnecting'
    this.scheduleFlush()
  }

  // ---------------------------------------------------------------- outgoing (enet_protocol_send_outgoing_commands)

  private service(): void {
    if (this.closed) return
    this.serviceTime = this.now()
    if (this.serviceTime - this.lastBandwidthThrottle >= BANDWIDTH_THROTTLE_INTERVAL_MS) {
      this.lastBandwidthThrottle = this.serviceTime
      if (this.bandwidthDirty) {
        this.bandwidthDirty = false
        for (const peer of this.peers) {
          if (peer?.internalState !== 'connected') continue
          peer.queueOutgoing({
            command: CMD.BANDWIDTH_LIMIT,
            flags: FLAG_ACKNOWLEDGE,
            channel: CONTROL_CHANNEL,
            seq: 0,
            incomingBandwidth: this.incomingBandwidth,
            outgoingBandwidth: this.outgoingBandwidth,
          })
        }
      }
    }
    for (const peer of this.peers) if (peer && !peer.resolving) this.sendPeer(peer, true)
    this.dispatchEvents()
  }

  private checkTimeouts(peer: Peer): boolean {
    const now = this.serviceTime
    const again = []
    for (const oc of [...peer.sentReliable]) {
      if (now - oc.sentTime < oc.roundTripTimeout) continue
      if (peer.earliestTimeout === 0 || oc.sentTime < peer.earliestTimeout) peer.earliestTimeout = oc.sentTime
      const silent = now - peer.earliestTimeout
      if (
        silent >= peer.timeoutMaximum ||
        (2 ** (oc.sendAttempts - 1) >= peer.timeoutLimit && silent >= peer.timeoutMinimum)
      ) {
        this.notifyDisconnect(peer, 'timeout', 0)
        return true
      }
      oc.roundTripTimeout *= 2
      peer.sentReliable.splice(peer.sentReliable.indexOf(oc), 1)
      peer.reliableDataInTransit -= oc.dataLength
      again.push(oc)
    }
    peer.outgoing.unshift(...again)
    if (peer.sentReliable.length > 0) {
      peer.nextTimeout = peer.sentReliable[0].sentTime + peer.sentReliable[0].roundTripTimeout
    }
    return false
  }

  private sendPeer(peer: Peer, checkTimeouts: boolean): void {
    const state = peer.internalState
    if (state === 'disconnected' || state === 'zombie') return
    const now = this.serviceTime
    let parts: Buffer[] = []
    let size = HEADER_SIZE
    let withTime = false
    const emit = () => {
      if (parts.length === 0) return
      const session = peer.outgoingPeerId < PROTOCOL.MAXIMUM_PEER_ID ? peer.outgoingSessionId : 0
      const header = encodeHeader({
        peerId: peer.outgoingPeerId,
        session,
        compressed: false,
        sentTime: withTime ? now & 0xffff : undefined,
      })
      this.transmit([header, ...parts], peer)
      parts = []
      size = HEADER_SIZE
      withTime = false
    }
    const add = (encoded: Buffer, reliable: boolean) => {
      if (parts.length >= PROTOCOL.MAXIMUM_PACKET_COMMANDS || size + encoded.length > peer.mtu) emit()
      parts.push(encoded)
      size += encoded.length
      if (reliable) withTime = true
    }

    let acknowledgedDisconnect = false
    for (const ack of peer.acknowledgements) {
      add(
        encodeCommand({
          command: CMD.ACKNOWLEDGE,
          flags: 0,
          channel: ack.channel,
          seq: ack.seq,
          receivedSeq: ack.seq,
          receivedSentTime: ack.sentTime,
        }),
        false,
      )
      if (ack.command === CMD.DISCONNECT) acknowledgedDisconnect = true
    }
    peer.acknowledgements = []

    if (
      checkTimeouts &&
      peer.sentReliable.length > 0 &&
      now >= peer.nextTimeout &&
      this.checkTimeouts(peer)
    ) {
      emit()
      return
    }

    if (
      peer.internalState === 'connected' &&
      peer.sentReliable.length === 0 &&
      !peer.outgoing.some((c) => c.reliable) &&
      now - peer.lastReceiveTime >= PEER.PING_INTERVAL
    ) {
      peer.queueOutgoing({ command: CMD.PING, flags: FLAG_ACKNOWLEDGE, channel: CONTROL_CHANNEL, seq: 0 })
    }

    // ENet's send pass (enet_protocol_check_outgoing_commands): reliable packet commands go while
    // their bytes in flight stay within windowSize × packetThrottle / 32 (at least one MTU) and their
    // channel's reliable windows are free; once one waits, the reliable packet commands behind it wait
    // too. Unreliable ones go (all of them: see Peer.packetThrottle), and so do reliable control commands.
    const windowLimit = peer.reliableWindowLimit
    const queue = peer.outgoing
    const held: OutgoingCommand[] = []
    let packetsWait = false
    let windowWrap = false
    let controlBehind: boolean | undefined
    let i = 0
    for (; i < queue.length; i++) {
      const oc = queue[i]
      if (!oc.reliable) {
        peer.unreliableQueued--
        add(oc.encoded, false)
        continue
      }
      const ch = oc.command.channel < peer.channelCount ? peer.channels[oc.command.channel] : undefined
      let wait = false
      if (ch && (windowWrap || (oc.sendAttempts < 1 && reliableWindowBlocked(ch, oc.command.seq)))) {
        windowWrap = true
        wait = true
      } else if (oc.packet && (packetsWait || peer.reliableDataInTransit + oc.dataLength > windowLimit)) {
        packetsWait = true
        wait = true
      }
      if (wait) {
        held.push(oc)
        // nothing but waiting reliable packet commands behind: stop scanning
        if (peer.unreliableQueued === 0) {
          controlBehind ??= queue.some((c, k) => k > i && !c.packet)
          if (!controlBehind) {
            i++
            break
          }
        }
        continue
      }
      if (oc.roundTripTimeout === 0) oc.roundTripTimeout = peer.retransmitTimeout
      if (peer.sentReliable.length === 0) peer.nextTimeout = now + oc.roundTripTimeout
      if (oc.sendAttempts > 0) this.stats.retransmits++
      peer.markReliableSent(oc)
      oc.sendAttempts++
      oc.sentTime = now
      peer.sentReliable.push(oc)
      peer.reliableDataInTransit += oc.dataLength
      add(oc.encoded, true)
    }
    if (held.length !== i) peer.outgoing = i === queue.length ? held : held.concat(queue.slice(i))
    emit()

    if (acknowledgedDisconnect && peer.internalState === 'acknowledging_disconnect') {
      this.notifyDisconnect(peer, 'disconnect', peer.eventData)
    } else if (peer.internalState === 'disconnect_later' && !peer.busy) {
      this.startDisconnect(peer, peer.eventData)
    }
  }
}
