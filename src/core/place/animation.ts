/**
 * Property animations, as allonet's simulation runs them (`src/simulation/animation.c` and
 * `animation_prop.c`, the cJSON place and every visor): each animation in an entity's
 * `property_animations.animations` moves the value at `path` from `from` to `to` over `duration`
 * seconds from `start_at` (place clock), with the named easing, and is removed once a
 * non-repeating one has run past its end.
 *
 * Pure, with no Node-only imports: the place runs it each tick and the web view each frame.
 *
 * What allonet does, and so what this does:
 * - progress = (t − start_at) / duration; `repeats` (only `true` counts) takes it modulo the
 *   duration; before the start nothing is written; past 1 a non-repeating animation is written at
 *   exactly 1 and then removed. With `repeats` and `autoreverses`, odd iterations swap `from` and
 *   `to` (the easing still runs forwards).
 * - Unknown or missing easing: linear.
 * - Values: a number; 3 numbers (vector, lerped); 4 numbers (rotation `[angle, x, y, z]`,
 *   slerped as quaternions, so turns over 180° fold back); 16 numbers (matrix, mixed as
 *   `from·f + to·(1−f)` — allonet's `allo_m4x4_interpolate` weighs them the other way round, and
 *   visors show that, so this does too).
 * - The path is dot-separated keys from the components: object keys, array indices
 *   (`material.color.3`), and on a matrix the computed `rotation`, `translation` and `scale`,
 *   optionally narrowed to `.x`, `.y` or `.z` (then `from`/`to` are numbers: an angle in radians
 *   about that axis, one coordinate, one diagonal scale factor). `rotation` replaces the matrix's
 *   whole 3×3 part (scale included) and keeps its translation; `translation` sets 12–14;
 *   `scale` sets the diagonal 0, 5, 10.
 * - An animation whose path is missing from the entity, or whose from/to do not fit the value
 *   there, is left alone (kept, retried every tick, never applied) — allonet's `UsageInvalid`.
 *
 * Where allonet would write NaN (no number in `start_at`/`duration`, duration 0 at its start, a
 * zero rotation axis), this writes nothing instead: the state must stay valid JSON numbers.
 */

import { isPlainObject } from './json.js'

type Json = unknown
export type Components = Readonly<Record<string, unknown>>

// ---- easings (the AHEasing set allonet links, under allonet's names) ----------------------------

const { PI, sin, cos, sqrt, pow } = Math
const HALF_PI = PI / 2

function bounceOut(p: number): number {
  if (p < 4 / 11) return (121 * p * p) / 16
  if (p < 8 / 11) return (363 / 40) * p * p - (99 / 10) * p + 17 / 5
  if (p < 9 / 10) return (4356 / 361) * p * p - (35442 / 1805) * p + 16061 / 1805
  return (54 / 5) * p * p - (513 / 25) * p + 268 / 25
}
const bounceIn = (p: number) => 1 - bounceOut(1 - p)
const backIn = (p: number) => p * p * p - p * sin(p * PI)

export const EASINGS: Readonly<Record<string, (p: number) => number>> = {
  linear: (p) => p,
  quadIn: (p) => p * p,
  quadOut: (p) => -(p * (p - 2)),
  quadInOut: (p) => (p < 0.5 ? 2 * p * p : -2 * p * p + 4 * p - 1),
  cubicIn: (p) => p * p * p,
  cubicOut: (p) => (p - 1) ** 3 + 1,
  cubicInOut: (p) => (p < 0.5 ? 4 * p * p * p : 0.5 * (2 * p - 2) ** 3 + 1),
  quartIn: (p) => p ** 4,
  quartOut: (p) => (p - 1) ** 3 * (1 - p) + 1,
  quartInOut: (p) => (p < 0.5 ? 8 * p ** 4 : -8 * (p - 1) ** 4 + 1),
  quintIn: (p) => p ** 5,
  quintOut: (p) => (p - 1) ** 5 + 1,
  quintInOut: (p) => (p < 0.5 ? 16 * p ** 5 : 0.5 * (2 * p - 2) ** 5 + 1),
  sineIn: (p) => sin((p - 1) * HALF_PI) + 1,
  sineOut: (p) => sin(p * HALF_PI),
  sineInOut: (p) => 0.5 * (1 - cos(p * PI)),
  circularIn: (p) => 1 - sqrt(1 - p * p),
  circularOut: (p) => sqrt((2 - p) * p),
  circularInOut: (p) =>
    p < 0.5 ? 0.5 * (1 - sqrt(1 - 4 * p * p)) : 0.5 * (sqrt(-(2 * p - 3) * (2 * p - 1)) + 1),
  expIn: (p) => (p === 0 ? p : pow(2, 10 * (p - 1))),
  expOut: (p) => (p === 1 ? p : 1 - pow(2, -10 * p)),
  expInOut: (p) =>
    p === 0 || p === 1 ? p : p < 0.5 ? 0.5 * pow(2, 20 * p - 10) : -0.5 * pow(2, -20 * p + 10) + 1,
  elasticIn: (p) => sin(13 * HALF_PI * p) * pow(2, 10 * (p - 1)),
  elasticOut: (p) => sin(-13 * HALF_PI * (p + 1)) * pow(2, -10 * p) + 1,
  elasticInOut: (p) =>
    p < 0.5
      ? 0.5 * sin(13 * HALF_PI * (2 * p)) * pow(2, 10 * (2 * p - 1))
      : 0.5 * (sin(-13 * HALF_PI * (2 * p - 1 + 1)) * pow(2, -10 * (2 * p - 1)) + 2),
  backIn,
  backOut: (p) => 1 - backIn(1 - p),
  backInOut: (p) => (p < 0.5 ? 0.5 * backIn(2 * p) : 0.5 * (1 - backIn(1 - (2 * p - 1))) + 0.5),
  bounceIn,
  bounceOut,
  bounceInOut: (p) => (p < 0.5 ? 0.5 * bounceIn(2 * p) : 0.5 * bounceOut(2 * p - 1) + 0.5),
}

