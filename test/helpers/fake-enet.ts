/**
 * An in-memory stand-in for the ENet transport (same shape as src/core/enet's EnetHost), for unit
 * tests of the place protocol logic: delivery is asynchronous and in order per channel; unreliable
 * messages can be lost on purpose. The real-UDP tests use src/core/enet instead.
 */
import { EventEmitter } from 'node:events'
import type {
  ClientOptions,
  ListenOptions,
  PeerState,
  Transport,
  TransportHost,
  TransportPeer,
} from '../../src/core/place/transport.js'

let nextPort = 40000

class FakePeer implements TransportPeer {
  state: PeerState = 'connecting'
  rttMs = 1
  user?: unknown
  remote?: FakePeer
  constructor(
    readonly host: FakeHost,
    readonly id: number,
    readonly address: string,
    readonly port: number,
  ) {}

  send(channel: number, data: Uint8Array, opts: { reliable?: boolean } = {}): void {
    if (this.state !== 'connected' || !this.remote) return
    const remote = this.remote
    const copy = Buffer.from(data)
    const reliable = opts.reliable ?? true
    if (!reliable && this.host.network.shouldLose(channel, copy)) return
    this.host.network.deliver(() => {
      if (remote.state === 'connected') remote.host.emit('receive', remote, channel, copy, reliable)
    })
  }

  disconnect(data = 0): void {
    if (this.state !== 'connected') return
    this.state = 'disconnecting'
    const remote = this.remote
    this.host.network.deliver(() => {
      this.state = 'disconnected'
      this.host.emit('disconnect', this, 'disconnect', data)
      if (remote && remote.state !== 'disconnected') {
        remote.state = 'disconnected'
        remote.host.emit('disconnect', remote, 'disconnect', data)
      }
    })
  }

  disconnectNow(data = 0): void {
    if (this.state === 'disconnected') return
    this.state = 'disconnected'
    const remote = this.remote
    if (remote && remote.state !== 'disconnected')
      this.host.network.deliver(() => {
        if (remote.state === 'disconnected') return
        remote.state = 'disconnected'
        remote.host.emit('disconnect', remote, 'disconnect', data)
      })
  }
}

export class FakeHost extends EventEmitter implements TransportHost {
  peers: FakePeer[] = []
  closed = false
  constructor(
    readonly network: FakeNetwork,
    readonly address: { address: string; port: number },
  ) {
    super()
  }

  connect(host: string, port: number, _channelCount: number): TransportPeer {
    const local = new FakePeer(this, this.peers.length, host, port)
    this.peers.push(local)
    const server = this.network.listeners.get(port)
    this.network.deliver(() => {
      if (!server || server.closed) {
        local.state = 'disconnected'
        this.emit('disconnect', local, 'timeout', 0)
        return
      }
      const remote = new FakePeer(server, server.peers.length, this.address.address, this.address.port)
      server.peers.push(remote)
      local.remote = remote
      remote.remote = local
      remote.state = 'connected'
      local.state = 'connected'
      server.emit('connect', remote, 0)
      this.emit('connect', local, 0)
    })
    return local
  }

  flush(): void {}

  async close(): Promise<void> {
    this.closed = true
    for (const p of this.peers) if (p.state !== 'disconnected') p.disconnectNow(0)
    this.network.listeners.delete(this.address.port)
  }
}

export class FakeNetwork implements Transport {
  listeners = new Map<number, FakeHost>()
  /** Probability of losing an unreliable message on the statediffs channel (2). */
  stateLoss = 0
  private rand: () => number = Math.random

  /** Deterministic loss decisions (for property tests). */
  seed(rand: () => number): void {
    this.rand = rand
  }

  shouldLose(channel: number, _data: Buffer): boolean {
    return channel === 2 && this.stateLoss > 0 && this.rand() < this.stateLoss
  }

  deliver(fn: () => void): void {
    setImmediate(fn)
  }

  async listen(opts: ListenOptions): Promise<TransportHost> {
    const port = opts.port || nextPort++
    const host = new FakeHost(this, { address: opts.host ?? '127.0.0.1', port })
    this.listeners.set(port, host)
    return host
  }

  async client(_opts?: ClientOptions): Promise<TransportHost> {
    return new FakeHost(this, { address: '127.0.0.1', port: nextPort++ })
  }
}
