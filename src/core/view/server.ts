/**
 * The view server: serves the bundled page (dist/view) over HTTP on 127.0.0.1 and pushes the
 * live world to it over a WebSocket (`/ws`): a snapshot on connect, then entity deltas, agent
 * lists and interactions as they happen. The page's actions (poke, grab) go to a `ViewHand`,
 * the view's own agent in the place. Assets (textures, glTF) are served from `/asset/<id>`,
 * fetched by that agent through the place's asset relay.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WebSocket, WebSocketServer } from 'ws'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { hostAllowed, hostRefusal } from '../host-check.js'
import { isMatrix } from '../matrix.js'
import { MAX_VALUE_DEPTH, nestsDeeperThan } from '../place/world.js'
import {
  type ClientMessage,
  type Components,
  type InteractionEntry,
  isObject,
  type Mat4,
  type PlaceStatus,
  type SelfInfo,
  type ServerMessage,
  type SourceInfo,
  type Vec3,
  type ViewAgent,
} from './protocol.js'
import {
  defaultPokePoints,
  EntityDiffer,
  grabIntent,
  handTip,
  isGrabbable,
  isPokeable,
  pointingHand,
  pokeSequence,
  type ViewWorld,
} from './world.js'

export interface WorldListener {
  /** The world (entities or agents) changed; the server reads `current()` soon after. */
  onChange(): void
  /** An interaction passed through the place. */
  onInteraction(entry: InteractionEntry): void
  /** The link to the place changed (`status()`). */
  onStatus?(): void
}

/** Where the view reads the world from (the place itself, or a recording). */
export interface WorldSource {
  current(): ViewWorld
  subscribe(listener: WorldListener): () => void
  /** True if interactions the hand sends come back through `onInteraction` (else the server logs them). */
  readonly reportsInteractions: boolean
  /** Where the world comes from (default: the built-in place). */
  readonly source?: SourceInfo
  /** The link to the place (default: always live). */
  status?(): PlaceStatus
}

export interface GrabPose {
  entity: string
  grabber_from_entity_transform: Mat4
}

/** The page's hand in the place: an agent with an avatar and a `hand/right` child entity. */
export interface ViewHand {
  self(): SelfInfo
  /** Sends one interaction from the hand entity to `receiver`. */
  send(type: 'oneway' | 'request', receiver: string, body: unknown[]): void
  /** Moves the hand (world matrix) and holds `grab` (null: nothing), through the agent's intents. */
  pose(hand: Mat4 | null, grab: GrabPose | null): void
  /**
   * Moves the hand to `hand` (world matrix) and resolves once the place has put it there (or
   * after a short wait), so that what the hand then sends comes from where it is.
   */
  moveTo?(hand: Mat4): Promise<void>
  /** The bytes of an asset, fetched through the place's asset relay. */
  fetchAsset(id: string): Promise<Uint8Array>
  /** Called when a page connects (a hand may join the place only once someone looks). */
  activate?(): Promise<void>
}

export interface ViewServerOptions {
  world: WorldSource
  hand: ViewHand
  host?: string
  /** 0 (default): a free port. */
  port?: number
  /** Folder holding the bundled page (default: dist/view next to the built code). */
  staticDir?: string
  /** Interactions kept for pages that connect later. */
  logSize?: number
  /** Host names, besides localhost and IP addresses, the page and socket answer to (--allowed-host). */
  allowedHosts?: string[]
  onError?: (message: string) => void
}

export interface ViewServer {
  url: string
  port: number
  close(): Promise<void>
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
}

/** The bundled page: dist/view (built) or, when running from sources, the repository's dist/view. */
export function defaultStaticDir(): string {
  const candidates = [
    fileURLToPath(new URL('../../view/', import.meta.url)),
    fileURLToPath(new URL('../../../dist/view/', import.meta.url)),
  ]
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]
}

/** Content type of asset bytes by their magic numbers (assets carry no type in allonet). */
export function sniffAssetType(bytes: Uint8Array): string {
  const b = bytes
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png'
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg'
  if (b[0] === 0x67 && b[1] === 0x6c && b[2] === 0x54 && b[3] === 0x46) return 'model/gltf-binary'
  if (b[0] === 0x7b) return 'model/gltf+json'
  return 'application/octet-stream'
}

