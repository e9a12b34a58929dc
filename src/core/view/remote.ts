/**
 * The web view as a client of any allonet place (`assist view alloplace://…`, `assist run
 * alloplace://… --view`): the view's agent joins the place like a visor (announce, an avatar with a
 * `hand/right` child, intents, clock), the world is what the place's state diffs say, and the page
 * is the same page the built-in place serves. What only a place knows is derived where the protocol
 * allows and otherwise left out: owners are the root entity of each tree, and the interaction log
 * holds what the view's own agent sends and receives. When the place goes away (restart, network)
 * the view keeps the last world, says "reconnecting" and joins again with backoff.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { UserError } from '../errors.js'
import type { AlloClient, Interaction } from '../place/client.js'
import type { Transport } from '../place/transport.js'
import type { PlaceUrl } from '../urls.js'
import { ClientHand } from './live.js'
import type { Mat4, PlaceStatus, SelfInfo, SourceInfo } from './protocol.js'
import {
  type GrabPose,
  startViewServer,
  type ViewHand,
  type ViewServer,
  type WorldListener,
  type WorldSource,
} from './server.js'
import { RemoteWorldBuilder, rootOf, treeKind, type ViewWorld } from './world.js'

export interface RemotePlaceOptions {
  place: PlaceUrl
  /** Display name the view's agent announces with (default "web view"). */
  name?: string
  /** The whole announce identity (default `{display_name: name}`). */
  identity?: Record<string, unknown>
  transport?: Transport
  /** First wait before joining again after a loss (default 500 ms); doubles up to `maxBackoffMs`. */
  minBackoffMs?: number
  /** Longest wait between attempts (default 5 s). */
  maxBackoffMs?: number
  /**
   * Give the place up after this long without acknowledgements (default 10 s, allonet's minimum; its
   * maximum is 20 s). A busy place can take seconds to acknowledge: shorter gives up on live places.
   */
  peerTimeoutMs?: number
  /** One line per event, for people (joined, lost, retrying). */
  onInfo?: (message: string) => void
  /**
   * The place refused the view for good (an announce error: another protocol version), or its host
   * name does not resolve on the first attempt. The view stops trying.
   */
  onFatal?: (err: Error) => void
}

/** The place as one client sees it: the world source and the page's hand of the view server. */
export class RemotePlace implements WorldSource, ViewHand {
  readonly reportsInteractions = false
  readonly source: SourceInfo
  private hand: ClientHand | null = null
  private entities: Record<string, unknown> = {}
  private placeName: string
  private readonly builder = new RemoteWorldBuilder()
  private cached: ViewWorld | null = null
  private readonly listeners = new Set<WorldListener>()
  private state: PlaceStatus = { state: 'connecting' }
  private everLive = false
  private stopped = false
  private wake: (() => void) | null = null
  private loop: Promise<void> | null = null
  private readonly name: string

  constructor(private readonly opts: RemotePlaceOptions) {
    this.source = { kind: 'remote', url: opts.place.href }
    this.placeName = opts.place.href
    const n = opts.identity?.display_name
    this.name = typeof n === 'string' ? n : (opts.name ?? 'web view')
  }

  /** Starts joining the place (and joining again whenever it is lost) until `close()`. */
  start(): void {
    this.loop ??= this.run()
  }

  // ---- WorldSource ------------------------------------------------------------------------

  current(): ViewWorld {
    this.cached ??= this.builder.build(this.entities, this.placeName, {
      avatarId: this.hand?.client.avatarId ?? null,
      name: this.name,
    })
    return this.cached
  }