/** The eased progress; a missing or unknown easing is linear (as in allonet). */
export function ease(easing: unknown, p: number): number {
  const f = typeof easing === 'string' && Object.hasOwn(EASINGS, easing) ? EASINGS[easing] : undefined
  return f ? f(p) : p
}

// ---- timing -------------------------------------------------------------------------------------

const numberOr = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN)

export interface Timing {
  /** Progress through the current iteration, 0…1 (before easing). */
  progress: number
  /** True on the final write of a non-repeating animation (it is removed afterwards). */
  done: boolean
  /** True when `from` and `to` trade places (odd iterations of a repeating, autoreversing one). */
  swap: boolean
}

/** Where an animation stands at `serverTime`; null before its start (or without usable numbers). */
export function timingAt(anim: Record<string, unknown>, serverTime: number): Timing | null {
  const startAt = numberOr(anim.start_at)
  const duration = numberOr(anim.duration)
  const repeats = anim.repeats === true
  const autoreverses = anim.autoreverses === true
  let secondsInto = serverTime - startAt
  if (repeats) secondsInto %= duration
  let progress = secondsInto / duration
  let done = false
  if (progress > 1) {
    done = true
    progress = 1
  } else if (progress < 0 || Number.isNaN(progress)) return null
  const iteration = Math.trunc((serverTime - startAt) / duration)
  const swap = repeats && autoreverses && Math.abs(iteration % 2) === 1
  return { progress, done, swap }
}

// ---- values -------------------------------------------------------------------------------------

export type AnimValue =
  | { kind: 'number'; v: number }
  | { kind: 'vec3'; v: number[] }
  | { kind: 'rotation'; angle: number; axis: number[] }
  | { kind: 'mat4'; v: number[] }

/** How a JSON value reads as an animated value (allonet `mathvariant_from_json`); null: unusable. */
export function animValueOf(json: Json): AnimValue | null {
  if (typeof json === 'number') return Number.isFinite(json) ? { kind: 'number', v: json } : null
  if (!Array.isArray(json) || !json.every((n) => typeof n === 'number' && Number.isFinite(n))) return null
  const v = json as number[]
  if (v.length === 3) return { kind: 'vec3', v: [...v] }
  if (v.length === 4) return { kind: 'rotation', angle: v[0], axis: v.slice(1) }
  if (v.length === 16) return { kind: 'mat4', v: [...v] }
  return null
}

type Usage = 'invalid' | 'standard' | 'rotation' | 'translation' | 'scale'

interface Target {
  /** Keys from the components object to the value written (component name first). */
  keys: Array<string | number>
  current: AnimValue
  usage: Exclude<Usage, 'invalid'>
  /** 1, 2, 3 for `.x`, `.y`, `.z` after rotation/translation/scale; 0 for the whole. */
  axis: number
}

const MAGIC: Record<string, Usage> = { rotation: 'rotation', translation: 'translation', scale: 'scale' }
const AXES: Record<string, number> = { x: 1, y: 2, z: 3 }

/**
 * Follows `path` through the components (allonet `animation_derive_property`), checking that
 * `from` fits what is there. Null when the animation cannot apply (left alone).
 */
