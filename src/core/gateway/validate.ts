/**
 * Pure request checks for the gateway: each returns the clean value or throws an HttpError whose
 * message is the one short sentence the place shows to the person who clicked.
 */
import { parsePlaceUrl } from '../urls.js'

export class HttpError extends Error {
  readonly status: number
  readonly headers: Record<string, string>
  /** Why, for the operator's log only (never sent to the client). */
  readonly detail?: string

  constructor(status: number, message: string, headers: Record<string, string> = {}, detail?: string) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.headers = headers
    this.detail = detail
  }
}

/** Longest accepted `x-alloverse-server` value (a host name is at most 253 characters). */
export const MAX_PLACE_HEADER = 300
/** Longest accepted `x-alloverse-launched-by` value (an identity is a small JSON object). */
export const MAX_IDENTITY_HEADER = 8192
/** Longest accepted app folder name. */
export const MAX_APP_NAME = 100

export const PLACE_HEADER = 'x-alloverse-server'
export const IDENTITY_HEADER = 'x-alloverse-launched-by'

// Letters, digits, dot, underscore, hyphen; not starting with a dot (dotfiles, "." and "..") or a hyphen.
const APP_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/

/** True for a folder name the gateway will serve as an app name. */
export function isAppName(name: string): boolean {
  return name.length <= MAX_APP_NAME && APP_NAME.test(name)
}

/**
 * The app name from a request target in apps-root mode: exactly one path segment (`/allo-clock`,
 * optionally `/allo-clock/`), percent-decoded, a plain folder name. The query string is ignored.
 */
export function appNameFromTarget(target: string): string {
  if (!target.startsWith('/')) throw new HttpError(400, 'The request path must start with "/".')
  const path = target.split(/[?#]/, 1)[0]
  const segments = path.slice(1).split('/')
  if (segments.length === 2 && segments[1] === '') segments.pop()
  if (segments.length !== 1) throw new HttpError(404, 'No such app here: the path must be /APP-NAME.')
  let name: string
  try {
    name = decodeURIComponent(segments[0])
  } catch {
    throw new HttpError(400, 'The app name in the path is not valid percent-encoding.')
  }
  if (name === '') throw new HttpError(400, 'Name the app in the path, e.g. POST /allo-clock.')
  if (!isAppName(name)) {
    throw new HttpError(400, 'That is not an app name: use the app folder name, e.g. POST /allo-clock.')
  }
  return name
}

/** The single value of a header that must appear exactly once. */
export function singleHeader(rawHeaders: string[], name: string): string | undefined {
  let found: string | undefined
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === name) {
      found = rawHeaders[i + 1]
      count++
    }
  }
  if (count > 1) throw new HttpError(400, `The ${name} header was sent more than once.`)
  return found
}

/** The canonical place URL from `x-alloverse-server` (strict alloplace:// only). */
export function checkPlaceHeader(value: string | undefined): string {
  if (value === undefined || value === '') {
    throw new HttpError(400, `The ${PLACE_HEADER} header is missing: it names the place to connect to.`)
  }
  if (value.length > MAX_PLACE_HEADER) throw new HttpError(400, `The ${PLACE_HEADER} header is too long.`)
  try {
    return parsePlaceUrl(value).href
  } catch {
    throw new HttpError(400, `The ${PLACE_HEADER} header is not a valid alloplace:// URL.`)
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The identity from `x-alloverse-launched-by`, passed on untouched. Node reads header bytes as
 * latin1; turning them back into bytes and decoding UTF-8 gives exactly what the place sent
 * (non-ASCII display names included). Control characters other than TAB are refused.
 */
export function checkIdentityHeader(value: string | undefined): string {
  if (value === undefined || value === '') {
    throw new HttpError(400, `The ${IDENTITY_HEADER} header is missing: it says who launched the app.`)
  }
  if (value.length > MAX_IDENTITY_HEADER)
    throw new HttpError(400, `The ${IDENTITY_HEADER} header is too long.`)
  let text: string
  try {
    text = utf8.decode(Buffer.from(value, 'latin1'))
  } catch {
    throw new HttpError(400, `The ${IDENTITY_HEADER} header is not valid UTF-8.`)
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(text)) {
    throw new HttpError(400, `The ${IDENTITY_HEADER} header contains control characters.`)
  }
  return text
}

/** Requires `Content-Type: application/json` (parameters such as charset allowed). */
export function checkContentType(value: string | undefined): void {
  const type = (value ?? '').split(';', 1)[0].trim().toLowerCase()
  if (type !== 'application/json') {
    throw new HttpError(415, 'Send the launch arguments as Content-Type: application/json.')
  }
}

/** The launch arguments: the body as received, which must be UTF-8 text holding a JSON object. */
export function checkBootArgs(body: Buffer): string {
  if (body.length === 0)
    throw new HttpError(400, 'The request body is empty: send the launch arguments as a JSON object.')
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    throw new HttpError(400, 'The request body is not valid UTF-8.')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new HttpError(
      400,
      'The request body is not valid JSON: send the launch arguments as a JSON object.',
    )
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'The request body must be a JSON object of launch arguments.')
  }
  return text
}

/**
 * The identity's `display_name`, if any. A place turns the identity's newlines into the two
 * characters `\` `n`; outside JSON strings those are turned back into whitespace before parsing.
 */
export function displayNameOf(identity: string): string | undefined {
  const tryParse = (text: string): unknown => {
    try {
      return JSON.parse(text)
    } catch {
      return undefined
    }
  }
  let value = tryParse(identity)
  if (value === undefined) value = tryParse(unescapeNewlinesOutsideStrings(identity))
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const name = (value as Record<string, unknown>).display_name
  return typeof name === 'string' ? name : undefined
}

/** Replaces the two characters `\n` with a newline wherever they stand outside a JSON string. */
export function unescapeNewlinesOutsideStrings(text: string): string {
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (inString) {
      out += ch
      if (ch === '\\' && i + 1 < text.length) out += text[++i]
      else if (ch === '"') inString = false
    } else if (ch === '"') {
      inString = true
      out += ch
    } else if (ch === '\\' && text[i + 1] === 'n') {
      out += '\n'
      i++
    } else {
      out += ch
    }
  }
  return out
}
