/**
 * Pure helpers of the view server: the world as the page sees it (entities with owners, agents),
 * deltas between two worlds, and the interactions a visor's hand sends for a poke or a grab.
 */
import {
  type Components,
  hasCollider,
  invert,
  isObject,
  type Mat4,
  multiply,
  parentOf,
  transformPoint,
  type Vec3,
  type ViewAgent,
  type ViewEntity,
  worldMatrix,
} from './protocol.js'

export interface ViewWorld {
  placeName: string
  entities: Map<string, ViewEntity>
  agents: ViewAgent[]
}

/** Entities changed (new or different) and removed between two worlds, compared by JSON text. */
export interface EntityDelta {
  changed: ViewEntity[]
  removed: string[]
}

/** Remembers what the page was last sent, and turns the next world into a delta. */
export class EntityDiffer {
  private sent = new Map<string, string>()

  /** Resets to `world` and returns it whole (for a snapshot). */
  reset(entities: Iterable<ViewEntity>): ViewEntity[] {
    this.sent.clear()
    const all = [...entities]
    for (const e of all) this.sent.set(e.id, JSON.stringify(e))
    return all
  }

  next(entities: Map<string, ViewEntity>): EntityDelta {
    const changed: ViewEntity[] = []
    const removed: string[] = []
    for (const [id, e] of entities) {
      const text = JSON.stringify(e)
      if (this.sent.get(id) !== text) {
        changed.push(e)
        this.sent.set(id, text)
      }
    }
    for (const id of [...this.sent.keys()]) {
      if (!entities.has(id)) {
        removed.push(id)
        this.sent.delete(id)
      }
    }
    return { changed, removed }
  }
}

/** The id at the top of an entity's parent chain (the avatar of the agent that owns it). */
export function rootOf(id: string, lookup: (id: string) => Components | undefined): string {
  const seen = new Set<string>()
  let cur = id
  for (;;) {
    seen.add(cur)
    const comps = lookup(cur)
    const parent = comps ? parentOf(comps) : null
    if (parent === null || seen.has(parent) || !lookup(parent)) return cur
    cur = parent
  }
}

/**
 * A world from a recorded full-state message (`{"entities": {...}, "patch_style": "set"}`), as in
 * `traces/world-state-*.json`. The state carries no owners, so each root entity other than
 * `place` stands for one agent named `agentNames[rootId]` (default "app"), and owns its subtree.
 */
export function worldFromState(
  state: unknown,
  opts: { placeName?: string; agentNames?: Record<string, string> } = {},
): ViewWorld {
  if (!isObject(state) || !isObject(state.entities)) {
    throw new Error('not a world state: expected an object with "entities"')
  }
  const raw = state.entities
  const lookup = (id: string): Components | undefined => {
    const e = raw[id]
    return isObject(e) && isObject(e.components) ? (e.components as Components) : undefined
  }
  const entities = new Map<string, ViewEntity>()
  const agents: ViewAgent[] = []
  for (const id of Object.keys(raw)) {
    const comps = lookup(id)
    if (!comps) continue
    const root = rootOf(id, lookup)
    const isPlace = root === 'place'
    const name = isPlace ? null : (opts.agentNames?.[root] ?? 'app')
    entities.set(id, { id, components: comps, owner: name, ownerId: isPlace ? null : `agent-${root}` })
    if (!isPlace && root === id) agents.push({ id: `agent-${root}`, name: name ?? 'app', avatarId: root })
  }
  return { placeName: opts.placeName ?? 'Recorded place', entities, agents }
}

export interface HandInteraction {
  /** Milliseconds after the first one. */
  delayMs: number
  type: 'oneway' | 'request'
  body: unknown[]
}

/** Time between the point and the two pokes: a visor hand's press takes about this long. */
export const POKE_STEP_MS = 100

/**
 * What a visor's hand sends to poke `target` (traces: template-app-session, the "poker"):
 * `["point", tip, hit]` one-way, then `["poke", true]` and `["poke", false]` as requests.
 */
export function pokeSequence(from: Vec3, to: Vec3, stepMs = POKE_STEP_MS): HandInteraction[] {
  return [
    { delayMs: 0, type: 'oneway', body: ['point', from, to] },
    { delayMs: stepMs, type: 'request', body: ['poke', true] },
    { delayMs: 2 * stepMs, type: 'request', body: ['poke', false] },
  ]
}

/**
 * Where the hand and the hit point are when the page gives none: the hit is the centre of the
 * entity's collider (its `x,y,z` offset, in world space), the finger tip 0.4 m in front of it
 * (along the entity's +z, the way alloui surfaces face).
 */
export function defaultPokePoints(id: string, lookup: (id: string) => Components | undefined): [Vec3, Vec3] {
  const comps = lookup(id) ?? {}
  const m = worldMatrix(id, lookup)
  const col = isObject(comps.collider) ? comps.collider : {}
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
  const local: Vec3 = [num(col.x), num(col.y), num(col.z)]
  const depth = num(col.depth)
  const to = transformPoint(m, [local[0], local[1], local[2] + depth / 2])
  const from = transformPoint(m, [local[0], local[1], local[2] + depth / 2 + 0.4])
  return [round3(from), round3(to)]
}

function round3(v: Vec3): Vec3 {
  return v.map((n) => Math.round(n * 1000) / 1000) as Vec3
}

export function isPokeable(e: ViewEntity | undefined): boolean {
  return e !== undefined && hasCollider(e.components)
}

export function isGrabbable(comps: Components | undefined): boolean {
  return comps !== undefined && isObject(comps.grabbable) && comps.grabbable.grabbable !== false
}

/**
 * The `grab` part of a hand pose in an intent, as the place's grab simulation reads it (allonet
 * `src/simulation/grabbing.c`): the grabbed entity and `grabber_from_entity_transform`, the
 * entity's world matrix seen from the hand. The place itself resolves `grabbable.actuate_on`.
 */
export function grabIntent(
  entityId: string,
  handWorld: Mat4,
  lookup: (id: string) => Components | undefined,
): { entity: string; grabber_from_entity_transform: Mat4 } {
  const entityWorld = worldMatrix(entityId, lookup)
  return { entity: entityId, grabber_from_entity_transform: multiply(invert(handWorld), entityWorld) }
}
