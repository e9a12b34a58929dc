/**
 * What the place and the client need from an ENet transport. `src/core/enet` implements it over
 * UDP; tests may pass an in-memory stand-in with the same shape.
 */
import type { EventEmitter } from 'node:events'
import type { EnetClientOptions, EnetHostOptions, EnetPeer, EnetPeerState } from '../enet/index.js'

// The peer and the options are ENet's own types (type-only imports: nothing is loaded at run time).
export type PeerState = EnetPeerState
export type TransportPeer = EnetPeer

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

export type ListenOptions = Omit<EnetHostOptions, 'mtu'>
export type ClientOptions = EnetClientOptions

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
