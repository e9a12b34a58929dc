/**
 * A development place speaking allonet protocol 4 (see allonet-protocol.md): agents announce and
 * get an avatar, spawn/change/remove entities (ownership tracked privately), receive the world as
 * revisioned JSON merge-patch deltas from the revision they acknowledged, talk to each other and to
 * the place through interactions, sync clocks, relay assets and media, and launch apps through an
 * app gateway. Bad input from the network is answered with an error or dropped with a log line.
 */

import { EventEmitter } from 'node:events'
import { isMatrix } from '../matrix.js'
import { animateEntity } from './animation.js'
import { AssetRelay } from './assets.js'
import { animationId, avatarToken, agentId as newAgentId } from './ids.js'
import { cjsonPrint, isPlainObject, jsonClone, jsonEqual, NOT_CJSON, tryParse } from './json.js'
import { buildLaunchRequest, FAILED_CONNECTION, gatewayTarget, postToGateway } from './launch.js'
import { simulateGrabs } from './simulation.js'
import {
  CHANNEL,
  CHANNEL_COUNT,
  defaultTransport,
  type Transport,
  type TransportHost,
  type TransportPeer,
} from './transport.js'
import {
  asObject,
  componentValue,
  type EntityRecord,
  IDENTITY_MATRIX,
  MAX_VALUE_DEPTH,
  nestsDeeperThan,
  parseSpec,
  SpecError,
  World,
} from './world.js'

export const PROTOCOL_VERSION = 4
export const DEFAULT_PLACE_NAME = 'Development place'
/** allonet error codes (include/allonet/client.h). */
export const ERROR_INITIALIZATION_FAILURE = 1002
export const ERROR_OUTDATED_VERSION = 1003
export const ERROR_KICKED = 1005
const OUTDATED_MESSAGE = 'Please update your app. Outdated network protocol.'

export interface PlaceLog {
  info(message: string): void
  warn(message: string): void
  /** Per-interaction detail (`--verbose`). */
  debug?(message: string): void
}

export interface PlaceOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string
  /** UDP port (default 21337; 0 picks a free one). */
  port?: number
  name?: string
  /** Host name put into `x-alloverse-server` when launching apps (default localhost). */
  publicHost?: string
  log?: PlaceLog
  /** ENet implementation (default: src/core/enet). */
  transport?: Transport
  /** Milliseconds between state ticks (default 200). */
  tickMs?: number
  /** Earliest a tick forced by a place interaction may follow the previous tick (default 50 ms). */
  minTickGapMs?: number
  /** Largest message accepted from an agent; bigger ones get it disconnected (default 4 MiB). */
  maxMessageBytes?: number
  /**
   * Largest state message sent (default 32 MiB, ENet's default maximum packet size: a C client
   * refuses — and never acknowledges — the fragments of anything bigger, so the place would end up
   * timing it out).
   */
  maxStateBytes?: number
  peerLimit?: number
  /** Peer timeout in ms (ENet's maximum; default 20000). */
  timeoutMs?: number
  /** Launch requests waiting for their app to announce (default 256). */
  maxPendingLaunches?: number
}

export interface AgentInfo {
  agentId: string
  displayName?: string
  identity?: unknown
  avatarId?: string
  address: string
  port: number
  connectedAt: Date
  announced: boolean
  isVisor: boolean
  ackedRevision: number
  rttMs: number
}

export type AgentEvent =
  | { kind: 'connected'; agent: AgentInfo }
  | { kind: 'announced'; agent: AgentInfo }
  | { kind: 'refused'; agent: AgentInfo; reason: string }
  | {
      kind: 'disconnected'
      agent: AgentInfo
      reason: 'disconnect' | 'timeout' | 'kicked' | 'closed' | 'exited'
      removed: number
    }

export interface RevisionEvent {
  revision: number
  /** Whether anything besides the place clock changed since the previous revision. */
  changed: boolean
  entityCount: number
}

export interface InteractionEvent {
  fromAgent: string
  type: string
  sender: string
  receiver: string
  requestId: string
  body: unknown
  /** place: handled by the place; forwarded: sent to the receiver's owner; dropped: nowhere to go. */
  route: 'place' | 'forwarded' | 'dropped'
}

export interface LaunchEvent {
  kind: 'requested' | 'failed' | 'pending' | 'completed' | 'orphaned'
  url: string
  token: string
  requesterAgent?: string
  avatarId?: string
  error?: string
}

export interface WarningEvent {
  agentId?: string
  message: string
}

export interface EntitySnapshot {
  id: string
  /** Agent id of the owner (null: the place itself). */
  owner: string | null
  ownerName?: string
  components: Record<string, unknown>
}

export interface WorldSnapshot {
  name: string
  revision: number
  agents: AgentInfo[]
  entities: EntitySnapshot[]
}

interface PlaceEvents {
  agent: [AgentEvent]
  revision: [RevisionEvent]
  interaction: [InteractionEvent]
  launch: [LaunchEvent]
  warning: [WarningEvent]
}

interface Track {
  id: number
  origin: Agent
  entityId: string
  recipients: Set<Agent>
}

interface PendingLaunch {
  token: string
  url: string
  requestId: string
  senderEntity: string
  requesterAgent: string
  completed: boolean
}

const WARNINGS_PER_AGENT = 50
/** Largest payload that fits one 1400-byte ENet datagram (MTU − headers); bigger ones are fragmented. */
const SINGLE_DATAGRAM_PAYLOAD = 1372
const BIG_STATE_HOLD_MS = 1000

