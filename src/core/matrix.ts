/**
 * 4×4 matrices the way Alloverse stores them: `transform.matrix` is 16 numbers, column-major,
 * and an entity's world matrix is the product of its ancestors' local matrices
 * (`relationships.parent`). One copy for the place's simulation (Node) and the web view (browser):
 * pure functions, importing only the pure JSON helpers.
 */
import { isPlainObject } from './place/json.js'

export type Mat4 = number[]
export type Vec3 = [number, number, number]
type Components = Readonly<Record<string, unknown>>

export const IDENTITY: Mat4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]

/** True for 16 finite numbers. */
export function isMatrix(value: unknown): value is Mat4 {
  return (
    Array.isArray(value) &&
    value.length === 16 &&
    value.every((n) => typeof n === 'number' && Number.isFinite(n))
  )
}

/** The entity's `transform.matrix` if it is a valid matrix, else identity. */
export function localMatrix(components: Components | undefined): Mat4 {
  const t = components?.transform
  return isPlainObject(t) && isMatrix(t.matrix) ? t.matrix : IDENTITY
}

/** The entity's `relationships.parent`, or null. */
export function parentOf(components: Components | undefined): string | null {
  const r = components?.relationships
  return isPlainObject(r) && typeof r.parent === 'string' ? r.parent : null
}

/** `a × b` for column-major 4×4 matrices. */
export function multiply(a: Mat4, b: Mat4): Mat4 {
  const out = new Array<number>(16)
  for (let col = 0; col < 4; col++) {
    for (let row = 0; row < 4; row++) {
      let s = 0
      for (let k = 0; k < 4; k++) s += a[k * 4 + row] * b[col * 4 + k]
      out[col * 4 + row] = s
    }
  }
  return out
}

/** General 4×4 inverse; identity if the matrix is singular. */
export function invert(m: Mat4): Mat4 {
  const [a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33] = m
  const b00 = a00 * a11 - a01 * a10
  const b01 = a00 * a12 - a02 * a10
  const b02 = a00 * a13 - a03 * a10
  const b03 = a01 * a12 - a02 * a11
  const b04 = a01 * a13 - a03 * a11
  const b05 = a02 * a13 - a03 * a12
  const b06 = a20 * a31 - a21 * a30
  const b07 = a20 * a32 - a22 * a30
  const b08 = a20 * a33 - a23 * a30
  const b09 = a21 * a32 - a22 * a31
  const b10 = a21 * a33 - a23 * a31
  const b11 = a22 * a33 - a23 * a32
  const det = b00 * b11 - b01 * b10 + b02 * b09 + b03 * b08 - b04 * b07 + b05 * b06
  if (!det) return [...IDENTITY]
  const d = 1 / det
  return [
    (a11 * b11 - a12 * b10 + a13 * b09) * d,
    (a02 * b10 - a01 * b11 - a03 * b09) * d,
    (a31 * b05 - a32 * b04 + a33 * b03) * d,
    (a22 * b04 - a21 * b05 - a23 * b03) * d,
    (a12 * b08 - a10 * b11 - a13 * b07) * d,
    (a00 * b11 - a02 * b08 + a03 * b07) * d,
    (a32 * b02 - a30 * b05 - a33 * b01) * d,
    (a20 * b05 - a22 * b02 + a23 * b01) * d,
    (a10 * b10 - a11 * b08 + a13 * b06) * d,
    (a01 * b08 - a00 * b10 - a03 * b06) * d,
    (a30 * b04 - a31 * b02 + a33 * b00) * d,
    (a21 * b02 - a20 * b04 - a23 * b00) * d,
    (a11 * b07 - a10 * b09 - a12 * b06) * d,
    (a00 * b09 - a01 * b07 + a02 * b06) * d,
    (a31 * b01 - a30 * b03 - a32 * b00) * d,
    (a20 * b03 - a21 * b01 + a22 * b00) * d,
  ]
}

/**
 * World matrix of entity `id`: the product of its ancestors' local matrices. A missing entity ends
 * the chain; a parent cycle is cut where it repeats. `null` is the world itself (identity).
 */
export function worldMatrix(id: string | null, lookup: (id: string) => Components | undefined): Mat4 {
  const chain: Components[] = []
  const seen = new Set<string>()
  let cur = id
  while (cur !== null && !seen.has(cur)) {
    seen.add(cur)
    const comps = lookup(cur)
    if (!comps) break
    chain.push(comps)
    cur = parentOf(comps)
  }
  let m: Mat4 = IDENTITY
  for (let i = chain.length - 1; i >= 0; i--) m = multiply(m, localMatrix(chain[i]))
  return m
}

/** The point `p` transformed by `m`. */
export function transformPoint(m: Mat4, p: Vec3): Vec3 {
  return [
    m[0] * p[0] + m[4] * p[1] + m[8] * p[2] + m[12],
    m[1] * p[0] + m[5] * p[1] + m[9] * p[2] + m[13],
    m[2] * p[0] + m[6] * p[1] + m[10] * p[2] + m[14],
  ]
}