export function resolvePath(components: Components, path: string, from: AnimValue): Target | null {
  let actOn: Json = components
  let current: AnimValue | null = null
  let usage: Usage = 'invalid'
  let axis = 0
  const keys: Array<string | number> = []
  for (const seg of path.split('.')) {
    if (seg.length >= 255) return null
    if (/^\s*[+-]?\d/.test(seg)) {
      const index = Number.parseInt(seg, 10)
      if (!Array.isArray(actOn) || index < 0 || index >= actOn.length) return null
      actOn = actOn[index]
      keys.push(index)
    } else if (current?.kind === 'mat4' && Object.hasOwn(MAGIC, seg)) {
      usage = MAGIC[seg]
    } else if (usage !== 'invalid' && usage !== 'standard' && Object.hasOwn(AXES, seg)) {
      axis = AXES[seg]
    } else {
      if (!isPlainObject(actOn) || !Object.hasOwn(actOn, seg)) return null
      actOn = actOn[seg]
      keys.push(seg)
    }
    if (actOn === undefined || actOn === null) return null
    current = animValueOf(actOn)
    if (current && usage === 'invalid') usage = 'standard'
  }
  if (!current || usage === 'invalid' || keys.length === 0) return null
  const fits =
    (usage === 'standard' && from.kind === current.kind) ||
    (usage !== 'standard' && axis > 0 && from.kind === 'number') ||
    (usage === 'rotation' && from.kind === 'rotation' && current.kind === 'mat4') ||
    ((usage === 'translation' || usage === 'scale') && from.kind === 'vec3' && current.kind === 'mat4')
  return fits ? { keys, current, usage, axis } : null
}

// ---- maths --------------------------------------------------------------------------------------

type Quat = [number, number, number, number] // x, y, z, w

function quatFromAxisAngle(axis: number[], angle: number): Quat {
  const len = Math.hypot(axis[0], axis[1], axis[2])
  const s = sin(angle / 2) / len
  return [axis[0] * s, axis[1] * s, axis[2] * s, cos(angle / 2)]
}

/** Shortest-path spherical interpolation (nlerp when nearly parallel), normalised. */
function slerp(a: Quat, b: Quat, t: number): Quat {
  let d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]
  let bb = b
  if (d < 0) {
    d = -d
    bb = [-b[0], -b[1], -b[2], -b[3]]
  }
  let wa = 1 - t
  let wb = t
  if (d < 0.9995) {
    const theta = Math.acos(d)
    const st = sin(theta)
    wa = sin((1 - t) * theta) / st
    wb = sin(t * theta) / st
  }
  const q: Quat = [0, 1, 2, 3].map((i) => wa * a[i] + wb * bb[i]) as Quat
  const n = Math.hypot(...q)
  return q.map((x) => x / n) as Quat
}

/** Axis-angle of a unit quaternion, angle in [0, π] (a matrix cannot tell more). */
function axisAngleOf(q: Quat): { angle: number; axis: number[] } {
  const s = q[3] < 0 ? -1 : 1
  const w = Math.min(1, s * q[3])
  const angle = 2 * Math.acos(w)
  const k = sqrt(1 - w * w)
  if (k < 1e-12) return { angle: 0, axis: [0, 0, 1] }
  return { angle, axis: [(s * q[0]) / k, (s * q[1]) / k, (s * q[2]) / k] }
}

/**
 * Column-major rotation matrix about `axis` (any non-zero length) by `angle` radians, in the form
 * mathc's `mat4_rotation_axis` uses (so a unit axis keeps its own row/column exactly 1).
 */
export function rotationMatrix(axis: number[], angle: number): number[] {
  const [x, y, z] = axis
  const c = cos(angle)
  const s = sin(angle)
  const t = 1 - c
  const [xx, xy, xz, yy, yz, zz] = [x * x, x * y, x * z, y * y, y * z, z * z]
  const l = xx + yy + zz
  const k = sqrt(l) * s
  return [
    (xx + (yy + zz) * c) / l,
    (xy * t + z * k) / l,
    (xz * t - y * k) / l,
    0,
    (xy * t - z * k) / l,
    (yy + (xx + zz) * c) / l,
    (yz * t + x * k) / l,
    0,
    (xz * t + y * k) / l,
    (yz * t - x * k) / l,
    (zz + (xx + yy) * c) / l,
    0,
    0,
    0,
    0,
    1,
  ]
}

/** The value between `from` and `to` at eased fraction `f` (allonet `animation_interpolate_property`). */
export function interpolate(from: AnimValue, to: AnimValue, f: number): AnimValue | null {
  if (from.kind === 'number' && to.kind === 'number')
    return { kind: 'number', v: from.v + f * (to.v - from.v) }
  if (from.kind === 'vec3' && to.kind === 'vec3')
    return { kind: 'vec3', v: from.v.map((a, i) => a + (to.v[i] - a) * f) }
  if (from.kind === 'rotation' && to.kind === 'rotation') {
    const q = slerp(quatFromAxisAngle(from.axis, from.angle), quatFromAxisAngle(to.axis, to.angle), f)
    return { kind: 'rotation', ...axisAngleOf(q) }
  }
  if (from.kind === 'mat4' && to.kind === 'mat4')
    return { kind: 'mat4', v: from.v.map((a, i) => a * f + to.v[i] * (1 - f)) }
  return null
}