class Agent {
  readonly id = newAgentId()
  readonly connectedAt = new Date()
  identity?: Record<string, unknown>
  avatarId?: string
  announced = false
  /** Refused or kicked: its remaining messages are ignored while it disconnects. */
  closing = false
  ackRev = 0
  intent?: Record<string, unknown>
  warnings = 0
  kicked = false
  /** Flow control for big states: the last state sent, and whether it went as reliable fragments. */
  lastSentRev = 0
  lastSentAt = 0
  lastSentBig = false

  constructor(readonly peer: TransportPeer) {}

  get displayName(): string | undefined {
    const n = this.identity?.display_name
    return typeof n === 'string' ? n : undefined
  }

  get label(): string {
    const who = this.displayName !== undefined ? `"${this.displayName}"` : 'agent'
    return `${who} ${this.id.slice(0, 6)} (${this.peer.address}:${this.peer.port})`
  }
}

function describeBody(body: unknown): string {
  let text: string
  try {
    text = JSON.stringify(body) ?? String(body)
  } catch {
    text = '<unprintable>'
  }
  return text.length > 160 ? `${text.slice(0, 157)}...` : text
}

export class Place extends EventEmitter<PlaceEvents> {
  readonly name: string
  readonly world = new World()
  private readonly agents = new Set<Agent>()
  private readonly tracks = new Map<number, Track>()
  private nextTrackId = 1
  private readonly launches = new Map<string, PendingLaunch>()
  private readonly assets: AssetRelay<Agent>
  private tickTimer?: NodeJS.Timeout
  private forcedTick = false
  private lastTickAt = 0
  private closed = false
  private readonly log: PlaceLog
  private readonly tickMs: number
  private readonly minTickGapMs: number
  private readonly maxMessageBytes: number
  private readonly maxStateBytes: number
  private stateTooBig = false
  private readonly maxPendingLaunches: number

  private constructor(
    private readonly host: TransportHost,
    private readonly opts: PlaceOptions,
  ) {
    super()
    this.name = opts.name ?? DEFAULT_PLACE_NAME
    this.log = opts.log ?? { info() {}, warn() {} }
    this.tickMs = opts.tickMs ?? 200
    this.minTickGapMs = opts.minTickGapMs ?? 50
    this.maxMessageBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024
    this.maxStateBytes = opts.maxStateBytes ?? 32 * 1024 * 1024
    this.maxPendingLaunches = opts.maxPendingLaunches ?? 256
    this.assets = new AssetRelay<Agent>({
      send: (agent, msg) => this.send(agent, CHANNEL.assets, msg, true),
      sourcesFor: (requester, assetId, publishedBy) => this.assetSources(requester, assetId, publishedBy),
      warn: (agent, message) => this.warn(agent, message),
    })
    host.on('connect', (peer: TransportPeer) => this.onConnect(peer))
    host.on('receive', (peer: TransportPeer, channel: number, data: Buffer) =>
      this.onReceive(peer, channel, data),
    )
    host.on('disconnect', (peer: TransportPeer, reason: 'disconnect' | 'timeout') =>
      this.onDisconnect(peer, reason),
    )
    host.on('error', (err: Error) => this.log.warn(`network error: ${err.message}`))
  }

  /** Binds the UDP port and starts ticking. */
  static async start(opts: PlaceOptions = {}): Promise<Place> {
    const transport = opts.transport ?? (await defaultTransport())
    const host = await transport.listen({
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 21337,
      peerLimit: opts.peerLimit ?? 128,
      channelLimit: CHANNEL_COUNT,
      timeoutMs: opts.timeoutMs ?? 20_000,
    })
    const place = new Place(host, opts)
    place.tick()
    return place
  }

  get port(): number {
    return this.host.address.port
  }

  get address(): string {
    return this.host.address.address
  }

  /** The URL agents connect to (as bound). */
  get url(): string {
    const a = this.address === '0.0.0.0' || this.address === '::' ? '127.0.0.1' : this.address
    return `alloplace://${a.includes(':') ? `[${a}]` : a}:${this.port}`
  }

  get revision(): number {
    return this.world.revision
  }

  /** Seconds on the place's monotonic clock (millisecond resolution). */
  serverTime(): number {
    return Math.round(performance.now()) / 1000
  }

  agentList(): AgentInfo[] {
    return [...this.agents].map((a) => this.info(a))
  }

  private info(a: Agent): AgentInfo {
    const avatar = a.avatarId ? this.world.get(a.avatarId) : undefined
    return {
      agentId: a.id,
      displayName: a.displayName,
      identity: a.identity,
      avatarId: a.avatarId,
      address: a.peer.address,
      port: a.peer.port,
      connectedAt: a.connectedAt,
      announced: a.announced,
      isVisor: avatar?.components.visor !== undefined,
      ackedRevision: a.ackRev,
      rttMs: a.peer.rttMs,
    }
  }

