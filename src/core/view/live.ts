/**
 * The view of a live place: the world read from the `Place` itself (entities with their owners,
 * agents, every interaction it routes), and the page's hand — an agent that joins the place with
 * an avatar and a `hand/right` child, like a visor or the traces' "poker", and sends the page's
 * pokes and grabs from that hand entity.
 */
import type { AlloClient, ClientOptions } from '../place/client.js'
import type { InteractionEvent, Place, WorldSnapshot } from '../place/place.js'
import type { Transport } from '../place/transport.js'
import {
  type Components,
  IDENTITY,
  type InteractionEntry,
  invert,
  isObject,
  type Mat4,
  multiply,
  parentOf,
  type SelfInfo,
  worldMatrix,
} from './protocol.js'
import {
  type GrabPose,
  startViewServer,
  type ViewHand,
  type ViewServer,
  type WorldListener,
  type WorldSource,
} from './server.js'
import type { ViewWorld } from './world.js'

/** Converts the place's snapshot (owners by agent id) into what the page shows. */
export function viewWorldOf(snap: WorldSnapshot): ViewWorld {
  const names = new Map(snap.agents.map((a) => [a.agentId, a.displayName ?? `agent ${a.agentId}`]))
  return {
    placeName: snap.name,
    entities: new Map(
      snap.entities.map((e) => [
        e.id,
        {
          id: e.id,
          components: e.components,
          ownerId: e.owner,
          owner: e.owner === null ? null : (e.ownerName ?? names.get(e.owner) ?? null),
        },
      ]),
    ),
    agents: snap.agents.map((a) => ({
      id: a.agentId,
      name: a.displayName ?? (a.announced ? `agent ${a.agentId}` : `${a.agentId} (not announced)`),
      avatarId: a.avatarId ?? null,
    })),
  }
}

export class PlaceWorld implements WorldSource {
  readonly reportsInteractions = true
  private cached: ViewWorld | null = null

  constructor(private readonly place: Place) {}

  current(): ViewWorld {
    this.cached ??= viewWorldOf(this.place.snapshot())
    return this.cached
  }

  subscribe(listener: WorldListener): () => void {
    const onRevision = (e: { changed: boolean }) => {
      if (!e.changed) return
      this.cached = null
      listener.onChange()
    }
    const onAgent = () => {
      this.cached = null
      listener.onChange()
    }
    const onInteraction = (e: InteractionEvent) => listener.onInteraction(this.entryOf(e))
    this.place.on('revision', onRevision)
    this.place.on('agent', onAgent)
    this.place.on('interaction', onInteraction)
    return () => {
      this.place.off('revision', onRevision)
      this.place.off('agent', onAgent)
      this.place.off('interaction', onInteraction)
    }
  }

  private entryOf(e: InteractionEvent): InteractionEntry {
    const w = this.current()
    const agentName = (id: string) => w.agents.find((a) => a.id === id)?.name ?? null
    return {
      at: Date.now(),
      type: e.type,
      from: e.sender,
      to: e.receiver,
      requestId: e.requestId,
      body: e.body,
      fromAgent: agentName(e.fromAgent),
      toAgent: e.receiver === 'place' ? 'place' : (w.entities.get(e.receiver)?.owner ?? null),
    }
  }
}

/** Where the hand rests when the page is not using it: in front of the avatar, like the poker's. */
export const REST_HAND: Mat4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.1, 1.2, -0.5, 1]

/** The avatar the view announces: a bare transform with a right hand (cf. traces README, "poker"). */
export function viewAvatar(): Record<string, unknown> {
  return {
    transform: { matrix: IDENTITY },
    children: [
      {
        transform: { matrix: REST_HAND },
        intent: { actuate_pose: 'hand/right' },
        collider: { type: 'box', width: 0.05, height: 0.05, depth: 0.05 },
      },
    ],
  }
}

export class ClientHand implements ViewHand {
  handId: string | null = null

  constructor(
    readonly client: AlloClient,
    private readonly agentId: () => string | null,
  ) {}

  /** Connects, announces with the view's avatar, and waits until the hand entity is in the state. */
  static async join(
    target: { host: string; port: number },
    opts: {
      name?: string
      /** The announce identity (default `{display_name: name}`). */
      identity?: Record<string, unknown>
      transport?: Transport
      agentId?: () => string | null
      client?: Omit<ClientOptions, 'transport'>
      /** Called with the connected client before it announces (to listen from the first message). */
      onConnect?: (client: AlloClient) => void
    } = {},
  ): Promise<ClientHand> {
    const { AlloClient } = await import('../place/client.js')
    const client = await AlloClient.connect(target, { ...opts.client, transport: opts.transport })
    try {
      opts.onConnect?.(client)
      const { avatarId } = await client.announce({
        identity: opts.identity ?? { display_name: opts.name ?? 'web view' },
        avatar: viewAvatar(),
      })
      const hand = new ClientHand(client, opts.agentId ?? (() => null))
      const state = await client.waitForState((s) =>
        Object.values(s.entities).some((e) => parentOf(e.components) === avatarId),
      )
      hand.handId =
        Object.values(state.entities).find(
          (e) =>
            parentOf(e.components) === avatarId &&
            isObject(e.components.intent) &&
            e.components.intent.actuate_pose === 'hand/right',
        )?.id ?? null
      hand.pose(null, null)
      return hand
    } catch (err) {
      await client.disconnect().catch(() => {})
      throw err
    }
  }

