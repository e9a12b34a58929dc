/**
 * A TypeScript allonet client (protocol 4), for tests and the browser view: connects, announces,
 * keeps the world state by applying `set` and `merge` messages (with the past revisions a merge may
 * start from), acknowledges revisions through intents, sends and receives interactions (responses
 * matched to requests by request_id), syncs the clock and serves and fetches assets.
 */
import { createHash, randomInt } from 'node:crypto'
import { EventEmitter } from 'node:events'
import {
  ASSET_CHUNK,
  ASSET_DATA,
  ASSET_FAILURE,
  ASSET_REQUEST,
  decodeAsset,
  encodeAsset,
  parseRange,
} from './asset-wire.js'
import { cjsonPrint, isPlainObject, tryParse } from './json.js'
import { applyMergePatch } from './merge-patch.js'
import {
  CHANNEL,
  CHANNEL_COUNT,
  defaultTransport,
  type Transport,
  type TransportHost,
  type TransportPeer,
} from './transport.js'
import { type Entity, HISTORY_LENGTH, IDENTITY_MATRIX, MAX_VALUE_DEPTH, nestsDeeperThan } from './world.js'

export interface ClientOptions {
  transport?: Transport
  /** Milliseconds between automatic intents (default 50, like allonet's 20 Hz); 0: none. */
  intentIntervalMs?: number
  /** Milliseconds between automatic clock requests (default 1000); 0: none. */
  clockIntervalMs?: number
  /** How long to wait for a response (default 10 s). */
  requestTimeoutMs?: number
  /** How long to wait for the ENet connection (default 5 s, like allonet). */
  connectTimeoutMs?: number
  /**
   * Keep the world state (default true). false: a light agent for load tests that only reads each
   * state message's revision and acknowledges it, without parsing or applying the entities.
   */
  trackState?: boolean
  /** Answer other agents' asset requests from `serveAsset` (default true; false: stay silent). */
  answerAssets?: boolean
  /** Drop the place after this many ms without acknowledgements (ENet peer timeout; default 20 000, like allonet). */
  peerTimeoutMs?: number
  /** Largest asset `requestAsset` accepts (default 64 MiB); a place claiming more is refused. */
  maxAssetBytes?: number
  /** Test hook: return true to lose an incoming message (simulated packet loss). */
  dropIncoming?: (channel: number, data: Buffer, reliable: boolean) => boolean
}

export interface AnnounceOptions {
  identity?: Record<string, unknown>
  /** The `spawn_avatar` entity spec (default: a bare transform). */
  avatar?: Record<string, unknown>
  version?: number
}

export interface Interaction {
  type: string
  sender: string
  receiver: string
  requestId: string
  body: unknown
  /** The exact bytes received. */
  raw: string
}

export interface ClientState {
  revision: number
  entities: Record<string, Entity>
}

export interface StateMessage {
  revision: number
  patchStyle: 'set' | 'merge'
  patchFrom?: number
  bytes: number
}

export interface ClockSample {
  clientTime: number
  serverTime: number
  latency: number
  /** Add to the local clock to get server time. */
  delta: number
}

interface ClientEvents {
  interaction: [Interaction]
  state: [ClientState, StateMessage]
  /** A state message that could not be applied (unknown patch_from, bad shape). */
  stateDropped: [string]
  clock: [ClockSample]
  /** A media packet (channel 0 audio or 4 video): u32 BE track id + codec payload. */
  media: [channel: number, data: Buffer]
  disconnected: [reason: string, data: number]
}