  subscribe(listener: WorldListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  status(): PlaceStatus {
    return this.state
  }

  /** The link to the place: live, connecting (never joined yet) or reconnecting. */
  get linkState(): PlaceStatus['state'] {
    return this.state.state
  }

  private changed(): void {
    this.cached = null
    for (const l of this.listeners) l.onChange()
  }

  private setStatus(status: PlaceStatus): void {
    this.state = status
    for (const l of this.listeners) l.onStatus?.()
  }

  // ---- ViewHand ---------------------------------------------------------------------------

  self(): SelfInfo {
    const avatarId = this.hand?.client.avatarId ?? null
    return { agentId: avatarId, avatarId, handId: this.hand?.handId ?? null }
  }

  send(type: 'oneway' | 'request', receiver: string, body: unknown[]): void {
    this.hand?.send(type, receiver, body)
  }

  pose(hand: Mat4 | null, grab: GrabPose | null): void {
    this.hand?.pose(hand, grab)
  }

  async moveTo(hand: Mat4): Promise<void> {
    await this.hand?.moveTo(hand)
  }

  fetchAsset(id: string): Promise<Uint8Array> {
    if (!this.hand) return Promise.reject(new Error('not connected to the place'))
    return this.hand.client.requestAsset(id)
  }

  // ---- the connection ---------------------------------------------------------------------

  private async run(): Promise<void> {
    const min = this.opts.minBackoffMs ?? 500
    const max = this.opts.maxBackoffMs ?? 5000
    const info = this.opts.onInfo ?? (() => {})
    const where = this.opts.place.href
    let delay = min
    let first = true
    while (!this.stopped) {
      let lost: Promise<string> | null = null
      try {
        const address = await resolvePlaceHost(this.opts.place.host, first)
        first = false
        const hand = await ClientHand.join(
          { host: address, port: this.opts.place.port },
          {
            name: this.name,
            identity: this.opts.identity,
            transport: this.opts.transport,
            client: { peerTimeoutMs: this.opts.peerTimeoutMs ?? 10_000 },
            onConnect: (client) => {
              lost = this.wire(client)
            },
          },
        )
        if (this.stopped) {
          await hand.close()
          break
        }
        this.hand = hand
        this.everLive = true
        this.placeName = hand.client.placeName ?? where
        delay = min
        this.setStatus({ state: 'live' })
        this.changed()
        info(`Joined ${JSON.stringify(this.placeName)} at ${where} as ${JSON.stringify(this.name)}.`)
        const why = await (lost as Promise<string> | null)
        this.hand = null
        await hand.close().catch(() => {}) // the connection's socket
        if (this.stopped) break
        this.setStatus({ state: 'reconnecting', detail: why ?? 'lost the place' })
        this.changed()
        info(`Lost the place (${why}): joining again…`)
        delay = min
      } catch (err) {
        if (this.stopped) break
        const e = err as Error
        if (e instanceof UserError || /announce refused/.test(e.message)) {
          this.stopped = true
          this.setStatus({ state: this.everLive ? 'reconnecting' : 'connecting', detail: e.message })
          this.opts.onFatal?.(e)
          break
        }
        first = false
        this.setStatus({ state: this.everLive ? 'reconnecting' : 'connecting', detail: e.message })
        info(`${where}: ${e.message}; trying again in ${(delay / 1000).toFixed(1)} s.`)
      }
      await this.sleep(delay)
      delay = Math.min(max, delay * 2)
    }
  }

  /** Follows one connection's states and interactions; resolves with why it ended. */
  private wire(client: AlloClient): Promise<string> {
    client.on('state', (s) => {
      this.entities = s.entities
      this.changed()
    })
    client.on('interaction', (i) => this.received(i))
    return new Promise((resolve) =>
      client.once('disconnected', (reason, data) =>
        resolve(reason === 'timeout' ? 'no answer from the place' : `the place disconnected (code ${data})`),
      ),
    )
  }

  private received(i: Interaction): void {
    const comps = (id: string) => {
      const e = this.entities[id] as { components?: Record<string, unknown> } | undefined
      return e && typeof e.components === 'object' && e.components !== null ? e.components : undefined
    }
    const senderRoot = comps(i.sender) ? rootOf(i.sender, comps) : null
    const entry = {
      at: Date.now(),
      type: i.type,
      from: i.sender,
      to: i.receiver,
      requestId: i.requestId,
      body: i.body,
      fromAgent: i.sender === 'place' ? 'place' : senderRoot === null ? null : treeKind(comps(senderRoot)),
      toAgent: this.name,
    }
    for (const l of this.listeners) l.onInteraction(entry)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }

  /** Leaves the place (DISCONNECT, waiting up to 1 s for its acknowledgement) and stops trying. */
  async close(): Promise<void> {
    this.stopped = true
    this.wake?.()
    const hand = this.hand
    this.hand = null
    await hand?.close()
    // A join under way (a place that does not answer) is not waited for: it leaves on its own.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.loop, new Promise((r) => (timer = setTimeout(r, 1500)))])
    clearTimeout(timer)
  }
}

/**
 * The IPv4 address to send to (the view's ENet socket is IPv4). An unknown host name is a
 * UserError on the first attempt; later a network blip, tried again.
 */
export async function resolvePlaceHost(host: string, first: boolean): Promise<string> {
  if (isIP(host) === 4) return host
  if (isIP(host) === 6) {
    throw new UserError(
      `The web view reaches places over IPv4 only: use the place's IPv4 address or host name instead of [${host}].`,
    )
  }
  try {
    return (await dnsLookup(host, { family: 4 })).address
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (first && (code === 'ENOTFOUND' || code === 'ENODATA'))
      throw new UserError(`Cannot find the place's host ${JSON.stringify(host)}: check the alloplace:// URL.`)
    throw new Error(`cannot resolve ${host} (${code ?? (err as Error).message})`)
  }
}

export interface RemoteViewOptions extends RemotePlaceOptions {
  /** View server address (default 127.0.0.1) and port (0: a free one). */
  host?: string
  port?: number
  staticDir?: string
  /** Host names, besides localhost and IP addresses, the page and socket answer to (--allowed-host). */
  allowedHosts?: string[]
  onError?: (message: string) => void
}

export interface RemoteView extends ViewServer {
  remote: RemotePlace
}

/** The view server fed by a remote place; starts joining it at once. */
export async function startRemoteView(opts: RemoteViewOptions): Promise<RemoteView> {
  const remote = new RemotePlace(opts)
  const server = await startViewServer({
    world: remote,
    hand: remote,
    host: opts.host,
    port: opts.port,
    staticDir: opts.staticDir,
    allowedHosts: opts.allowedHosts,
    onError: opts.onError,
  })
  remote.start()
  return {
    ...server,
    remote,
    async close() {
      await server.close()
      await remote.close()
    },
  }
}
