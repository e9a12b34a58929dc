/**
 * The place's world: entities with their (private) owners, revisions, and the state messages each
 * agent gets — a full `set`, or a JSON merge patch from the revision it last acknowledged.
 *
 * Entity records are immutable: a change replaces the record (and the changed component values),
 * so a revision's snapshot is a shallow copy of the entity map and diffs compare by reference first.
 */
import { IDENTITY } from '../matrix.js'
import { entityId } from './ids.js'
import { isPlainObject } from './json.js'
import { generateMergePatch } from './merge-patch.js'

export type Components = Readonly<Record<string, unknown>>

export interface EntityRecord {
  readonly id: string
  readonly components: Components
  /** Agent id of the owner; null for the place's own entity. */
  readonly owner: string | null
}

export interface Entity {
  id: string
  components: Record<string, unknown>
}

/** allonet keeps this many past revisions (`allo_statehistory_length`). */
export const HISTORY_LENGTH = 64
/** The identity transform (matrix.ts's), the default `transform.matrix`. */
export const IDENTITY_MATRIX = IDENTITY
const MAX_SPEC_DEPTH = 16
/** Deepest nesting accepted inside a component value (deeper JSON could exhaust the stack). */
export const MAX_VALUE_DEPTH = 64
const MAX_SPEC_ENTITIES = 1000

export class SpecError extends Error {}

interface ParsedSpec {
  components: Record<string, unknown>
  children: ParsedSpec[]
}

/** Lua's empty table arrives as `[]`: treat it as `{}` where an object is expected. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  if (isPlainObject(value)) return value
  if (Array.isArray(value) && value.length === 0) return {}
  return undefined
}

/** True when a JSON value nests deeper than `max` (checked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length) {
    const [v, d] = stack.pop() as [unknown, number]
    if (typeof v !== 'object' || v === null) continue
    if (d >= max) return true
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return false
}

/** Checks one component value: an object (or `[]` for an empty one), not absurdly deep. */
export function componentValue(name: string, value: unknown): Record<string, unknown> {
  const obj = asObject(value)
  if (!obj) throw new SpecError(`component "${name}" must be an object`)
  if (nestsDeeperThan(obj, MAX_VALUE_DEPTH))
    throw new SpecError(`component "${name}" nests deeper than ${MAX_VALUE_DEPTH} levels`)
  if (name === 'relationships' && obj.parent !== undefined && typeof obj.parent !== 'string')
    throw new SpecError('relationships.parent must be an entity id string')
  if (name === 'property_animations') checkAnimations(obj)
  return obj
}

/**
 * A `property_animations` component as allonet's simulation reads it (src/simulation/animation.c
 * `allosim_animate`, run by every visor on its own copy of the state): it takes
 * `animations->child` without a NULL check and each animation's `path` as a string, so a
 * component without an `animations` object, or an animation without a path, from and to, would
 * crash visors.
 */
function checkAnimations(component: Record<string, unknown>): void {
  const animations = component.animations
  if (Array.isArray(animations) && animations.length === 0) return
  if (!isPlainObject(animations))
    throw new SpecError('property_animations.animations must be an object of animations')
  for (const [id, anim] of Object.entries(animations))
    if (!isPlainObject(anim) || typeof anim.path !== 'string' || !('from' in anim) || !('to' in anim))
      throw new SpecError(`property animation ${JSON.stringify(id)} needs a string path, from and to`)
}

/** Validates an entity spec (components plus optional `children`, or `{components, children}`). */
export function parseSpec(spec: unknown, depth = 0, budget = { left: MAX_SPEC_ENTITIES }): ParsedSpec {
  const obj = asObject(spec)
  if (!obj) throw new SpecError('an entity spec must be an object')
  if (depth > MAX_SPEC_DEPTH) throw new SpecError(`entity specs nest deeper than ${MAX_SPEC_DEPTH}`)
  if (--budget.left < 0)
    throw new SpecError(`an entity spec may create at most ${MAX_SPEC_ENTITIES} entities`)
  const wrapped = isPlainObject(obj.components)
  const source = wrapped ? (obj.components as Record<string, unknown>) : obj
  const components: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(source)) {
    if (name === 'children' && !wrapped) continue
    components[name] = componentValue(name, value)
  }
  const rawChildren = obj.children
  let children: ParsedSpec[] = []
  if (rawChildren !== undefined) {
    const list = Array.isArray(rawChildren) ? rawChildren : asObject(rawChildren) ? [] : undefined
    if (!list) throw new SpecError('"children" must be an array of entity specs')
    children = list.map((c) => parseSpec(c, depth + 1, budget))
  }
  return { components, children }
}

