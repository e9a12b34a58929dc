import { UserError } from './errors.js'

export const DEFAULT_PLACE_PORT = 21337
const PLACE_FORM = 'alloplace://HOST[:PORT], e.g. alloplace://localhost:21337'

export interface PlaceUrl {
  /** Host as written: a DNS name, an IPv4 address, or an IPv6 address without brackets. */
  host: string
  port: number
  /** Canonical form: alloplace://host:port (IPv6 in brackets). */
  href: string
}

// A DNS name: labels of letters, digits and hyphens (not at either end), dot-separated.
const HOSTNAME =
  /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

function isIPv6(text: string): boolean {
  // Use WHATWG URL's own IPv6 parser: it accepts exactly the RFC 4291 text forms.
  try {
    return new URL(`http://[${text}]/`).hostname.length > 2
  } catch {
    return false
  }
}

/** True when `host` is a DNS name, dotted IPv4, or (without brackets) an IPv6 address. */
export function isValidHost(host: string): boolean {
  if (IPV4.test(host)) return true
  if (/^[\d.]+$/.test(host)) return false // numeric but not a valid IPv4 (e.g. 300.1.1.1)
  return HOSTNAME.test(host) || isIPv6(host)
}

export function isValidPort(text: string): boolean {
  if (!/^\d{1,5}$/.test(text)) return false
  const n = Number(text)
  return n >= 1 && n <= 65535
}

function fail(input: string, why: string): never {
  const shown = JSON.stringify(input)
  throw new UserError(`Invalid place URL ${shown}: ${why}. Expected ${PLACE_FORM}`)
}

/**
 * Parses `alloplace://host[:port]` strictly. A trailing slash is allowed; paths, queries,
 * credentials, whitespace and control characters are not.
 */
export function parsePlaceUrl(input: string): PlaceUrl {
  if (typeof input !== 'string' || input.length === 0) fail(String(input ?? ''), 'it is empty')
  if (input.startsWith('-')) fail(input, 'it looks like an option, not a URL')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\s\u0000-\u001f\u007f]/.test(input)) fail(input, 'it contains spaces or control characters')
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(input)
  if (!scheme) fail(input, 'it has no alloplace:// scheme')
  if (scheme[1].toLowerCase() !== 'alloplace') fail(input, `the scheme is "${scheme[1]}:", not "alloplace:"`)
  let rest = input.slice(scheme[0].length)
  if (rest.endsWith('/')) rest = rest.slice(0, -1)
  if (/[/?#]/.test(rest)) fail(input, 'a place URL has no path, query or fragment')
  if (rest.includes('@')) fail(input, 'a place URL has no user name or password')
  let host: string
  let portText: string | undefined
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']')
    if (close < 0) fail(input, 'the IPv6 address has no closing "]"')
    host = rest.slice(1, close)
    const after = rest.slice(close + 1)
    if (after !== '' && !after.startsWith(':')) fail(input, 'unexpected text after the IPv6 address')
    portText = after === '' ? undefined : after.slice(1)
    if (!isIPv6(host)) fail(input, `"${host}" is not an IPv6 address`)
  } else {
    const colons = rest.split(':').length - 1
    if (colons > 1) fail(input, 'an IPv6 address must be in brackets, e.g. alloplace://[::1]:21337')
    const idx = rest.indexOf(':')
    host = idx < 0 ? rest : rest.slice(0, idx)
    portText = idx < 0 ? undefined : rest.slice(idx + 1)
    if (host === '') fail(input, 'the host is empty')
    if (!isValidHost(host)) fail(input, `"${host}" is not a valid host name or IP address`)
  }
  let port = DEFAULT_PLACE_PORT
  if (portText !== undefined) {
    if (portText === '') fail(input, 'the port is empty')
    if (!isValidPort(portText)) fail(input, `the port "${portText}" is not a number from 1 to 65535`)
    port = Number(portText)
  }
  const shownHost = host.includes(':') ? `[${host}]` : host
  return { host, port, href: `alloplace://${shownHost}:${port}` }
}

export interface AppUrl {
  /** The gateway URL the place POSTs to (the part after `alloapp:`). */
  gateway: URL
}

/** Parses `alloapp:http(s)://host[:port]/path?query`. */
export function parseAppUrl(input: string): AppUrl {
  const form = 'alloapp:http(s)://HOST[:PORT]/PATH, e.g. alloapp:http://localhost:8000/allo-clock'
  const bad = (why: string): never => {
    throw new UserError(`Invalid app URL ${JSON.stringify(input)}: ${why}. Expected ${form}`)
  }
  if (!input.startsWith('alloapp:')) bad('it does not start with "alloapp:"')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\s\u0000-\u001f\u007f]/.test(input)) bad('it contains spaces or control characters')
  let gateway: URL
  try {
    gateway = new URL(input.slice('alloapp:'.length))
  } catch {
    return bad('the gateway part is not a URL')
  }
  if (gateway.protocol !== 'http:' && gateway.protocol !== 'https:') bad('the gateway must be http or https')
  return { gateway }
}
