/**
 * The messages between the view server and the page (JSON over one WebSocket). Shared by
 * src/core/view (server) and src/view-ui (browser): types and small pure helpers only (the matrix
 * helpers come from the pure src/core/matrix.ts).
 */
import { type Mat4, parentOf, type Vec3 } from '../matrix.js'
import { isPlainObject } from '../place/json.js'

export type { Mat4, Vec3 } from '../matrix.js'
export { IDENTITY, invert, localMatrix, multiply, parentOf, transformPoint, worldMatrix } from '../matrix.js'
export { isPlainObject as isObject } from '../place/json.js'

export type Components = Record<string, unknown>

export interface ViewEntity {
  id: string
  components: Components
  /** Display name of the agent that owns it (`null`: the place, or unknown). */
  owner: string | null
  /** Id of the owning agent, when known. */
  ownerId: string | null
}

export interface ViewAgent {
  id: string
  name: string
  avatarId: string | null
  /** True for the view's own agent (the page's hand). */
  self?: boolean
}

export interface InteractionEntry {
  /** Milliseconds since the epoch when the server saw it. */
  at: number
  type: string
  from: string
  to: string
  requestId: string
  body: unknown
  /** Display names of the sending and receiving agents, when known. */
  fromAgent: string | null
  toAgent: string | null
}

export interface SelfInfo {
  agentId: string | null
  avatarId: string | null
  handId: string | null
}

/** Where the view's world comes from. */
export interface SourceInfo {
  /** `built-in`: read inside the place process (owners, every interaction); `remote`: as a client of any place. */
  kind: 'built-in' | 'remote'
  /** The place's alloplace:// URL, for a remote place. */
  url?: string
}

/** The view's link to the place: `live`, or (remote places) connecting / reconnecting after a loss. */
export interface PlaceStatus {
  state: 'live' | 'connecting' | 'reconnecting'
  /** Why, for people (e.g. the last error). */
  detail?: string
}

export type ServerMessage =
  | {
      type: 'snapshot'
      placeName: string
      entities: ViewEntity[]
      agents: ViewAgent[]
      log: InteractionEntry[]
      self: SelfInfo
      source: SourceInfo
      status: PlaceStatus
    }
  | { type: 'status'; status: PlaceStatus; placeName: string }
  | { type: 'entities'; changed: ViewEntity[]; removed: string[] }
  | { type: 'agents'; agents: ViewAgent[]; self: SelfInfo }
  /** Interactions since the last such message (oldest first). */
  | { type: 'interactions'; entries: InteractionEntry[] }
  | { type: 'notice'; level: 'info' | 'error'; message: string }

export type ClientMessage =
  /**
   * Poke an entity with a collider: `to` = hit point, `viewer` = where the viewer's eyes are (the
   * hand goes to arm's length from there), `from` = the hand tip itself (all world, all optional).
   */
  | { type: 'poke'; entityId: string; from?: Vec3; to?: Vec3; viewer?: Vec3 }
  /** Start grabbing a grabbable entity with the hand at `hand` (world matrix). */
  | { type: 'grab'; entityId: string; hand: Mat4 }
  /** Move the grabbing hand (world matrix). */
  | { type: 'grab-move'; hand: Mat4 }
  | { type: 'release' }

export function hasCollider(components: Components): boolean {
  return isPlainObject(components.collider)
}

/**
 * Each entity's parent for drawing and the tree: `relationships.parent` when that entity exists
 * and the chain above it does not come back (a cycle, which only a broken or hostile place
 * sends, is cut where it closes); else null (a root).
 */
export function treeParents(entities: Map<string, { components: Components }>): Map<string, string | null> {
  const out = new Map<string, string | null>()
  for (const start of entities.keys()) {
    if (out.has(start)) continue
    const path: string[] = []
    const onPath = new Set<string>()
    let cur: string | null = start
    while (cur !== null && !out.has(cur)) {
      path.push(cur)
      onPath.add(cur)
      const p = parentOf(entities.get(cur)?.components)
      if (p === null || !entities.has(p)) {
        out.set(cur, null)
        break
      }
      if (onPath.has(p)) {
        out.set(cur, null) // cut the cycle here
        break
      }
      cur = p
    }
    for (const id of path) if (!out.has(id)) out.set(id, parentOf(entities.get(id)?.components))
  }
  return out
}