/** The JSON value to write at the target for the interpolated value `v`. */
function written(target: Target, v: AnimValue): Json {
  if (target.usage === 'standard') {
    if (v.kind === 'number') return v.v
    if (v.kind === 'rotation') return [v.angle, ...v.axis]
    return [...v.v]
  }
  const m = [...(target.current as { v: number[] }).v]
  const k = target.axis
  if (target.usage === 'rotation') {
    const r =
      k > 0 && v.kind === 'number'
        ? rotationMatrix([k === 1 ? 1 : 0, k === 2 ? 1 : 0, k === 3 ? 1 : 0], v.v)
        : v.kind === 'rotation'
          ? rotationMatrix(v.axis, v.angle)
          : null
    if (!r) return undefined
    r[12] = m[12]
    r[13] = m[13]
    r[14] = m[14]
    return r
  }
  const base = target.usage === 'translation' ? [12, 13, 14] : [0, 5, 10]
  if (k > 0 && v.kind === 'number') m[base[k - 1]] = v.v
  else if (k === 0 && v.kind === 'vec3') for (let i = 0; i < 3; i++) m[base[i]] = v.v[i]
  else return undefined
  return m
}

function isFiniteJson(v: Json): boolean {
  return typeof v === 'number' ? Number.isFinite(v) : Array.isArray(v) && v.every(Number.isFinite)
}

/** A copy of `root` with the value at `keys` replaced (containers along the way copied). */
function setIn(
  root: Record<string, unknown>,
  keys: Array<string | number>,
  value: Json,
): Record<string, unknown> {
  const copy = (node: unknown, i: number): unknown => {
    if (i === keys.length) return value
    const k = keys[i]
    if (Array.isArray(node)) {
      const out = node.slice()
      out[k as number] = copy(node[k as number], i + 1)
      return out
    }
    const obj = node as Record<string, unknown>
    return { ...obj, [k]: copy(obj[k as string], i + 1) }
  }
  return copy(root, 0) as Record<string, unknown>
}

export interface ApplyResult {
  /** The components after the animation (the same object when nothing was written). */
  components: Record<string, unknown>
  /** Whether a value was written. */
  applied: boolean
  /** True when a non-repeating animation has finished and should be removed. */
  done: boolean
}

/** Applies one animation to `components` at `serverTime`. */
export function applyAnimation(
  components: Record<string, unknown>,
  anim: unknown,
  serverTime: number,
): ApplyResult {
  const none = { components, applied: false, done: false }
  if (!isPlainObject(anim) || typeof anim.path !== 'string') return none
  const timing = timingAt(anim, serverTime)
  if (!timing) return none
  let from = animValueOf(anim.from)
  let to = animValueOf(anim.to)
  if (timing.swap) [from, to] = [to, from]
  if (!from || !to || from.kind !== to.kind) return none
  const target = resolvePath(components, anim.path, from)
  if (!target) return none
  const value = interpolate(from, to, ease(anim.easing, timing.progress))
  const json = value && written(target, value)
  if (json === undefined || json === null || !isFiniteJson(json)) return none
  return { components: setIn(components, target.keys, json), applied: true, done: timing.done }
}

/** The animations object of a `property_animations` component, if it has one. */
export function animationsOf(components: Components): Record<string, unknown> | null {
  const comp = components.property_animations
  return isPlainObject(comp) && isPlainObject(comp.animations) ? comp.animations : null
}

export interface AnimateResult {
  /** The animated components (a new object; the input is not modified). */
  components: Record<string, unknown>
  /** Names of the components whose value changed. */
  changed: string[]
  /** Ids of the animations that finished (already removed from `property_animations`). */
  finished: string[]
}

/**
 * Runs every property animation of one entity at `serverTime`, in order (allonet
 * `allosim_animate`); finished non-repeating ones are removed. Null when the entity has none,
 * or when nothing changed.
 */
export function animateEntity(components: Components, serverTime: number): AnimateResult | null {
  const animations = animationsOf(components)
  if (!animations) return null
  let comps = components as Record<string, unknown>
  const finished: string[] = []
  for (const [id, anim] of Object.entries(animations)) {
    const r = applyAnimation(comps, anim, serverTime)
    comps = r.components
    if (r.done) finished.push(id)
  }
  if (finished.length) {
    const rest = { ...animations }
    for (const id of finished) delete rest[id]
    comps = { ...comps, property_animations: { ...(comps.property_animations as object), animations: rest } }
  }
  const changed = Object.keys(comps).filter(
    (name) =>
      comps[name] !== components[name] && JSON.stringify(comps[name]) !== JSON.stringify(components[name]),
  )
  if (changed.length === 0 && finished.length === 0) return null
  return { components: comps, changed, finished }
}