export interface Snapshot {
  readonly revision: number
  readonly entities: ReadonlyMap<string, EntityRecord>
}

export class World {
  private entities = new Map<string, EntityRecord>()
  private history = new Map<number, Snapshot>()
  private messageCache = new Map<number, string>()
  private current?: Snapshot
  revision = 0
  /** Set whenever something changed since the last commit (the clock aside). */
  dirty = false

  constructor() {
    this.entities.set('place', {
      id: 'place',
      owner: null,
      components: { transform: { matrix: IDENTITY_MATRIX }, clock: { time: 0 } },
    })
  }

  get size(): number {
    return this.entities.size
  }

  get(id: string): EntityRecord | undefined {
    return this.entities.get(id)
  }

  has(id: string): boolean {
    return this.entities.has(id)
  }

  all(): IterableIterator<EntityRecord> {
    return this.entities.values()
  }

  private put(rec: EntityRecord): void {
    this.entities.set(rec.id, rec)
    this.dirty = true
  }

  /** Creates the entities of a parsed spec; returns the ids, the top one first. */
  spawn(spec: ParsedSpec, owner: string, parent?: string): string[] {
    const id = this.freshId()
    const components: Record<string, unknown> = { ...spec.components }
    if (!components.transform) components.transform = { matrix: IDENTITY_MATRIX }
    if (parent !== undefined) {
      delete components.relationships
      components.relationships = { parent }
    }
    this.put({ id, owner, components })
    const ids = [id]
    for (const child of spec.children) ids.push(...this.spawn(child, owner, id))
    return ids
  }

  private freshId(): string {
    for (;;) {
      const id = entityId()
      if (!this.entities.has(id)) return id
    }
  }

  /**
   * Checks a `relationships.parent` about to be set on entity `id` (undefined: a new entity): the
   * parent must exist and must not be `id` or one of its descendants. alloui indexes the parent's
   * entry without a nil check when a `relationships` component changes
   * (client_updateState.lua `updateRelationships`), so a dangling parent would crash every alloui
   * app in the place; a cycle would hang anything that walks up the tree.
   */
  checkParent(id: string | undefined, components: Record<string, unknown>): void {
    const rel = components.relationships
    const parent = isPlainObject(rel) && typeof rel.parent === 'string' ? rel.parent : undefined
    if (parent === undefined) return
    if (!this.entities.has(parent))
      throw new SpecError(`relationships.parent names entity ${JSON.stringify(parent)}, which does not exist`)
    const seen = new Set<string>()
    for (let cur: string | undefined = parent; cur !== undefined && !seen.has(cur); ) {
      if (cur === id) throw new SpecError(`relationships.parent would make entity ${id} its own ancestor`)
      seen.add(cur)
      const r: unknown = this.entities.get(cur)?.components.relationships
      cur = isPlainObject(r) && typeof r.parent === 'string' ? r.parent : undefined
    }
  }

  /** Each listed component replaces the old value wholesale; then `remove` names are deleted. */
  change(id: string, add: Record<string, unknown>, remove: string[]): void {
    const rec = this.entities.get(id)
    if (!rec) throw new SpecError('no such entity')
    const components: Record<string, unknown> = { ...rec.components }
    for (const [name, value] of Object.entries(add)) {
      delete components[name]
      components[name] = value
    }
    for (const name of remove) delete components[name]
    this.put({ ...rec, components })
  }

