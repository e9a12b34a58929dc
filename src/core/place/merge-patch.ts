/** RFC 7386 JSON merge patches: generating one from two documents, and applying one. */
import { isPlainObject, jsonEqual } from './json.js'

/**
 * The merge patch that turns `from` into `to`, or undefined when they are equal.
 * Objects are diffed member by member; anything else (arrays included) is replaced wholesale.
 */
export function generateMergePatch(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return jsonEqual(from, to) ? undefined : to
  let patch: Record<string, unknown> | undefined
  for (const key of Object.keys(from)) {
    if (!Object.hasOwn(to, key)) {
      patch ??= {}
      patch[key] = null
    }
  }
  for (const [key, value] of Object.entries(to)) {
    if (!Object.hasOwn(from, key)) {
      patch ??= {}
      patch[key] = value
      continue
    }
    const old = from[key]
    if (old === value) continue
    const sub = generateMergePatch(old, value)
    if (sub !== undefined) {
      patch ??= {}
      patch[key] = sub
    }
  }
  return patch
}

/** Applies a merge patch to `target` without modifying either (unchanged parts are shared). */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = applyMergePatch(result[key], value)
  }
  return result
}
