/**
 * Public API of the pure-TypeScript ENet 1.3 transport (wire-compatible with lsalzman/enet).
 *
 * ```ts
 * const host = await EnetHost.listen({ host: '127.0.0.1', port: 0, channelLimit: 6 })
 * host.on('connect', (peer, data) => {})
 * host.on('receive', (peer, channel, data, reliable) => peer.send(channel, data))
 * host.on('disconnect', (peer, reason, data) => {})
 * const client = await EnetHost.client({ channelLimit: 6 })
 * const peer = client.connect('127.0.0.1', host.address.port, 6)
 * ```
 *
 * Everything users code against lives in this file; the rest of `src/core/enet/` is internal.
 */

/** One remote ENet peer (a connection). */
export interface EnetPeer {
  /** Slot index in the local host (0…peerLimit-1); what the remote writes in its datagram headers. */
  readonly id: number
  /** Remote IP address (dotted IPv4). */
  readonly address: string
  /** Remote UDP port. */
  readonly port: number
  readonly state: EnetPeerState
  /** Smoothed round-trip time in milliseconds (ENet's estimate; starts at 500). */
  readonly rttMs: number
  /**
   * Queues a packet on `channel` (0…channelCount-1). Reliable by default. Payloads bigger than
   * MTU − 28 bytes are split into SEND_FRAGMENT commands, which are always reliable (as upstream ENet
   * does unless asked for unreliable fragments). Sent at the next service pass (≤ a few ms) or `flush()`.
   * Ignored when the peer is not connected.
   */
  send(channel: number, data: Uint8Array, opts?: { reliable?: boolean }): void
  /** Graceful: queued reliable data is delivered first, then DISCONNECT; 'disconnect' fires on its ACK. */
  disconnect(data?: number): void
  /** Forced: sends one unreliable DISCONNECT and forgets the peer at once; 'disconnect' fires synchronously. */
  disconnectNow(data?: number): void
  /** Arbitrary per-peer slot for the user. */
  user?: unknown
}

export type EnetPeerState = 'connecting' | 'connected' | 'disconnecting' | 'disconnected'

export interface EnetHostOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string
  /** UDP port; 0 = ephemeral (default 0). */
  port?: number
  /** Number of peer slots (default 128, as allonet's place). */
  peerLimit?: number
  /** Maximum channels per peer (default 255). */
  channelLimit?: number
  /** A peer whose reliable data stays unacknowledged this long is dropped with reason 'timeout' (default 20000). */
  timeoutMs?: number
  /** MTU offered/accepted (576…4096, default 1400). */
  mtu?: number
}

export interface EnetClientOptions {
  channelLimit?: number
  timeoutMs?: number
}

/** Why a peer went away. */
export type EnetDisconnectReason = 'disconnect' | 'timeout'

/** Events emitted by {@link EnetHost}. */
export interface EnetHostEvents {
  /** A peer finished the handshake (incoming: our VERIFY_CONNECT was acked; outgoing: VERIFY_CONNECT received). */
  connect: [peer: EnetPeer, data: number]
  /** A whole packet arrived (reassembled if it was fragmented). `reliable` = it carried the ACK flag. */
  receive: [peer: EnetPeer, channel: number, data: Buffer, reliable: boolean]
  /** The peer is gone. `data` is the remote's DISCONNECT data (0 for timeouts / local disconnects). */
  disconnect: [peer: EnetPeer, reason: EnetDisconnectReason, data: number]
  /** Socket error. Malformed datagrams never produce errors: they are dropped (see `host.stats`). */
  error: [err: Error]
}

export { EnetHost } from './host.js'