const ASSET_ID = /^asset:sha256:[0-9a-f]{64}$/

export async function startViewServer(opts: ViewServerOptions): Promise<ViewServer> {
  const { world, hand } = opts
  const host = opts.host ?? '127.0.0.1'
  const staticDir = opts.staticDir ?? defaultStaticDir()
  const logSize = opts.logSize ?? 500
  const onError = opts.onError ?? (() => {})
  const allowedHosts = opts.allowedHosts ?? []
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new UserError(
      `The web view's page is missing (${join(staticDir, 'index.html')}): run "npm run build" to bundle it.`,
      EXIT.missingDependency,
    )
  }
  const { WebSocketServer: WSS } = await import('ws')

  const log: InteractionEntry[] = []
  const assetCache = new Map<string, Promise<Uint8Array>>()
  const pageTimers = new Set<NodeJS.Timeout>()

  const http: Server = createServer((req, res) => {
    handleHttp(req, res).catch((err) => {
      onError(`view: ${req.url}: ${(err as Error).message}`)
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('internal error')
    })
  })

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS rebinding: another site's page that made its own name resolve to 127.0.0.1 still sends it.
    if (!hostAllowed(req.headers.host, allowedHosts)) {
      res
        .writeHead(403, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`${hostRefusal(req.headers.host)}\n`)
      return
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (url.pathname.startsWith('/asset/')) {
      const id = decodeURIComponent(url.pathname.slice('/asset/'.length))
      if (!ASSET_ID.test(id)) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('not an asset id')
        return
      }
      let pending = assetCache.get(id)
      if (!pending) {
        pending = hand.fetchAsset(id)
        assetCache.set(id, pending)
        pending.catch(() => assetCache.delete(id))
      }
      let bytes: Uint8Array
      try {
        bytes = await pending
      } catch (err) {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end(`asset unavailable: ${(err as Error).message}`)
        return
      }
      res.writeHead(200, {
        'content-type': sniffAssetType(bytes),
        'content-length': bytes.length,
        'cache-control': 'max-age=31536000, immutable',
      })
      res.end(req.method === 'HEAD' ? undefined : bytes)
      return
    }
    const rel = url.pathname === '/' ? 'index.html' : normalize(url.pathname).replace(/^[/\\]+/, '')
    if (rel.startsWith('..') || rel.includes('\0')) {
      res.writeHead(404).end()
      return
    }
    const file = join(staticDir, rel)
    let body: Buffer
    try {
      body = await readFile(file)
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  // Only the page itself may connect: a browser sends the page's origin, and another site's
  // page (which could otherwise poke the world through localhost) has a different one; a page that
  // rebound its own name to 127.0.0.1 has a matching origin, but a Host that is not ours.
  const wss: WebSocketServer = new WSS({
    server: http,
    path: '/ws',
    verifyClient: ({ origin, req }: { origin?: string; req: IncomingMessage }) =>
      hostAllowed(req.headers.host, allowedHosts) && sameOrigin(origin, req),
  })
  // The HTTP server's errors (a busy port) are re-emitted here; the listen below reports them.
  wss.on('error', () => {})

  interface Page {
    ws: WebSocket
    differ: EntityDiffer
    agentsText: string
  }
  const pages = new Set<Page>()

  function send(page: Page, msg: ServerMessage): void {
    if (page.ws.readyState !== page.ws.OPEN) return
    let text: string
    try {
      text = JSON.stringify(msg)
    } catch (err) {
      onError(`view: a ${msg.type} message could not be sent to the page: ${(err as Error).message}`)
      return
    }
    page.ws.send(text)
  }

  function agentsWithSelf(w: ViewWorld): ViewAgent[] {
    const me = hand.self().agentId
    return w.agents.map((a) => (a.id === me ? { ...a, self: true } : a))
  }

  function snapshot(page: Page): void {
    const w = world.current()
    const agents = agentsWithSelf(w)
    page.agentsText = JSON.stringify(agents)
    send(page, {
      type: 'snapshot',
      placeName: w.placeName,
      entities: page.differ.reset(w.entities.values()),
      agents,
      log,
      self: hand.self(),
      source: world.source ?? { kind: 'built-in' },
      status: placeStatus(),
    })
  }

  function placeStatus(): PlaceStatus {
    return world.status?.() ?? { state: 'live' }
  }

  let flushQueued = false
  function flush(): void {
    flushQueued = false
    if (pages.size === 0) return
    const w = world.current()
    const agents = agentsWithSelf(w)
    const agentsText = JSON.stringify(agents)
    for (const page of pages) {
      const delta = page.differ.next(w.entities)
      if (delta.changed.length > 0 || delta.removed.length > 0) send(page, { type: 'entities', ...delta })
      if (agentsText !== page.agentsText) {
        page.agentsText = agentsText
        send(page, { type: 'agents', agents, self: hand.self() })
      }
    }
  }

  // Interactions go to the pages in batches, at most every 50 ms: a busy place routes thousands a
  // second, and one message each would swamp the page.
  let unsentLog: InteractionEntry[] = []
  let logTimer: NodeJS.Timeout | null = null
  function record(raw: InteractionEntry): void {
    // A body nesting absurdly deep (from a broken or hostile agent) could not even be printed.
    const entry = nestsDeeperThan(raw.body, MAX_VALUE_DEPTH)
      ? { ...raw, body: `(a body nesting deeper than ${MAX_VALUE_DEPTH} levels)` }
      : raw
    log.push(entry)
    if (log.length > logSize) log.splice(0, log.length - logSize)
    unsentLog.push(entry)
    if (unsentLog.length > logSize) unsentLog.splice(0, unsentLog.length - logSize)
    logTimer ??= setTimeout(() => {
      logTimer = null
      const entries = unsentLog
      unsentLog = []
      for (const page of pages) send(page, { type: 'interactions', entries })
    }, 50)
  }

  const unsubscribe = world.subscribe({
    onChange() {
      if (flushQueued) return
      flushQueued = true
      setImmediate(flush)
    },
    onInteraction: record,
    onStatus() {
      const msg: ServerMessage = {
        type: 'status',
        status: placeStatus(),
        placeName: world.current().placeName,
      }
      for (const page of pages) send(page, msg)
    },
  })

  function lookup(id: string): Components | undefined {
    return world.current().entities.get(id)?.components
  }

  function sendFromHand(type: 'oneway' | 'request', receiver: string, body: unknown[]): void {
    hand.send(type, receiver, body)
    if (!world.reportsInteractions) {
      const w = world.current()
      const me = hand.self()
      const name = (id: string | null) => w.agents.find((a) => a.id === id)?.name ?? null
      record({
        at: Date.now(),
        type,
        from: me.handId ?? '',
        to: receiver,
        requestId: type === 'request' ? 'view' : '',
        body,
        fromAgent: name(me.agentId),
        toAgent: w.entities.get(receiver)?.owner ?? null,
      })
    }
  }

  function handleAction(page: Page, msg: ClientMessage): void {
    const w = world.current()
    switch (msg.type) {
      case 'poke': {
        const target = w.entities.get(msg.entityId)
        if (!isPokeable(target)) {
          send(page, { type: 'notice', level: 'error', message: `${msg.entityId} has no collider to poke` })
          return
        }
        const [from, to] = pokePoints(msg, lookup)
        // The hand goes there first, then presses: what the app sees of the hand when it acts
        // (alloui opens popups near the hand that pressed) is where the press came from.
        const handMatrix = pointingHand(from, to)
        let moved: Promise<void> = Promise.resolve()
        if (hand.moveTo) moved = hand.moveTo(handMatrix)
        else hand.pose(handMatrix, null)
        void moved
          .catch(() => {})
          .then(() => {
            if (closed) return
            for (const step of pokeSequence(from, to)) {
              const timer = setTimeout(() => {
                pageTimers.delete(timer)
                sendFromHand(step.type, msg.entityId, step.body)
              }, step.delayMs)
              pageTimers.add(timer)
            }
          })
        return
      }
      case 'grab': {
        if (!isGrabbable(lookup(msg.entityId))) {
          send(page, { type: 'notice', level: 'error', message: `${msg.entityId} is not grabbable` })
          return
        }
        grabbing = grabIntent(msg.entityId, msg.hand, lookup)
        hand.pose(msg.hand, grabbing)
        return
      }
      case 'grab-move':
        if (grabbing) hand.pose(msg.hand, grabbing)
        return
      case 'release':
        grabbing = null
        hand.pose(null, null)
        return
    }
  }
  let grabbing: GrabPose | null = null
  let closed = false

  wss.on('connection', (ws) => {
    const page: Page = { ws, differ: new EntityDiffer(), agentsText: '' }
    pages.add(page)
    snapshot(page)
    hand.activate?.().then(
      () => flush(),
      (err) => {
        onError(`view: the page's agent could not join the place: ${(err as Error).message}`)
        send(page, { type: 'notice', level: 'error', message: 'the view could not join the place' })
      },
    )
    ws.on('message', (data) => {
      let msg: unknown
      try {
        msg = JSON.parse(String(data))
      } catch {
        return
      }
      if (isClientMessage(msg)) handleAction(page, msg)
    })
    ws.on('close', () => pages.delete(page))
    ws.on('error', () => pages.delete(page))
  })

  await new Promise<void>((resolve, reject) => {
    const onErr = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new UserError(
            `Port ${opts.port} on ${host} is already in use for the web view: pass another --view-port (0 picks a free one).`,
            EXIT.network,
          ),
        )
      } else reject(err)
    }
    http.once('error', onErr)
    http.listen(opts.port ?? 0, host, () => {
      http.off('error', onErr)
      resolve()
    })
  })
  const port = (http.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host

  return {
    url: `http://${urlHost}:${port}/`,
    port,
    async close() {
      closed = true
      if (logTimer) clearTimeout(logTimer)
      unsubscribe()
      for (const t of pageTimers) clearTimeout(t)
      pageTimers.clear()
      for (const page of pages) page.ws.terminate()
      pages.clear()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

/**
 * The finger tip and hit point of a poke from the page: as given; or the hit given and the tip at
 * arm's length from the viewer; or both from the entity's collider (`defaultPokePoints`).
 */
export function pokePoints(
  msg: { entityId: string; from?: Vec3; to?: Vec3; viewer?: Vec3 },
  lookup: (id: string) => Components | undefined,
): [Vec3, Vec3] {
  if (msg.from && msg.to) return [msg.from, msg.to]
  if (msg.to && msg.viewer) return [handTip(msg.viewer, msg.to), msg.to]
  return defaultPokePoints(msg.entityId, lookup, msg.viewer)
}

function isVec3(v: unknown): v is Vec3 {
  return Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === 'number' && Number.isFinite(n))
}

/** Validates a message from the page (it is only trusted to be JSON). */
export function isClientMessage(m: unknown): m is ClientMessage {
  if (!isObject(m) || typeof m.type !== 'string') return false
  switch (m.type) {
    case 'poke':
      return (
        typeof m.entityId === 'string' &&
        (m.from === undefined || isVec3(m.from)) &&
        (m.to === undefined || isVec3(m.to)) &&
        (m.viewer === undefined || isVec3(m.viewer))
      )
    case 'grab':
      return typeof m.entityId === 'string' && isMatrix(m.hand)
    case 'grab-move':
      return isMatrix(m.hand)
    case 'release':
      return true
    default:
      return false
  }
}

/** True if a WebSocket's Origin (absent for non-browser clients) is the page's own address. */
export function sameOrigin(origin: string | undefined, req: IncomingMessage): boolean {
  if (!origin) return true
  try {
    // Both through the URL parser, so case and default ports compare equal.
    return new URL(origin).host === new URL(`http://${req.headers.host ?? ''}`).host
  } catch {
    return false
  }
}