  setComponent(id: string, name: string, value: unknown): void {
    const rec = this.entities.get(id)
    if (!rec) return
    const components: Record<string, unknown> = { ...rec.components }
    if (value === undefined) delete components[name]
    else components[name] = value
    this.entities.set(id, { ...rec, components })
    if (id !== 'place') this.dirty = true
  }

  private childrenIndex(): Map<string, string[]> {
    const index = new Map<string, string[]>()
    for (const rec of this.entities.values()) {
      const rel = rec.components.relationships
      const parent = isPlainObject(rel) && typeof rel.parent === 'string' ? rel.parent : undefined
      if (parent === undefined) continue
      const list = index.get(parent)
      if (list) list.push(rec.id)
      else index.set(parent, [rec.id])
    }
    return index
  }

  /** Removes entities and (cascade) all their descendants; returns the removed records. */
  removeCascade(ids: Iterable<string>): EntityRecord[] {
    const index = this.childrenIndex()
    const removed: EntityRecord[] = []
    const stack = [...ids]
    while (stack.length) {
      const id = stack.pop() as string
      const rec = this.entities.get(id)
      if (!rec || id === 'place') continue
      this.entities.delete(id)
      removed.push(rec)
      for (const child of index.get(id) ?? []) stack.push(child)
    }
    if (removed.length) this.dirty = true
    return removed
  }

  /** Removes one entity; its direct children lose their `relationships` (become roots). */
  removeReparent(id: string): EntityRecord[] {
    const rec = this.entities.get(id)
    if (!rec || id === 'place') return []
    const children = this.childrenIndex().get(id) ?? []
    this.entities.delete(id)
    for (const child of children) this.setComponent(child, 'relationships', undefined)
    this.dirty = true
    return [rec]
  }

  ownedBy(owner: string): string[] {
    const ids: string[] = []
    for (const rec of this.entities.values()) if (rec.owner === owner) ids.push(rec.id)
    return ids
  }

  /** Ends a revision: records a snapshot of the state for diffs. */
  commit(): Snapshot {
    this.revision = this.revision >= 9007199254740990 ? 0 : this.revision + 1
    const snap: Snapshot = { revision: this.revision, entities: new Map(this.entities) }
    this.history.set(this.revision, snap)
    this.history.delete(this.revision - HISTORY_LENGTH)
    this.current = snap
    this.messageCache.clear()
    this.dirty = false
    return snap
  }

  snapshotAt(revision: number): Snapshot | undefined {
    return this.history.get(revision)
  }

  /** The state message for an agent that acknowledged `ackRev` (0 or unknown: a full set). */
  messageFor(ackRev: number): string {
    const snap = this.current ?? this.commit()
    const from = ackRev > 0 ? this.history.get(ackRev) : undefined
    const key = from ? ackRev : -1
    const cached = this.messageCache.get(key)
    if (cached !== undefined) return cached
    const text = from
      ? JSON.stringify({
          entities: diffSnapshots(from, snap),
          revision: snap.revision,
          patch_style: 'merge',
          patch_from: from.revision,
        })
      : JSON.stringify({ entities: setEntities(snap), revision: snap.revision, patch_style: 'set' })
    this.messageCache.set(key, text)
    return text
  }
}

/** Entities as a `set` lists them: newest first, `place` last. */
export function setEntities(snap: Snapshot): Record<string, Entity> {
  const out: Record<string, Entity> = {}
  const recs = [...snap.entities.values()].reverse()
  for (const rec of recs) out[rec.id] = { id: rec.id, components: rec.components as Record<string, unknown> }
  return out
}

/** The merge patch of the `entities` object between two snapshots. */
export function diffSnapshots(from: Snapshot, to: Snapshot): Record<string, unknown> {
  const patch: Record<string, unknown> = {}
  for (const [id, rec] of to.entities) {
    const old = from.entities.get(id)
    if (!old) patch[id] = { id, components: rec.components }
    else if (old !== rec && old.components !== rec.components) {
      const comps = generateMergePatch(old.components, rec.components)
      if (comps !== undefined) patch[id] = { components: comps }
    }
  }
  for (const id of from.entities.keys()) if (!to.entities.has(id)) patch[id] = null
  return patch
}
