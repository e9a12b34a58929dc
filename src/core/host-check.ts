/**
 * DNS-rebinding defence for servers meant for this machine (the web view, the gateway's tokenless
 * /instances): a browser sends the name it resolved in the Host header, and a rebinding page's name is
 * the attacker's (evil.example), never a loopback name. So a request is accepted only when its Host
 * names this machine (localhost, *.localhost, an IP address literal — a page can only get one of those
 * by really being served from that address) or a name the user allowed (--allowed-host). Pure.
 */
import { isIP } from 'node:net'
import { UserError } from './errors.js'

/** The host name of a Host header, lower-cased, without port, brackets or a trailing dot; undefined if malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const h = header.trim().toLowerCase()
  let name: string
  if (h.startsWith('[')) {
    const close = h.indexOf(']')
    if (close < 0) return undefined
    const rest = h.slice(close + 1)
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined
    name = h.slice(1, close)
    return isIP(name) === 6 ? name : undefined
  }
  const m = /^([^:]*)(?::\d{1,5})?$/.exec(h)
  if (!m) return undefined
  name = m[1].replace(/\.+$/, '')
  return name === '' ? undefined : name
}

/** Normalises a name given to --allowed-host (lower case, no trailing dot, no brackets). */
export function normalizeAllowedHost(value: string, option = '--allowed-host'): string {
  const name = hostName(
    value.includes(':') && !value.startsWith('[') && isIP(value) === 6 ? `[${value}]` : value,
  )
  if (!name || !/^[a-z0-9.:_-]+$/.test(name))
    throw new UserError(
      `Invalid ${option} ${JSON.stringify(value)}: give a host name such as view.example.com (no scheme or path).`,
    )
  return name
}

/** True when a request with this Host header may be answered. */
export function hostAllowed(header: string | undefined, allowed: readonly string[] = []): boolean {
  const name = hostName(header)
  if (name === undefined) return false
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (isIP(name) !== 0) return true
  return allowed.includes(name)
}

/** The one-line answer for a refused Host. */
export function hostRefusal(header: string | undefined, flag = '--allowed-host'): string {
  const shown = header === undefined ? 'no Host header' : `Host ${JSON.stringify(header.slice(0, 100))}`
  return `Refused ${shown}: only localhost, IP addresses and names given with ${flag} may reach this server (DNS-rebinding protection).`
}
