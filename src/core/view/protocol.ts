/**
 * The messages between the view server and the page (JSON over one WebSocket). Shared by
 * src/core/view (server) and src/view-ui (browser): types and small pure helpers only (the matrix
 * helpers come from the pure src/core/matrix.ts).
 */
import type { Mat4, Vec3 } from '../matrix.js'
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

export type ServerMessage =
  | {
      type: 'snapshot'
      placeName: string
      entities: ViewEntity[]
      agents: ViewAgent[]
      log: InteractionEntry[]
      self: SelfInfo
    }
  | { type: 'entities'; changed: ViewEntity[]; removed: string[] }
  | { type: 'agents'; agents: ViewAgent[]; self: SelfInfo }
  | { type: 'interaction'; entry: InteractionEntry }
  | { type: 'notice'; level: 'info' | 'error'; message: string }

export type ClientMessage =
  /** Poke an entity with a collider: `from` = hand tip, `to` = hit point (world), both optional. */
  | { type: 'poke'; entityId: string; from?: Vec3; to?: Vec3 }
  /** Start grabbing a grabbable entity with the hand at `hand` (world matrix). */
  | { type: 'grab'; entityId: string; hand: Mat4 }
  /** Move the grabbing hand (world matrix). */
  | { type: 'grab-move'; hand: Mat4 }
  | { type: 'release' }

export function hasCollider(components: Components): boolean {
  return isPlainObject(components.collider)
}