  /** A read-only copy of the world, with each entity's owner. */
  snapshot(): WorldSnapshot {
    const names = new Map([...this.agents].map((a) => [a.id, a.displayName]))
    const entities: EntitySnapshot[] = []
    for (const rec of this.world.all()) {
      entities.push({
        id: rec.id,
        owner: rec.owner,
        ownerName: rec.owner ? names.get(rec.owner) : undefined,
        components: jsonClone(rec.components as Record<string, unknown>),
      })
    }
    return { name: this.name, revision: this.world.revision, agents: this.agentList(), entities }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.tickTimer)
    this.assets.close()
    for (const a of this.agents) {
      a.closing = true
      a.peer.disconnect(0)
    }
    this.host.flush()
    // Give the DISCONNECTs a moment to leave before the socket closes.
    if (this.agents.size > 0) await new Promise((r) => setTimeout(r, 50))
    for (const a of [...this.agents]) this.dropAgent(a, 'closed')
    await this.host.close()
  }

  // ---- ticking ------------------------------------------------------------------------------

  private scheduleTick(delay: number): void {
    clearTimeout(this.tickTimer)
    this.tickTimer = setTimeout(() => this.tick(), delay)
  }

  /** After a place interaction: tick soon (the real place ticks right after handling it). */
  private forceTick(): void {
    if (this.forcedTick || this.closed) return
    this.forcedTick = true
    const wait = Math.max(0, this.lastTickAt + this.minTickGapMs - performance.now())
    this.scheduleTick(wait)
  }

  /** One simulation step: advance the clock, commit a revision, send every agent its state. */
  tick(): void {
    if (this.closed) return
    this.forcedTick = false
    this.lastTickAt = performance.now()
    try {
      this.simulatePoses()
      simulateGrabs(this.world, this.agents)
      const time = this.serverTime()
      this.simulateAnimations(time)
      const changed = this.world.dirty
      this.world.setComponent('place', 'clock', { time })
      const snap = this.world.commit()
      const now = performance.now()
      for (const agent of this.agents) {
        if (agent.peer.state !== 'connected') continue
        // A state bigger than one datagram travels as reliable fragments. Until the agent has
        // acknowledged the last big one (or a second has passed), don't queue another behind it:
        // it would only delay this agent's interaction responses and newer states.
        if (
          agent.lastSentBig &&
          agent.ackRev < agent.lastSentRev &&
          now - agent.lastSentAt < BIG_STATE_HOLD_MS
        )
          continue
        const text = this.world.messageFor(agent.ackRev)
        const bytes = Buffer.from(text, 'utf8')
        if (bytes.length > this.maxStateBytes) {
          if (!this.stateTooBig)
            this.log.warn(
              `! the world state is ${bytes.length} bytes, more than ENet clients accept in one message (${this.maxStateBytes}); states are held back until it shrinks`,
            )
          this.stateTooBig = true
          continue
        }
        agent.peer.send(CHANNEL.statediffs, bytes, { reliable: false })
        agent.lastSentRev = snap.revision
        agent.lastSentAt = now
        agent.lastSentBig = bytes.length > SINGLE_DATAGRAM_PAYLOAD
      }
      if (this.stateTooBig && Buffer.byteLength(this.world.messageFor(0)) <= this.maxStateBytes) {
        this.stateTooBig = false
        this.log.info('* the world state fits in one message again; sending states')
      }
      this.host.flush()
      this.emit('revision', { revision: snap.revision, changed, entityCount: snap.entities.size })
    } catch (err) {
      this.log.warn(`! internal error during a tick: ${(err as Error).stack ?? err}`)
    } finally {
      this.scheduleTick(this.tickMs)
    }
  }

  /**
   * allonet's property animations (`allosim_animate`): every entity's `property_animations` move
   * their paths to where they are at `time`, written into the state so the next deltas carry them;
   * finished non-repeating animations are removed (see animation.ts).
   */
  private simulateAnimations(time: number): void {
    const updates: Array<[string, Record<string, unknown>, string[]]> = []
    for (const rec of this.world.all()) {
      if (rec.components.property_animations === undefined) continue
      const r = animateEntity(rec.components, time)
      if (r) updates.push([rec.id, r.components, r.changed])
    }
    for (const [id, components, changed] of updates)
      for (const name of changed) this.world.setComponent(id, name, components[name])
  }

  /**
   * allonet's pose movement: an entity with `intent.actuate_pose` (owned by an agent, parented to
   * its avatar — or naming another avatar in `from_avatar`) takes the matching pose matrix from
   * that agent's latest intent, unless the matrix is the identity (nothing set).
   */
  private simulatePoses(): void {
    const byAvatar = new Map<string, Agent>()
    for (const a of this.agents) if (a.avatarId && a.intent) byAvatar.set(a.avatarId, a)
    if (byAvatar.size === 0) return
    for (const rec of this.world.all()) {
      const intent = rec.components.intent
      if (!isPlainObject(intent) || typeof intent.actuate_pose !== 'string' || rec.owner === null) continue
      const owner = this.agentById(rec.owner)
      if (!owner?.avatarId) continue
      let source: Agent | undefined
      if (typeof intent.from_avatar === 'string') source = byAvatar.get(intent.from_avatar)
      else {
        const rel = rec.components.relationships
        const parent = isPlainObject(rel) && typeof rel.parent === 'string' ? rel.parent : undefined
        if ((parent ?? rec.id) === owner.avatarId) source = owner
      }
      const poses = source?.intent?.poses
      const pose = isPlainObject(poses) ? poses[intent.actuate_pose] : undefined
      const matrix = isPlainObject(pose) ? pose.matrix : undefined
      if (!isMatrix(matrix) || jsonEqual(matrix, IDENTITY_MATRIX)) continue
      const transform = isPlainObject(rec.components.transform) ? rec.components.transform : {}
      if (jsonEqual(transform.matrix, matrix)) continue
      this.world.setComponent(rec.id, 'transform', { ...transform, matrix })
    }
  }

  // ---- connections ---------------------------------------------------------------------------

  private onConnect(peer: TransportPeer): void {
    if (this.closed) {
      peer.disconnectNow(0)
      return
    }
    const agent = new Agent(peer)
    peer.user = agent
    this.agents.add(agent)
    this.log.info(`+ connected: ${agent.label}`)
    this.emit('agent', { kind: 'connected', agent: this.info(agent) })
  }

  private onDisconnect(peer: TransportPeer, reason: 'disconnect' | 'timeout'): void {
    const agent = peer.user
    if (!(agent instanceof Agent) || !this.agents.has(agent)) return
    this.dropAgent(agent, agent.kicked ? 'kicked' : reason)
  }

  /**
   * The process of a launch has exited (the launcher saw it): its agents leave now, whatever state
   * their connection is in, instead of when their peer times out. An agent belongs to a launch when
   * it announced `identity.assist_instance` = the launch's token (assist-boot.lua adds it for Lua
   * apps; apps of other languages may). Returns how many agents were dropped.
   */
  dropLaunch(token: string): number {
    if (!token) return 0
    let n = 0
    for (const a of [...this.agents]) {
      if (a.identity?.assist_instance !== token) continue
      a.closing = true
      this.dropAgent(a, 'exited') // first: disconnectNow reports the peer gone at once
      a.peer.disconnectNow(0)
      n++
    }
    return n
  }

  private dropAgent(agent: Agent, reason: 'disconnect' | 'timeout' | 'kicked' | 'closed' | 'exited'): void {
    if (!this.agents.delete(agent)) return
    const removed = this.world.removeCascade(this.world.ownedBy(agent.id))
    for (const [id, track] of this.tracks) {
      track.recipients.delete(agent)
      if (track.origin === agent) this.tracks.delete(id)
    }
    this.assets.forget(agent)
    const why =
      reason === 'timeout'
        ? ' (timed out)'
        : reason === 'kicked'
          ? ' (kicked)'
          : reason === 'exited'
            ? ' (its process exited)'
            : ''
    const what = removed.length === 1 ? '1 entity' : `${removed.length} entities`
    if (reason !== 'closed') this.log.info(`- disconnected${why}: ${agent.label}; removed ${what}`)
    this.emit('agent', { kind: 'disconnected', agent: this.info(agent), reason, removed: removed.length })
  }

  /**
   * Whom to ask for an asset: the owner of the `published_by` entity, else the owners of entities
   * whose components name the asset (a texture, a model, a sound), else — like the real place —
   * every other agent. Asking only likely owners matters: alloui's AssetManager answers a request
   * for an asset it lacks with `Client:sendAsset(name, nil, …)`, which takes `#data` of nil and
   * raises a Lua error inside liballonet's callback, ending that app.
   */
  private assetSources(requester: Agent, assetId: string, publishedBy?: string): Agent[] {
    const others = [...this.agents].filter((a) => a !== requester && !a.closing)
    const ownersOf = (recs: Iterable<EntityRecord>) => {
      const ids = new Set<string>()
      for (const rec of recs) if (rec.owner !== null) ids.add(rec.owner)
      return others.filter((a) => ids.has(a.id))
    }
    const published = publishedBy !== undefined ? this.world.get(publishedBy) : undefined
    if (published) {
      const owner = ownersOf([published])
      if (owner.length) return owner
    }
    const naming: EntityRecord[] = []
    for (const rec of this.world.all()) if (mentions(rec.components, assetId)) naming.push(rec)
    const owners = ownersOf(naming)
    return owners.length ? owners : others
  }

  private send(agent: Agent, channel: number, data: Uint8Array, reliable: boolean): void {
    if (agent.peer.state !== 'connected') return
    agent.peer.send(channel, data, { reliable })
  }

  private warn(agent: Agent | undefined, message: string): void {
    this.emit('warning', { agentId: agent?.id, message })
    if (agent) {
      agent.warnings++
      if (agent.warnings > WARNINGS_PER_AGENT) return
      if (agent.warnings === WARNINGS_PER_AGENT) {
        this.log.warn(`! ${agent.label}: ${message} (further warnings about this agent are not shown)`)
        return
      }
      this.log.warn(`! ${agent.label}: ${message}`)
    } else this.log.warn(`! ${message}`)
  }

  private onReceive(peer: TransportPeer, channel: number, data: Buffer): void {
    const agent = peer.user
    if (!(agent instanceof Agent) || !this.agents.has(agent) || agent.closing || this.closed) return
    if (data.length > this.maxMessageBytes) {
      this.warn(
        agent,
        `sent a ${data.length}-byte message on channel ${channel} (limit ${this.maxMessageBytes}); disconnecting it`,
      )
      agent.closing = true
      peer.disconnectNow(ERROR_KICKED)
      this.dropAgent(agent, 'kicked')
      return
    }
    try {
      switch (channel) {
        case CHANNEL.commands: {
          this.onInteraction(agent, data)
          return
        }
        case CHANNEL.statediffs: {
          this.onIntent(agent, data)
          return
        }
        case CHANNEL.assets: {
          this.assets.handle(agent, data)
          return
        }
        case CHANNEL.clock: {
          this.onClock(agent, data)
          return
        }
        case CHANNEL.audio:
        case CHANNEL.video: {
          this.onMedia(agent, channel, data)
          return
        }
        default: {
          this.warn(agent, `dropped a message on unknown channel ${channel}`)
          return
        }
      }
    } catch (err) {
      // A bug must not take the place down for everyone: log it and carry on.
      this.warn(agent, `internal error while handling channel ${channel}: ${(err as Error).stack ?? err}`)
    }
  }

  // ---- channel 5: clock ------------------------------------------------------------------------

  private onClock(agent: Agent, data: Buffer): void {
    const msg = tryParse(data.toString('utf8'))
    if (!isPlainObject(msg) || typeof msg.client_time !== 'number') {
      this.warn(agent, 'ignored a clock message that is not {"client_time": <number>}')
      return
    }
    const reply = { ...msg, server_time: this.serverTime() }
    this.send(agent, CHANNEL.clock, Buffer.from(cjsonPrint(reply), 'utf8'), false)
  }

  // ---- channel 2: intents ----------------------------------------------------------------------

  private onIntent(agent: Agent, data: Buffer): void {
    const msg = tryParse(data.toString('utf8'))
    const intent = isPlainObject(msg) ? msg.intent : undefined
    if (!isPlainObject(intent)) {
      this.warn(agent, 'ignored a statediffs message that is not {"cmd": "intent", "intent": {…}}')
      return
    }
    for (const key of ['zmovement', 'xmovement', 'yaw', 'pitch']) {
      if (typeof intent[key] !== 'number') {
        this.warn(agent, `ignored an intent without a numeric "${key}"`)
        return
      }
    }
    agent.intent = intent
    const ack = intent.ack_state_rev
    if (typeof ack === 'number' && Number.isSafeInteger(ack) && ack >= 0) agent.ackRev = ack
  }

  // ---- channels 0 and 4: media -----------------------------------------------------------------

  private onMedia(agent: Agent, channel: number, data: Buffer): void {
    if (data.length < 7) {
      this.warn(agent, `dropped a ${data.length}-byte media packet (shorter than 7 bytes)`)
      return
    }
    const track = this.tracks.get(data.readUInt32BE(0))
    if (!track || track.origin !== agent) return
    for (const r of track.recipients) this.send(r, channel, data, false)
  }

  // ---- channel 1: interactions -----------------------------------------------------------------

  private respond(agent: Agent, requestId: string, body: unknown[], receiver = ''): void {
    const text = cjsonPrint(['interaction', 'response', 'place', receiver, requestId, body])
    this.send(agent, CHANNEL.commands, Buffer.from(text, 'utf8'), true)
    this.log.debug?.(`  → ${agent.label}: ${describeBody(body)}`)
  }

  private onInteraction(agent: Agent, data: Buffer): void {
    const text = data.toString('utf8')
    const msg = tryParse(text)
    if (!Array.isArray(msg)) {
      const why = msg === undefined && isJson(text) ? NOT_CJSON : 'is not a JSON array'
      this.warn(agent, `dropped a commands message that ${why}`)
      return
    }
    if (msg.length < 6 || msg[0] !== 'interaction') {
      this.warn(
        agent,
        'dropped a commands message that is not ["interaction", type, sender, receiver, request_id, body]',
      )
      return
    }
    const [, type, sender, receiver, requestId, body] = msg
    if (
      typeof type !== 'string' ||
      typeof sender !== 'string' ||
      typeof receiver !== 'string' ||
      typeof requestId !== 'string'
    ) {
      this.warn(agent, 'dropped an interaction whose type, sender, receiver or request_id is not a string')
      return
    }
    const name = Array.isArray(body) && typeof body[0] === 'string' ? (body[0] as string) : undefined
    const event = (route: InteractionEvent['route']) =>
      this.emit('interaction', { fromAgent: agent.id, type, sender, receiver, requestId, body, route })
    this.log.debug?.(
      `  ${agent.label} ${type} ${sender || '""'} → ${receiver || '""'}: ${describeBody(body)}`,
    )

    if (name === undefined || nestsDeeperThan(body, MAX_VALUE_DEPTH + 4)) {
      const why =
        name === undefined ? 'is not ["name", …]' : `nests deeper than ${MAX_VALUE_DEPTH + 4} levels`
      this.warn(agent, `${type} to ${JSON.stringify(receiver)} has a body that ${why}; not delivered`)
      if (type === 'request') this.respond(agent, requestId, [name ?? '', 'error', 'invalid request'])
      event('dropped')
      return
    }
    const req: Req = { agent, type, sender, receiver, requestId, body: body as unknown[], name }
    if (receiver === 'place') {
      event('place')
      this.onPlaceInteraction(req)
      this.forceTick()
      return
    }
    if (name === 'announce') {
      // liballonet takes ANY interaction whose body is ["announce", …] as the place's answer to its
      // own announce (client.c parse_interaction): forwarded, it would replace the receiver's avatar
      // id or, with "error", end its session. Only the place may send those.
      this.warn(
        agent,
        `${type} ["announce", …] to ${JSON.stringify(receiver)} not delivered: only the place answers announces`,
      )
      event('dropped')
      if (type === 'request')
        this.respond(agent, requestId, announceError('an announce must be sent to "place"'))
      return
    }
    const target = receiver === '' ? undefined : this.world.get(receiver)
    const owner = target?.owner ? this.agentById(target.owner) : undefined
    if (owner && !owner.closing) {
      event('forwarded')
      this.send(owner, CHANNEL.commands, data, true)
      return
    }
    event('dropped')
    if (type === 'request') this.respond(agent, requestId, [name, 'error', 'invalid request'])
  }

  private agentById(id: string): Agent | undefined {
    for (const a of this.agents) if (a.id === id) return a
    return undefined
  }

  private ownerLabel(rec: EntityRecord): string {
    if (rec.owner === null) return 'the place'
    return this.agentById(rec.owner)?.label ?? `agent ${rec.owner.slice(0, 6)}`
  }

  private onPlaceInteraction(req: Req): void {
    switch (req.name) {
      case 'announce': {
        this.announce(req)
        return
      }
      case 'spawn_entity': {
        this.spawnEntity(req)
        return
      }
      case 'remove_entity': {
        this.removeEntity(req)
        return
      }
      case 'change_components': {
        this.changeComponents(req)
        return
      }
      case 'allocate_track': {
        this.allocateTrack(req)
        return
      }
      case 'media_track': {
        this.mediaTrack(req)
        return
      }
      case 'add_property_animation': {
        this.addPropertyAnimation(req)
        return
      }
      case 'remove_property_animation': {
        this.removePropertyAnimation(req)
        return
      }
      case 'list_agents': {
        this.listAgents(req)
        return
      }
      case 'kick_agent': {
        this.kickAgent(req)
        return
      }
      case 'launch_app': {
        this.launchApp(req).catch((err: Error) =>
          this.warn(req.agent, `launch_app: internal error: ${err.stack ?? err}`),
        )
        return
      }
      default:
        if (req.type === 'request')
          this.respond(req.agent, req.requestId, [req.name, 'error', 'invalid request'])
    }
  }

  private invalid(req: Req, why: string, body?: unknown[]): void {
    this.warn(req.agent, `${req.name}: ${why}`)
    this.respond(req.agent, req.requestId, body ?? [req.name, 'error', 'invalid request'])
  }

  /**
   * Refuses an announce. liballonet reads a refusal as ["announce", "error", <code number>,
   * <message string>] and hands both to the app's disconnect callback (client.c parse_interaction),
   * then stops: so the body always has that shape, and an agent whose first announce failed is
   * disconnected (it has no avatar and its client has given up).
   */
  private refuseAnnounce(req: Req, why: string, message: string): void {
    const { agent } = req
    this.warn(agent, `announce refused: ${why}`)
    this.respond(agent, req.requestId, announceError(message))
    if (agent.announced) return
    agent.closing = true
    agent.peer.disconnect(ERROR_INITIALIZATION_FAILURE)
    this.emit('agent', { kind: 'refused', agent: this.info(agent), reason: why })
  }

  private announce(req: Req): void {
    const { agent, body } = req
    if (agent.announced) {
      this.refuseAnnounce(req, 'announced a second time (its first avatar stays)', 'Already announced.')
      return
    }
    if (body.length < 7) {
      this.refuseAnnounce(req, 'announce body has fewer than 7 elements', 'Invalid announce.')
      return
    }
    const version = body[2]
    if (version !== PROTOCOL_VERSION) {
      agent.closing = true
      this.respond(agent, req.requestId, ['announce', 'error', ERROR_OUTDATED_VERSION, OUTDATED_MESSAGE])
      agent.peer.disconnect(ERROR_OUTDATED_VERSION)
      const reason = `protocol version ${JSON.stringify(version)} (this place speaks ${PROTOCOL_VERSION})`
      this.log.warn(`! refused ${agent.label}: ${reason}; disconnecting with 1003`)
      this.emit('agent', { kind: 'refused', agent: this.info(agent), reason })
      return
    }
    const identity = asObject(body[4])
    if (!identity || nestsDeeperThan(identity, MAX_VALUE_DEPTH)) {
      this.refuseAnnounce(req, 'identity (body[4]) is not an object', 'Invalid announce: identity.')
      return
    }
    const rawAvatar = asObject(body[6])
    if (!rawAvatar) {
      this.refuseAnnounce(req, 'spawn_avatar (body[6]) is not an entity spec', 'Invalid announce: avatar.')
      return
    }
    const { avatar: avatarComponent, ...avatarSpec } = rawAvatar
    const token =
      isPlainObject(avatarComponent) && typeof avatarComponent.token === 'string'
        ? avatarComponent.token
        : undefined
    let spec: ReturnType<typeof parseSpec>
    try {
      spec = parseSpec(avatarSpec)
      this.world.checkParent(undefined, spec.components)
    } catch (err) {
      this.refuseAnnounce(
        req,
        `spawn_avatar: ${(err as Error).message}`,
        `Invalid avatar: ${(err as Error).message}`,
      )
      return
    }
    const ids = this.world.spawn(spec, agent.id)
    agent.avatarId = ids[0]
    agent.identity = identity
    agent.announced = true
    if (token !== undefined) this.completeLaunch(token, ids[0], agent)
    this.respond(agent, req.requestId, ['announce', ids[0], this.name])
    this.log.info(
      `* announced: ${agent.label} as ${JSON.stringify(agent.displayName ?? '')}, avatar ${ids[0]}`,
    )
    this.emit('agent', { kind: 'announced', agent: this.info(agent) })
  }

  private spawnEntity(req: Req): void {
    let spec: ReturnType<typeof parseSpec>
    try {
      spec = parseSpec(req.body[1])
      this.world.checkParent(undefined, spec.components)
    } catch (err) {
      this.invalid(req, (err as Error).message)
      return
    }
    const ids = this.world.spawn(spec, req.agent.id)
    this.respond(req.agent, req.requestId, ['spawn_entity', ids[0]])
  }

  private removeEntity(req: Req): void {
    const eid = req.body[1]
    const rec = typeof eid === 'string' ? this.world.get(eid) : undefined
    if (!rec || rec.owner === null) {
      if (typeof eid !== 'string') this.warn(req.agent, 'remove_entity without an entity id')
      this.respond(req.agent, req.requestId, ['remove_entity', 'failed'])
      return
    }
    if (rec.owner !== req.agent.id)
      this.warn(
        req.agent,
        `removed entity ${rec.id} owned by ${this.ownerLabel(rec)} (allowed, but usually a bug)`,
      )
    if (req.body[2] === 'reparent') this.world.removeReparent(rec.id)
    else this.world.removeCascade([rec.id])
    this.respond(req.agent, req.requestId, ['remove_entity', 'ok'])
  }

  private changeComponents(req: Req): void {
    const { body } = req
    const eid = body[1]
    const add = asObject(body[3])
    const removeRaw =
      body[5] === undefined ? [] : Array.isArray(body[5]) ? body[5] : asObject(body[5]) ? [] : undefined
    if (typeof eid !== 'string' || !add || !removeRaw || !removeRaw.every((n) => typeof n === 'string')) {
      this.invalid(req, 'expected ["change_components", eid, "add_or_change", {…}, "remove", [names]]')
      return
    }
    const rec = this.world.get(eid)
    if (!rec) {
      this.warn(req.agent, `change_components on entity ${eid}, which does not exist`)
      this.respond(req.agent, req.requestId, ['change_components', 'error', 'no such entity'])
      return
    }
    if (rec.owner === null) {
      this.invalid(req, 'tried to change the place entity', [
        'change_components',
        'error',
        'the place entity cannot be changed',
      ])
      return
    }
    const values: Record<string, unknown> = {}
    try {
      for (const [name, value] of Object.entries(add)) values[name] = componentValue(name, value)
      this.world.checkParent(eid, values)
    } catch (err) {
      this.invalid(req, (err as Error).message, ['change_components', 'error', (err as Error).message])
      return
    }
    if (rec.owner !== req.agent.id)
      this.warn(
        req.agent,
        `changed entity ${eid} owned by ${this.ownerLabel(rec)} (allowed, but usually a bug)`,
      )
    this.world.change(eid, values, removeRaw as string[])
    this.respond(req.agent, req.requestId, ['change_components', 'ok'])
  }

  private allocateTrack(req: Req): void {
    const rec = this.world.get(req.sender)
    const fail = (why: string) => this.invalid(req, why, ['allocate_track', 'failed', why])
    if (!rec || rec.owner === null) {
      fail('no such sender entity')
      return
    }
    if (rec.components.live_media !== undefined) {
      fail('only one track allowed per entity')
      return
    }
    const [, type, format, metadata] = req.body
    if ((type !== 'audio' && type !== 'video') || typeof format !== 'string') {
      fail('expected ["allocate_track", "audio"|"video", format, metadata]')
      return
    }
    if (rec.owner !== req.agent.id)
      this.warn(req.agent, `allocated a track on entity ${rec.id} owned by ${this.ownerLabel(rec)}`)
    const id = this.nextTrackId++
    this.tracks.set(id, { id, origin: req.agent, entityId: rec.id, recipients: new Set() })
    this.world.setComponent(rec.id, 'live_media', { track_id: id, type, format, metadata: metadata ?? {} })
    this.respond(req.agent, req.requestId, ['allocate_track', 'ok', id])
  }

  private mediaTrack(req: Req): void {
    const [, id, verb] = req.body
    const fail = (why: string) => this.invalid(req, why, ['media_track', 'failed', why])
    if (typeof id !== 'number' || typeof verb !== 'string') {
      fail('missing id or verb')
      return
    }
    const track = this.tracks.get(id)
    if (!track) {
      fail('invalid track id')
      return
    }
    if (verb === 'subscribe') track.recipients.add(req.agent)
    else if (verb === 'unsubscribe') track.recipients.delete(req.agent)
    else {
      fail('incorrect verb')
      return
    }
    this.respond(req.agent, req.requestId, ['media_track', 'ok', id])
  }

  private addPropertyAnimation(req: Req): void {
    const rec = this.world.get(req.sender)
    const spec = req.body[1]
    const fail = (why: string) => this.invalid(req, why, ['add_property_animation', 'failed', why])
    if (!rec || rec.owner === null) {
      fail('no such sender entity')
      return
    }
    if (!isPlainObject(spec) || typeof spec.path !== 'string' || !('from' in spec) || !('to' in spec)) {
      fail('invalid argument')
      return
    }
    const comp = isPlainObject(rec.components.property_animations) ? rec.components.property_animations : {}
    const animations = isPlainObject(comp.animations) ? comp.animations : {}
    const id = animationId()
    this.world.setComponent(rec.id, 'property_animations', {
      ...comp,
      animations: { ...animations, [id]: spec },
    })
    this.respond(req.agent, req.requestId, ['add_property_animation', 'ok', id])
  }

  private removePropertyAnimation(req: Req): void {
    const rec = this.world.get(req.sender)
    const id = req.body[1]
    const fail = (why: string) => this.invalid(req, why, ['remove_property_animation', 'failed', why])
    if (typeof id !== 'string') {
      fail('missing animation ID')
      return
    }
    const comp =
      rec && isPlainObject(rec.components.property_animations)
        ? rec.components.property_animations
        : undefined
    const animations = comp && isPlainObject(comp.animations) ? comp.animations : undefined
    if (!rec || !animations || !Object.hasOwn(animations, id)) {
      fail("can't remove that animation because it doesn't exist")
      return
    }
    const { [id]: _removed, ...rest } = animations
    this.world.setComponent(rec.id, 'property_animations', { ...comp, animations: rest })
    this.respond(req.agent, req.requestId, ['remove_property_animation', 'ok', id])
  }

  private listAgents(req: Req): void {
    const list = [...this.agents]
      .filter((a) => a.announced && !a.closing)
      .map((a) => {
        const info = this.info(a)
        const secs = Math.round((Date.now() - a.connectedAt.getTime()) / 1000)
        return {
          display_name: a.displayName ?? '',
          agent_id: a.id,
          avatar_id: a.avatarId,
          is_visor: info.isVisor,
          stats: `${a.peer.address}:${a.peer.port}, rtt ${Math.round(a.peer.rttMs)} ms, connected ${secs} s, acked revision ${a.ackRev}`,
        }
      })
    this.respond(req.agent, req.requestId, ['list_agents', 'ok', list])
  }

  private kickAgent(req: Req): void {
    const id = req.body[1]
    if (typeof id !== 'string') {
      this.invalid(req, 'kick_agent without an agent id')
      return
    }
    const target = this.agentById(id)
    if (!target) {
      this.respond(req.agent, req.requestId, ['list_agents', 'error', 'agent not found'])
      return
    }
    this.log.info(`! ${req.agent.label} kicked ${target.label}`)
    target.kicked = true
    target.closing = true
    this.respond(req.agent, req.requestId, ['list_agents', 'ok'])
    target.peer.disconnect(ERROR_KICKED)
  }

  // ---- launch_app ------------------------------------------------------------------------------

  private async launchApp(req: Req): Promise<void> {
    const url = req.body[1]
    if (typeof url !== 'string' || !url.startsWith('alloapp:') || url.length === 'alloapp:'.length)
      return this.invalid(req, 'the app URL is not an alloapp: URL')
    const args = req.body[2] === undefined ? {} : asObject(req.body[2])
    if (!args) return this.invalid(req, 'launch arguments (body[2]) are not an object')
    const senderRec = this.world.get(req.sender)
    const requester = senderRec?.owner ? this.agentById(senderRec.owner) : undefined
    if (!requester?.announced)
      return this.invalid(
        req,
        `sender entity ${JSON.stringify(req.sender)} does not exist or has not announced`,
      )
    if (this.launches.size >= this.maxPendingLaunches)
      return this.invalid(req, 'too many launches are waiting for their apps', [
        'launch_app',
        'error',
        'Too many pending app launches',
      ])
    const token = avatarToken()
    const { avatarToken: _old, ...rest } = args
    const body = cjsonPrint({ ...rest, avatarToken: token })
    const pending: PendingLaunch = {
      token,
      url,
      requestId: req.requestId,
      senderEntity: req.sender,
      requesterAgent: requester.id,
      completed: false,
    }
    // Registered before the POST: the app may announce before the gateway's answer arrives.
    this.launches.set(token, pending)
    this.log.info(`> ${req.agent.label} launches ${url}`)
    this.emit('launch', { kind: 'requested', url, token, requesterAgent: requester.id })
    const target = gatewayTarget(url)
    const placeUrl = `alloplace://${this.opts.publicHost ?? 'localhost'}:${this.port}`
    const result = target
      ? await postToGateway(target, buildLaunchRequest(target, body, requester.identity, placeUrl))
      : ({ ok: false, error: FAILED_CONNECTION } as const)
    if (this.closed || pending.completed) return
    if (!result.ok) {
      this.launches.delete(token)
      this.log.warn(`! launching ${url} failed: ${result.error}`)
      this.emit('launch', { kind: 'failed', url, token, requesterAgent: requester.id, error: result.error })
      if (this.agents.has(req.agent))
        this.respond(req.agent, req.requestId, ['launch_app', 'error', result.error])
      return
    }
    this.log.info(`> gateway accepted ${url}; waiting for the app to announce with its token`)
    this.emit('launch', { kind: 'pending', url, token, requesterAgent: requester.id })
  }

  private completeLaunch(token: string, avatarId: string, app: Agent): void {
    const pending = this.launches.get(token)
    if (!pending) {
      this.log.warn(`! ${app.label} announced with launch token ${token}, but no launch is waiting for it`)
      return
    }
    this.launches.delete(token)
    pending.completed = true
    const senderRec = this.world.get(pending.senderEntity)
    const requester = senderRec?.owner ? this.agentById(senderRec.owner) : undefined
    if (!requester) {
      this.log.info(`> launched app ${pending.url} announced as ${avatarId}; its requester has left`)
      this.emit('launch', { kind: 'orphaned', url: pending.url, token, avatarId })
      return
    }
    this.respond(requester, pending.requestId, ['launch_app', 'ok', avatarId], pending.senderEntity)
    this.log.info(`> launched app ${pending.url} is up as ${app.label}, avatar ${avatarId}`)
    this.emit('launch', {
      kind: 'completed',
      url: pending.url,
      token,
      requesterAgent: requester.id,
      avatarId,
    })
  }
}

/** An announce refusal as liballonet reads it: code (a number) and message (a string). */
function announceError(message: string): unknown[] {
  return ['announce', 'error', ERROR_INITIALIZATION_FAILURE, message]
}

/** Whether a JSON value contains the string `text` anywhere (checked without recursion). */
function mentions(value: unknown, text: string): boolean {
  const stack = [value]
  while (stack.length) {
    const v = stack.pop()
    if (v === text) return true
    if (typeof v === 'object' && v !== null) for (const child of Object.values(v)) stack.push(child)
  }
  return false
}

/** Whether text is JSON to JSON.parse (to tell "not JSON" from "JSON a C peer cannot parse"). */
function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

interface Req {
  agent: Agent
  type: string
  sender: string
  receiver: string
  requestId: string
  body: unknown[]
  name: string
}

export { SpecError }