export class InteractionError extends Error {
  constructor(
    message: string,
    readonly body: unknown,
  ) {
    super(message)
  }
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
export function requestId(): string {
  let s = ''
  for (let i = 0; i < 16; i++) s += ALNUM[randomInt(ALNUM.length)]
  return s
}

export function assetIdOf(bytes: Uint8Array): string {
  return `asset:sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

function now(): number {
  return Math.round(performance.now()) / 1000
}

interface Pending {
  resolve(body: unknown): void
  reject(err: Error): void
  timer: NodeJS.Timeout
}

interface AssetFetch {
  id: string
  chunks: Buffer[]
  received: number
  resolve(b: Buffer): void
  reject(e: Error): void
  timer: NodeJS.Timeout
}

export class AlloClient extends EventEmitter<ClientEvents> {
  avatarId?: string
  placeName?: string
  state: ClientState = { revision: 0, entities: {} }
  /** Set when the place refused or dropped us. */
  disconnectReason?: string
  private history = new Map<number, Record<string, Entity>>()
  private pending = new Map<string, Pending>()
  private assets = new Map<string, Buffer>()
  private fetches = new Map<string, AssetFetch>()
  private clockWaiters: Array<(s: ClockSample) => void> = []
  private timers: NodeJS.Timeout[] = []
  private closed = false
  /** Intent fields besides ack_state_rev (poses etc.), sent with every intent. */
  intent: Record<string, unknown> = defaultIntent()

  private constructor(
    private readonly host: TransportHost,
    readonly peer: TransportPeer,
    private readonly opts: ClientOptions,
  ) {
    super()
    host.on('receive', (p: TransportPeer, channel: number, data: Buffer, reliable: boolean) => {
      if (p !== this.peer) return
      if (this.opts.dropIncoming?.(channel, data, reliable)) return
      this.onReceive(channel, data)
    })
    host.on('disconnect', (p: TransportPeer, reason: string, data: number) => {
      if (p !== this.peer) return
      this.disconnectReason ??= reason
      this.shutdown(new Error(`disconnected from the place (${reason}, data ${data})`))
      this.emit('disconnected', reason, data)
    })
    const intentMs = opts.intentIntervalMs ?? 50
    if (intentMs > 0) this.timers.push(setInterval(() => this.sendIntent(), intentMs))
    const clockMs = opts.clockIntervalMs ?? 1000
    if (clockMs > 0) this.timers.push(setInterval(() => this.sendClock(), clockMs))
  }

  /** Opens the ENet connection (6 channels) to a place; does not announce. */
  static async connect(
    target: { host: string; port: number },
    opts: ClientOptions = {},
  ): Promise<AlloClient> {
    const transport = opts.transport ?? (await defaultTransport())
    const host = await transport.client({ channelLimit: CHANNEL_COUNT, timeoutMs: opts.peerTimeoutMs })
    const peer = host.connect(target.host, target.port, CHANNEL_COUNT, 0)
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`Connection to ${target.host}:${target.port} failed (no answer in time)`))
        }, opts.connectTimeoutMs ?? 5000)
        const onConnect = (p: TransportPeer) => {
          if (p !== peer) return
          cleanup()
          resolve()
        }
        const onDisconnect = (p: TransportPeer) => {
          if (p !== peer) return
          cleanup()
          reject(new Error(`Connection to ${target.host}:${target.port} failed`))
        }
        const cleanup = () => {
          clearTimeout(timer)
          host.off('connect', onConnect)
          host.off('disconnect', onDisconnect)
        }
        host.on('connect', onConnect)
        host.on('disconnect', onDisconnect)
      })
    } catch (err) {
      await host.close()
      throw err
    }
    return new AlloClient(host, peer, opts)
  }

  get connected(): boolean {
    return !this.closed && this.peer.state === 'connected'
  }

  // ---- sending -----------------------------------------------------------------------------

  sendRaw(
    channel: number,
    data: Uint8Array | string,
    reliable = channel === CHANNEL.commands || channel === CHANNEL.assets,
  ): void {
    if (this.closed || this.peer.state !== 'connected') return
    this.peer.send(channel, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, { reliable })
  }

  private sendInteraction(
    type: string,
    sender: string,
    receiver: string,
    reqId: string,
    body: unknown,
  ): void {
    this.sendRaw(CHANNEL.commands, cjsonPrint(['interaction', type, sender, receiver, reqId, body]), true)
  }

  /** Sends a request and resolves with the response body. */
  request(
    receiver: string,
    body: unknown[],
    opts: { sender?: string; requestId?: string; timeoutMs?: number } = {},
  ): Promise<unknown[]> {
    const id = opts.requestId ?? requestId()
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the client is disconnected'))
      const timer = setTimeout(
        () => {
          this.pending.delete(id)
          reject(new Error(`no response to ${JSON.stringify(body[0])} (request ${id}) in time`))
        },
        opts.timeoutMs ?? this.opts.requestTimeoutMs ?? 10_000,
      )
      this.pending.set(id, { resolve: (b) => resolve(b as unknown[]), reject, timer })
      this.sendInteraction('request', opts.sender ?? this.avatarId ?? '', receiver, id, body)
    })
  }

  oneway(receiver: string, body: unknown[], opts: { sender?: string } = {}): void {
    this.sendInteraction('oneway', opts.sender ?? this.avatarId ?? '', receiver, '', body)
  }

  /** Answers a request this client received. */
  respond(to: Interaction, body: unknown[]): void {
    this.sendInteraction('response', to.receiver, to.sender, to.requestId, body)
  }

  async announce(opts: AnnounceOptions = {}): Promise<{ avatarId: string; placeName: string }> {
    const body = [
      'announce',
      'version',
      opts.version ?? 4,
      'identity',
      opts.identity ?? { display_name: 'assist-client' },
      'spawn_avatar',
      opts.avatar ?? { transform: { matrix: IDENTITY_MATRIX } },
    ]
    this.sendClock()
    const res = await this.request('place', body, { sender: '', requestId: 'ANN0' })
    if (res[1] === 'error')
      throw new InteractionError(`announce refused: ${JSON.stringify(res.slice(2))}`, res)
    this.avatarId = String(res[1])
    this.placeName = String(res[2])
    return { avatarId: this.avatarId, placeName: this.placeName }
  }

  /** A place request whose response must be `[name, "ok", …]`-like (not an error). */
  private async placeRequest(body: unknown[], sender?: string): Promise<unknown[]> {
    const res = await this.request('place', body, { sender })
    if (res[1] === 'error' || res[1] === 'failed')
      throw new InteractionError(`${String(body[0])} failed: ${JSON.stringify(res.slice(2))}`, res)
    return res
  }

  async spawnEntity(spec: Record<string, unknown>): Promise<string> {
    const res = await this.placeRequest(['spawn_entity', spec])
    return String(res[1])
  }

  async changeComponents(eid: string, add: Record<string, unknown>, remove: string[] = []): Promise<void> {
    await this.placeRequest(['change_components', eid, 'add_or_change', add, 'remove', remove])
  }

  async removeEntity(eid: string, mode?: 'cascade' | 'reparent'): Promise<void> {
    await this.placeRequest(mode ? ['remove_entity', eid, mode] : ['remove_entity', eid])
  }

  async listAgents(): Promise<Array<Record<string, unknown>>> {
    const res = await this.placeRequest(['list_agents'])
    return res[2] as Array<Record<string, unknown>>
  }

  /** Asks the place to launch an app; resolves with the launched app's avatar id. */
  async launchApp(url: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<string> {
    const res = await this.request(
      'place',
      args === undefined ? ['launch_app', url] : ['launch_app', url, args],
      {
        timeoutMs,
      },
    )
    if (res[1] !== 'ok') throw new InteractionError(`launch_app failed: ${String(res[2])}`, res)
    return String(res[2])
  }

  sendIntent(extra: Record<string, unknown> = {}): void {
    const intent = { ...this.intent, ...extra, ack_state_rev: this.state.revision }
    this.sendRaw(CHANNEL.statediffs, cjsonPrint({ cmd: 'intent', intent }), false)
  }

  sendClock(): void {
    this.sendRaw(CHANNEL.clock, cjsonPrint({ client_time: now() }), false)
  }

  /** One clock round trip. */
  syncClock(timeoutMs = 5000): Promise<ClockSample> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no clock reply in time')), timeoutMs)
      this.clockWaiters.push((s) => {
        clearTimeout(timer)
        resolve(s)
      })
      this.sendClock()
    })
  }

  // ---- assets --------------------------------------------------------------------------------

  /** Makes bytes available to other agents; returns the asset id. */
  serveAsset(bytes: Uint8Array): string {
    const id = assetIdOf(bytes)
    this.assets.set(id, Buffer.from(bytes))
    return id
  }

  /** Fetches an asset through the place (chunk by chunk). */
  requestAsset(id: string, timeoutMs = 10_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fetches.delete(id)
        reject(new Error(`asset ${id} did not arrive in time`))
      }, timeoutMs)
      this.fetches.set(id, { id, chunks: [], received: 0, resolve, reject, timer })
      this.sendRaw(CHANNEL.assets, encodeAsset(ASSET_REQUEST, { id, range: [0, ASSET_CHUNK] }), true)
    })
  }

  private onAsset(data: Buffer): void {
    const msg = decodeAsset(data)
    if (typeof msg === 'string') return
    const id = typeof msg.header.id === 'string' ? msg.header.id : ''
    if (msg.mid === ASSET_REQUEST) {
      if (this.opts.answerAssets === false) return
      const bytes = this.assets.get(id)
      const range = parseRange(msg.header.range) ?? [0, ASSET_CHUNK]
      if (!bytes || range[0] > bytes.length) {
        this.sendRaw(
          CHANNEL.assets,
          encodeAsset(ASSET_FAILURE, { id, error_reason: 'Chunk not available', error_code: 1 }),
          true,
        )
        return
      }
      const length = Math.min(range[1], ASSET_CHUNK, bytes.length - range[0])
      const header = { id, range: [range[0], length], total_length: bytes.length }
      this.sendRaw(
        CHANNEL.assets,
        encodeAsset(ASSET_DATA, header, bytes.subarray(range[0], range[0] + length)),
        true,
      )
      return
    }
    const fetch = this.fetches.get(id)
    if (!fetch) return
    if (msg.mid === ASSET_FAILURE) {
      this.fetches.delete(id)
      clearTimeout(fetch.timer)
      fetch.reject(new Error(`asset ${id} not available: ${String(msg.header.error_reason)}`))
      return
    }
    const range = parseRange(msg.header.range)
    const total = msg.header.total_length
    if (!range || typeof total !== 'number' || range[0] !== fetch.received) return
    const fail = (why: string) => {
      this.fetches.delete(id)
      clearTimeout(fetch.timer)
      fetch.reject(new Error(`asset ${id}: ${why}`))
    }
    if (!(total >= 0) || total > (this.opts.maxAssetBytes ?? 64 * 1024 * 1024)) {
      fail(`the place says it is ${total} bytes long, more than this client accepts`)
      return
    }
    fetch.chunks.push(msg.data)
    fetch.received += msg.data.length
    if (fetch.received >= total || msg.data.length === 0) {
      this.fetches.delete(id)
      clearTimeout(fetch.timer)
      const bytes = Buffer.concat(fetch.chunks)
      // Assets are named by their SHA-256: bytes that do not match their name are not that asset.
      if (id.startsWith('asset:sha256:') && assetIdOf(bytes) !== id)
        fetch.reject(new Error(`asset ${id}: the bytes received do not match the asset's SHA-256`))
      else fetch.resolve(bytes)
      return
    }
    const next = Math.min(ASSET_CHUNK, total - fetch.received)
    this.sendRaw(CHANNEL.assets, encodeAsset(ASSET_REQUEST, { id, range: [fetch.received, next] }), true)
  }

  // ---- receiving -----------------------------------------------------------------------------

  private onReceive(channel: number, data: Buffer): void {
    // Whatever a place sends, a bug in handling it must not take the process down.
    try {
      this.dispatch(channel, data)
    } catch (err) {
      this.emit(
        'stateDropped',
        `message on channel ${channel} could not be handled: ${(err as Error).message}`,
      )
    }
  }

  private dispatch(channel: number, data: Buffer): void {
    if (channel === CHANNEL.commands) this.onInteraction(data)
    else if (channel === CHANNEL.statediffs) this.onState(data)
    else if (channel === CHANNEL.assets) this.onAsset(data)
    else if (channel === CHANNEL.clock) this.onClock(data)
    else if (channel === CHANNEL.audio || channel === CHANNEL.video) this.emit('media', channel, data)
  }

  private onInteraction(data: Buffer): void {
    const raw = data.toString('utf8')
    const msg = tryParse(raw)
    if (!Array.isArray(msg) || msg.length < 6) return
    const [, type, sender, receiver, reqId, body] = msg as [string, string, string, string, string, unknown]
    if (![type, sender, receiver, reqId].every((f) => typeof f === 'string')) return
    if (type === 'response') {
      const p = this.pending.get(reqId)
      if (p) {
        this.pending.delete(reqId)
        clearTimeout(p.timer)
        p.resolve(body)
      }
    }
    // The place refusing our announce ends the session, as in allonet's client.
    if (Array.isArray(body) && body[0] === 'announce' && body[1] === 'error')
      this.disconnectReason = `refused: ${String(body[3] ?? body[2])}`
    this.emit('interaction', { type, sender, receiver, requestId: reqId, body, raw })
  }

  private onClock(data: Buffer): void {
    const msg = tryParse(data.toString('utf8'))
    if (!isPlainObject(msg) || typeof msg.client_time !== 'number' || typeof msg.server_time !== 'number')
      return
    const t = now()
    const latency = (t - msg.client_time) / 2
    const sample = {
      clientTime: msg.client_time,
      serverTime: msg.server_time,
      latency,
      delta: msg.server_time + latency - t,
    }
    this.emit('clock', sample)
    const waiters = this.clockWaiters
    this.clockWaiters = []
    for (const w of waiters) w(sample)
  }

  /** Applies a state message (a `set`, or a `merge` from a revision we still have). */
  private onState(data: Buffer): void {
    if (this.opts.trackState === false) {
      const tail = data.toString('latin1', Math.max(0, data.length - 120))
      const m = /"revision":(\d+)/.exec(tail)
      if (m && Number(m[1]) > this.state.revision) this.state = { revision: Number(m[1]), entities: {} }
      return
    }
    const msg = tryParse(data.toString('utf8'))
    if (!isPlainObject(msg) || !isPlainObject(msg.entities) || typeof msg.revision !== 'number') {
      this.emit('stateDropped', 'not a state message')
      return
    }
    // entities → entity → components → component → its value: deeper JSON could exhaust the stack.
    if (nestsDeeperThan(msg.entities, MAX_VALUE_DEPTH + 4)) {
      this.emit('stateDropped', `a state nesting deeper than ${MAX_VALUE_DEPTH + 4} levels`)
      return
    }
    if (msg.revision <= this.state.revision && this.state.revision !== 0) return // old news
    let entities: Record<string, Entity>
    if (msg.patch_style === 'set') entities = msg.entities as Record<string, Entity>
    else if (msg.patch_style === 'merge' && typeof msg.patch_from === 'number') {
      const base = this.history.get(msg.patch_from)
      if (!base) {
        this.emit('stateDropped', `merge from revision ${msg.patch_from}, which this client does not have`)
        return
      }
      entities = applyMergePatch(base, msg.entities) as Record<string, Entity>
    } else {
      this.emit('stateDropped', `unknown patch_style ${JSON.stringify(msg.patch_style)}`)
      return
    }
    for (const [id, e] of Object.entries(entities)) {
      if (!isPlainObject(e) || e.id !== id) {
        this.emit('stateDropped', `entity ${id} has no matching "id" field`)
        return
      }
    }
    this.history.set(msg.revision, entities)
    this.history.delete(msg.revision - HISTORY_LENGTH)
    this.state = { revision: msg.revision, entities }
    this.emit('state', this.state, {
      revision: msg.revision,
      patchStyle: msg.patch_style as 'set' | 'merge',
      patchFrom: msg.patch_from as number | undefined,
      bytes: data.length,
    })
  }

  /** Resolves with the first state (current or future) for which `test` holds. */
  waitForState(test: (s: ClientState) => boolean, timeoutMs = 10_000): Promise<ClientState> {
    if (test(this.state)) return Promise.resolve(this.state)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('state', onState)
        reject(new Error(`state condition not met in time (at revision ${this.state.revision})`))
      }, timeoutMs)
      const onState = (s: ClientState) => {
        if (!test(s)) return
        clearTimeout(timer)
        this.off('state', onState)
        resolve(s)
      }
      this.on('state', onState)
    })
  }

  /** Resolves with the next interaction for which `test` holds. */
  waitForInteraction(test: (i: Interaction) => boolean, timeoutMs = 10_000): Promise<Interaction> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('interaction', on)
        reject(new Error('interaction did not arrive in time'))
      }, timeoutMs)
      const on = (i: Interaction) => {
        if (!test(i)) return
        clearTimeout(timer)
        this.off('interaction', on)
        resolve(i)
      }
      this.on('interaction', on)
    })
  }

  private shutdown(err: Error): void {
    if (this.closed) return
    this.closed = true
    for (const t of this.timers) clearInterval(t)
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    this.pending.clear()
    for (const f of this.fetches.values()) {
      clearTimeout(f.timer)
      f.reject(err)
    }
    this.fetches.clear()
  }

  /** Disconnects gracefully (waits up to 1 s for the place's ACK, like allonet), then closes. */
  async disconnect(): Promise<void> {
    if (!this.closed && this.peer.state === 'connected') {
      const gone = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000)
        this.host.on('disconnect', (p: TransportPeer) => {
          if (p === this.peer) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      this.peer.disconnect(0)
      this.host.flush()
      await gone
    }
    this.shutdown(new Error('the client disconnected'))
    await this.host.close()
  }

  /** Drops the connection without telling the place (a vanished peer). */
  async vanish(): Promise<void> {
    this.shutdown(new Error('the client vanished'))
    await this.host.close()
  }
}

export function defaultIntent(): Record<string, unknown> {
  const pose = () => ({ matrix: IDENTITY_MATRIX })
  const hand = () => ({ matrix: IDENTITY_MATRIX, skeleton: [], grab: {} })
  return {
    wants_stick_movement: false,
    zmovement: 0,
    xmovement: 0,
    yaw: 0,
    pitch: 0,
    poses: { root: pose(), head: pose(), torso: pose(), 'hand/left': hand(), 'hand/right': hand() },
  }
}