  self(): SelfInfo {
    return { agentId: this.agentId(), avatarId: this.client.avatarId ?? null, handId: this.handId }
  }

  send(type: 'oneway' | 'request', receiver: string, body: unknown[]): void {
    const sender = this.handId ?? this.client.avatarId ?? ''
    if (type === 'oneway') this.client.oneway(receiver, body, { sender })
    // alloui buttons never answer pokes (traces): do not wait long for a response.
    else this.client.request(receiver, body, { sender, timeoutMs: 3000 }).catch(() => {})
  }

  pose(hand: Mat4 | null, grab: GrabPose | null): void {
    const poses = (this.client.intent.poses ?? {}) as Record<string, { grab?: unknown; [k: string]: unknown }>
    const wasHolding = isObject(poses['hand/right']?.grab) && 'entity' in (poses['hand/right'].grab as object)
    poses['hand/right'] = {
      matrix: hand ? this.avatarLocal(hand) : REST_HAND,
      skeleton: [],
      grab: grab ?? {},
    }
    this.client.intent.poses = poses
    // Grabbing and letting go go out at once; moves ride on the regular 20 Hz intents.
    if (wasHolding !== (grab !== null)) this.client.sendIntent()
  }

  /** Intent poses are relative to the avatar (the place sets them as the hand's transform). */
  private avatarLocal(handWorld: Mat4): Mat4 {
    const avatar = this.client.avatarId
    if (!avatar) return handWorld
    const lookup = (id: string): Components | undefined => this.client.state.entities[id]?.components
    return multiply(invert(worldMatrix(avatar, lookup)), handWorld)
  }

  async moveTo(handWorld: Mat4, timeoutMs = 1000): Promise<void> {
    this.pose(handWorld, null)
    this.client.sendIntent()
    const want = this.avatarLocal(handWorld)
    const id = this.handId
    if (!id) return
    const there = (s: { entities: Record<string, { components: Components }> }) => {
      const t = s.entities[id]?.components.transform
      const m = isObject(t) ? t.matrix : undefined
      return Array.isArray(m) && m.length === 16 && m.every((v, i) => Math.abs(Number(v) - want[i]) < 1e-3)
    }
    await this.client.waitForState(there, timeoutMs).catch(() => {})
  }

  fetchAsset(id: string): Promise<Uint8Array> {
    return this.client.requestAsset(id)
  }

  close(): Promise<void> {
    return this.client.disconnect()
  }
}

/**
 * The page's hand, joining the place only when first needed (a page connects), so that a place
 * nobody looks at has no extra agent.
 */
export class LazyHand implements ViewHand {
  private joined: Promise<ClientHand> | null = null
  private inner: ClientHand | null = null
  private agentId: string | null = null
  private closed = false

  constructor(
    private readonly place: Place,
    private readonly transport?: Transport,
  ) {}

  activate(): Promise<void> {
    return this.ready().then(() => {})
  }

  /** The joined hand (joins on first call). */
  ready(): Promise<ClientHand> {
    if (this.closed) return Promise.reject(new Error('the view is closed'))
    this.joined ??= ClientHand.join(
      { host: connectHost(this.place.address), port: this.place.port },
      { transport: this.transport, agentId: () => this.agentId },
    ).then(
      (hand) => {
        this.inner = hand
        this.agentId =
          this.place.agentList().find((a) => a.avatarId !== undefined && a.avatarId === hand.client.avatarId)
            ?.agentId ?? null
        if (this.closed) void hand.close()
        return hand
      },
      (err) => {
        this.joined = null
        throw err
      },
    )
    return this.joined
  }

  get handId(): string | null {
    return this.inner?.handId ?? null
  }

  self(): SelfInfo {
    return this.inner?.self() ?? { agentId: null, avatarId: null, handId: null }
  }

  send(type: 'oneway' | 'request', receiver: string, body: unknown[]): void {
    this.ready().then(
      (h) => h.send(type, receiver, body),
      () => {},
    )
  }

  pose(hand: Mat4 | null, grab: GrabPose | null): void {
    this.ready().then(
      (h) => h.pose(hand, grab),
      () => {},
    )
  }

  async moveTo(hand: Mat4): Promise<void> {
    await (await this.ready()).moveTo(hand)
  }

  async fetchAsset(id: string): Promise<Uint8Array> {
    return (await this.ready()).fetchAsset(id)
  }

  async close(): Promise<void> {
    this.closed = true
    await this.inner?.close()
  }
}

export interface PlaceViewOptions {
  place: Place
  host?: string
  port?: number
  transport?: Transport
  staticDir?: string
  onError?: (message: string) => void
  /** Host names besides localhost and IP addresses the view answers to. */
  allowedHosts?: string[]
}

export interface PlaceView extends ViewServer {
  hand: LazyHand
}

/** The web view of a running place: serves the page; its agent joins when a page connects. */
export async function startPlaceView(opts: PlaceViewOptions): Promise<PlaceView> {
  const world = new PlaceWorld(opts.place)
  const hand = new LazyHand(opts.place, opts.transport)
  const server = await startViewServer({
    world,
    hand,
    host: opts.host,
    port: opts.port,
    staticDir: opts.staticDir,
    onError: opts.onError,
    allowedHosts: opts.allowedHosts,
  })
  return {
    ...server,
    hand,
    async close() {
      await server.close()
      await hand.close()
    },
  }
}

/** A place bound to every address is reached on loopback. */
function connectHost(address: string): string {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1'
  if (address === '::') return '::1'
  return address
}
