/**
 * What the place and the client need from an ENet transport. `src/core/enet` implements it over
 * UDP; tests may pass an in-memory stand-in with the same shape.
 */
import type { EventEmitter } from 'node:events'

export type PeerState = 'connecting' | 'connected' | 'disconnecting' | 'disconnected'

export interface TransportPeer {
  readonly id: number
  readonly address: string
  readonly port: number
  readonly state: PeerState
  readonly rttMs: number
  send(channel: number, data: Uint8Array, opts?: { reliable?: boolean }): void
  /** Graceful: queued data goes out first, then DISCONNECT with `data`. */
  disconnect(data?: number): void
  disconnectNow(data?: number): void
  user?: unknown
}

/**
 * Events: 'connect'(peer, data), 'receive'(peer, channel, data: Buffer, reliable),
 * 'disconnect'(peer, reason: 'disconnect' | 'timeout', data), 'error'(err).
 */
export interface TransportHost extends EventEmitter {
  connect(host: string, port: number, channelCount: number, data?: number): TransportPeer
  readonly address: { address: string; port: number }
  flush(): void
  close(): Promise<void>
}

export interface ListenOptions {
  host?: string
  port?: number
  peerLimit?: number
  channelLimit?: number
  timeoutMs?: number
}

export interface ClientOptions {
  channelLimit?: number
  timeoutMs?: number
}

/** The static side of `EnetHost`: how hosts are made. */
export interface Transport {
  listen(opts: ListenOptions): Promise<TransportHost>
  client(opts?: ClientOptions): Promise<TransportHost>
}

/** allonet channels (protocol 4). */
export const CHANNEL = {
  audio: 0,
  commands: 1,
  statediffs: 2,
  assets: 3,
  video: 4,
  clock: 5,
} as const
export const CHANNEL_COUNT = 6

/** The real ENet transport, loaded lazily so that CLI start-up stays light. */
export async function defaultTransport(): Promise<Transport> {
  const { EnetHost } = await import('../enet/index.js')
  const transport: Transport = EnetHost
  return transport
}
