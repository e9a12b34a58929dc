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
  /**
   * The objects last compared: a world source that never mutates its entities (the remote world
   * keeps unchanged ones as they were) skips the JSON comparison for them.
   */
  private seen = new Map<string, ViewEntity>()

  /** Resets to `world` and returns it whole (for a snapshot). */
  reset(entities: Iterable<ViewEntity>): ViewEntity[] {
    this.sent.clear()
    this.seen.clear()
    const all = [...entities]
    for (const e of all) {
      this.sent.set(e.id, JSON.stringify(e))
      this.seen.set(e.id, e)
    }
    return all
  }

  next(entities: Map<string, ViewEntity>): EntityDelta {
    const changed: ViewEntity[] = []
    const removed: string[] = []
    for (const [id, e] of entities) {
      if (this.seen.get(id) === e) continue
      this.seen.set(id, e)
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
        this.seen.delete(id)
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

/** What the view's own agent is in a remote place: its avatar (once announced) and its name. */
export interface RemoteSelf {
  avatarId: string | null
  name: string
}

/**
 * What a client can tell about the agent behind a tree from its root entity: a visor's avatar
 * has a `visor` component, an alloui app's views a `ui` component. Nothing else is known.
 */
export function treeKind(root: Components | undefined): string {
  if (root && isObject(root.visor)) return 'visor'
  if (root && isObject(root.ui)) return 'app'
  return 'agent'
}

/**
 * The world of a remote place as a client sees it (the place's state carries no owners): each
 * entity is owned by the root entity of its tree — `ownerId` is that root's id, `owner` what the
 * root shows it is (`treeKind`), or the view's own name for its avatar's tree — and each root but
 * `place` stands for one agent. Entities whose `components` is not an object are left out.
 * Keeps the `ViewEntity` objects of entities whose state object did not change, so that the
 * differ skips them.
 */
export class RemoteWorldBuilder {
  private cache = new Map<string, { raw: unknown; owner: string | null; view: ViewEntity }>()

  build(raw: Record<string, unknown>, placeName: string, self: RemoteSelf): ViewWorld {
    const lookup = (id: string): Components | undefined => {
      const e = Object.hasOwn(raw, id) ? raw[id] : undefined
      return isObject(e) && isObject(e.components) ? e.components : undefined
    }
    const entities = new Map<string, ViewEntity>()
    const agents: ViewAgent[] = []
    const cache = new Map<string, { raw: unknown; owner: string | null; view: ViewEntity }>()
    const labels = new Map<string, string>()
    for (const id of Object.keys(raw)) {
      const comps = lookup(id)
      if (!comps) continue
      const root = rootOf(id, lookup)
      const isPlace = root === 'place'
      let label = labels.get(root)
      if (label === undefined) {
        label = root === self.avatarId ? self.name : treeKind(lookup(root))
        labels.set(root, label)
      }
      const owner = isPlace ? null : label
      const old = this.cache.get(id)
      const view =
        old && old.raw === raw[id] && old.owner === owner
          ? old.view
          : { id, components: comps, owner, ownerId: isPlace ? null : root }
      cache.set(id, { raw: raw[id], owner, view })
      entities.set(id, view)
      if (!isPlace && root === id) agents.push({ id: root, name: label, avatarId: root })
    }
    this.cache = cache
    agents.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    return { placeName, entities, agents }
  }
}

export interface HandInteraction {
  /** Milliseconds after the first one. */
  delayMs: number
  type: 'oneway' | 'request'
  body: unknown[]
}

/** Time between the steps of a press: a visor hand's press takes about this long. */
export const POKE_STEP_MS = 100

/**
 * What a visor's hand sends to press `target` (traces: template-app-session, the "poker"; alloui
 * `views/button.lua`): `["point", tip, hit]` one-way, `["poke", true]` and `["poke", false]` as
 * requests, then `["point-exit"]` one-way as the hand moves off — without it an alloui button
 * stays highlighted for everyone.
 */
export function pokeSequence(from: Vec3, to: Vec3, stepMs = POKE_STEP_MS): HandInteraction[] {
  return [
    { delayMs: 0, type: 'oneway', body: ['point', from, to] },
    { delayMs: stepMs, type: 'request', body: ['poke', true] },
    { delayMs: 2 * stepMs, type: 'request', body: ['poke', false] },
    { delayMs: 3 * stepMs, type: 'oneway', body: ['point-exit'] },
  ]
}

/**
 * How far in front of the viewer's eyes a visor user's pointing hand is (about arm's length).
 * alloui opens popups 0.8 m beyond the hand that pressed (`App:openPopupNearHand`), so a hand
 * here puts them between the viewer and an app a couple of metres away — not behind it.
 */
export const ARM_LENGTH = 0.55

/** Where the finger tip is when a viewer at `viewer` points at `hit`: arm's length toward it (never past it). */
export function handTip(viewer: Vec3, hit: Vec3): Vec3 {
  const d: Vec3 = [hit[0] - viewer[0], hit[1] - viewer[1], hit[2] - viewer[2]]
  const dist = Math.hypot(d[0], d[1], d[2])
  if (!(dist > 1e-6)) return round3([hit[0], hit[1], hit[2] + 0.05])
  const reach = Math.min(ARM_LENGTH, Math.max(0, dist - 0.05))
  return round3([
    viewer[0] + (d[0] / dist) * reach,
    viewer[1] + (d[1] / dist) * reach,
    viewer[2] + (d[2] / dist) * reach,
  ])
}

/**
 * A hand (world matrix) with its finger tip at `tip`, pointing (−z, like alloui's hands) at
 * `toward`, upright.
 */
export function pointingHand(tip: Vec3, toward: Vec3): Mat4 {
  let z: Vec3 = [tip[0] - toward[0], tip[1] - toward[1], tip[2] - toward[2]]
  const zl = Math.hypot(z[0], z[1], z[2])
  if (!(zl > 1e-9)) return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, tip[0], tip[1], tip[2], 1]
  z = [z[0] / zl, z[1] / zl, z[2] / zl]
  // x = up × z (falls back to +x when pointing straight up or down)
  let x: Vec3 = [z[2], 0, -z[0]]
  const xl = Math.hypot(x[0], x[1], x[2])
  x = xl > 1e-9 ? [x[0] / xl, x[1] / xl, x[2] / xl] : [1, 0, 0]
  const y: Vec3 = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]]
  return [x[0], x[1], x[2], 0, y[0], y[1], y[2], 0, z[0], z[1], z[2], 0, tip[0], tip[1], tip[2], 1]
}

/** Where a viewer stands when the page says nothing: 1.5 m in front of the entity (its +z, the way alloui surfaces face). */
const DEFAULT_VIEWING_DISTANCE = 1.5

/**
 * The finger tip and the hit point of a press: the hit is the centre of the front face of the
 * entity's collider (its `x,y,z` offset, in world space), the tip at arm's length from `viewer`
 * toward it. Without a viewer, one stands 1.5 m in front of the entity, at the hit's height.
 */
export function defaultPokePoints(
  id: string,
  lookup: (id: string) => Components | undefined,
  viewer?: Vec3,
): [Vec3, Vec3] {
  const comps = lookup(id) ?? {}
  const m = worldMatrix(id, lookup)
  const col = isObject(comps.collider) ? comps.collider : {}
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
  const local: Vec3 = [num(col.x), num(col.y), num(col.z)]
  const depth = num(col.depth)
  const to = round3(transformPoint(m, [local[0], local[1], local[2] + depth / 2]))
  const eye =
    viewer ?? transformPoint(m, [local[0], local[1], local[2] + depth / 2 + DEFAULT_VIEWING_DISTANCE])
  return [handTip(eye, to), to]
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
