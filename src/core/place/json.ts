/**
 * JSON text the way allonet's cJSON prints it, where the protocol sheet says bytes matter
 * (interaction replies, clock replies, asset headers, the launch_app POST body and identity header).
 * State diffs are compact; JSON.stringify output is fine for them.
 */

/** C's `%1.<precision>g`. */
function formatG(value: number, precision: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0'
  const exp = Number(value.toExponential(precision - 1).split('e')[1])
  if (exp < -4 || exp >= precision) {
    const [mantissa, e] = value.toExponential(precision - 1).split('e')
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa
    const n = Number(e)
    const digits = String(Math.abs(n)).padStart(2, '0')
    return `${m}e${n < 0 ? '-' : '+'}${digits}`
  }
  const fixed = value.toFixed(Math.max(0, precision - 1 - exp))
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed
}

const INT_MAX = 2147483647
const INT_MIN = -2147483648

/** A number as cJSON prints it: integers in int range plainly, else %1.15g (17 digits if needed). */
export function cjsonNumber(value: number): string {
  if (!Number.isFinite(value)) return 'null'
  const asInt = value >= INT_MAX ? INT_MAX : value <= INT_MIN ? INT_MIN : Math.trunc(value)
  if (value === asInt) return String(asInt)
  const short = formatG(value, 15)
  return Number(short) === value ? short : formatG(value, 17)
}

function print(value: unknown, depth: number): string {
  if (value === null || value === undefined) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      return cjsonNumber(value)
    case 'string':
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) {
        if (value.length === 0) return '[]'
        return `[${value.map((v) => print(v, depth + 1)).join(', ')}]`
      }
      const inner = '\t'.repeat(depth + 1)
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
      if (entries.length === 0) return `{\n${'\t'.repeat(depth)}}`
      const members = entries.map(([k, v]) => `${inner}${JSON.stringify(k)}:\t${print(v, depth + 1)}`)
      return `{\n${members.join(',\n')}\n${'\t'.repeat(depth)}}`
    }
    default:
      return 'null'
  }
}

/** `cJSON_Print`: formatted with TABs, `":\t"` after keys, arrays inline with `", "`. */
export function cjsonPrint(value: unknown): string {
  return print(value, 0)
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A `\uD800`–`\uDFFF` escape somewhere in JSON text (the only way a lone surrogate gets in). */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * True when a parsed JSON value holds a string (or key) with an unpaired UTF-16 surrogate. Such text
 * (e.g. `"\ud800"`) is JSON to `JSON.parse` but not to cJSON, which fails the whole parse — and
 * liballonet dereferences the failed parse (a client crash), so it must never reach a C client.
 */
export function hasLoneSurrogate(value: unknown): boolean {
  const stack = [value]
  while (stack.length) {
    const v = stack.pop()
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return true
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, child] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return true
        stack.push(child)
      }
    }
  }
  return false
}

/** Why `tryParse` refused a text that JSON.parse accepts (see `hasLoneSurrogate`). */
export const NOT_CJSON = 'has an unpaired UTF-16 surrogate escape, which cJSON (liballonet) cannot parse'

/**
 * Parses JSON text the way a C peer's cJSON would accept it: undefined when it is not JSON, or
 * when it holds an unpaired surrogate escape (checked only when the text has a surrogate escape).
 */
export function tryParse(text: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch {
    return undefined
  }
  if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(value)) return undefined
  return value
}

/** Structural equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ak = Object.keys(a as object)
  const bo = b as Record<string, unknown>
  if (ak.length !== Object.keys(bo).length) return false
  for (const k of ak) {
    if (!Object.hasOwn(bo, k) || !jsonEqual((a as Record<string, unknown>)[k], bo[k])) return false
  }
  return true
}

/** Deep copy of a JSON value. */
export function jsonClone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T)
}
