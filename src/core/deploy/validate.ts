/**
 * Validators for every value that ends up inside a generated systemd unit or nginx site.
 *
 * The rule is an allow-list per kind of value: anything outside it (newline, `;`, `{`, `}`, quotes,
 * `$`, `%`, `#`, backslash, spaces where they are not allowed, control characters) is refused with a
 * UserError that names the option, shows the value and says what is allowed. Nothing is escaped:
 * a value either fits as it is or the command stops before writing anything.
 */
import { isAbsolute, normalize } from 'node:path'
import { UserError } from '../errors.js'

function shown(value: string): string {
  return JSON.stringify(value)
}

function refuse(option: string, value: string, allowed: string): never {
  throw new UserError(`Invalid ${option} ${shown(value)}: ${allowed}.`)
}

/** What in `value` is the first character outside the allow-list, for a precise message. */
function badChar(value: string, allowed: RegExp): string | undefined {
  for (const ch of value) {
    if (!allowed.test(ch)) {
      const code = ch.codePointAt(0) ?? 0
      if (code < 0x20 || code === 0x7f) return `control character U+${code.toString(16).padStart(4, '0')}`
      if (ch === ' ') return 'a space'
      return `"${ch}"`
    }
  }
  return undefined
}

// A DNS name: labels of letters, digits and hyphens (not at either end), dot-separated, no trailing dot.
const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

function isIPv6(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(':')) return false
  try {
    return new URL(`http://[${text}]/`).hostname.length > 2
  } catch {
    return false
  }
}

/** A public host name for `server_name` and certificates: a DNS name with at least one dot or "localhost". */
export function validateDomain(option: string, value: string): string {
  if (value === '')
    refuse(option, value, 'it is empty; give the host name people reach, e.g. apps.example.com')
  const bad = badChar(value, /[A-Za-z0-9.-]/)
  if (bad) refuse(option, value, `${bad} is not allowed; a domain has only letters, digits, "-" and "."`)
  if (/^[\d.]+$/.test(value)) refuse(option, value, 'an IP address is not a domain; give a host name')
  if (!DNS_NAME.test(value))
    refuse(option, value, 'not a valid host name (dot-separated labels of letters, digits and inner "-")')
  return value.toLowerCase()
}

/** A host to connect to or bind: DNS name, IPv4, or IPv6 (brackets optional). Returns it without brackets. */
export function validateHost(option: string, value: string): string {
  const inner = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value
  if (inner === '') refuse(option, value, 'it is empty; give a host name or IP address')
  if (IPV4.test(inner) || isIPv6(inner)) return inner
  const bad = badChar(inner, /[A-Za-z0-9.-]/)
  if (bad) refuse(option, value, `${bad} is not allowed; give a host name or IP address`)
  if (/^[\d.]+$/.test(inner) || !DNS_NAME.test(inner))
    refuse(option, value, 'not a valid host name or IP address')
  return inner
}

export function validatePort(option: string, value: string | number): number {
  const text = String(value)
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535)
    refuse(option, text, 'a port is a whole number from 1 to 65535')
  return Number(text)
}

export interface HostPort {
  host: string
  port: number
}

/** `host:port` or `[v6]:port`. */
export function validateHostPort(option: string, value: string): HostPort {
  const m = /^(\[[^\]]*\]|[^:]*):([^:]*)$/.exec(value)
  if (!m) refuse(option, value, 'expected HOST:PORT, e.g. 127.0.0.1:8000 or [::1]:8000')
  const host = validateHost(option, m[1])
  const port = validatePort(option, m[2])
  return { host, port }
}

/** A listen spec for nginx: `PORT`, `ADDRESS:PORT` or `[V6]:PORT`. */
export interface ListenSpec {
  address?: string
  port: number
}

export function validateListen(option: string, value: string | number): ListenSpec {
  const text = String(value)
  if (/^\d+$/.test(text)) return { port: validatePort(option, text) }
  const m = /^(\[[^\]]*\]|[^:]*):([^:]*)$/.exec(text)
  if (!m) refuse(option, text, 'expected PORT, ADDRESS:PORT or [IPv6]:PORT, e.g. 443 or 127.0.0.1:8443')
  const address = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1]
  if (!(IPV4.test(address) || isIPv6(address)))
    refuse(option, text, 'the address must be an IP address, e.g. 127.0.0.1:8443 or [::1]:8443')
  return { address, port: validatePort(option, m[2]) }
}

// Characters allowed in a path written into a config: no spaces, quotes, `$`, `%`, `;`, `#`, braces, backslash.
const PATH_CHAR = /[A-Za-z0-9._/+@,=~:-]/

/** An absolute, normalised path with only characters that need no quoting in systemd or nginx. */
export function validateAbsolutePath(option: string, value: string): string {
  if (value === '') refuse(option, value, 'it is empty; give an absolute path')
  const bad = badChar(value, PATH_CHAR)
  if (bad)
    refuse(
      option,
      value,
      `${bad} is not allowed in a path here (allowed: letters, digits and . _ / + @ , = ~ : -); rename or move it`,
    )
  if (!isAbsolute(value)) refuse(option, value, 'it must be an absolute path, starting with "/"')
  if (value.split('/').includes('..')) refuse(option, value, 'it must not contain ".." segments')
  const n = normalize(value)
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n
}

/** A POSIX-ish user or group name (as useradd and systemd accept), or a numeric id. */
export function validateAccountName(option: string, value: string): string {
  if (/^\d{1,10}$/.test(value)) return value
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(value)) {
    const bad = badChar(value, /[A-Za-z0-9_.-]/)
    refuse(
      option,
      value,
      `${bad ? `${bad} is not allowed; ` : ''}a user or group name starts with a letter or "_", then up to 31 letters, digits, "_", "." or "-"`,
    )
  }
  return value
}

/** A systemd unit name without suffix (we add `.service` or `@.service`). */
export function validateUnitName(option: string, value: string): string {
  const v = value.endsWith('.service') ? value.slice(0, -'.service'.length) : value
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/.test(v)) {
    const bad = badChar(v, /[A-Za-z0-9_.-]/)
    refuse(
      option,
      value,
      `${bad ? `${bad} is not allowed; ` : ''}a unit name has letters, digits, "_", "." and "-" (not first), e.g. allo-gateway`,
    )
  }
  return v
}

export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/
// Env values are written inside double quotes: printable ASCII/Unicode except quotes, `\`, `$`, `%`, `` ` ``, `;` and braces.
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const ENV_VALUE_BAD = /["'\\$%`;{}\u0000-\u001f\u007f]/

export interface EnvPair {
  key: string
  value: string
}

/** `KEY=VALUE` for `--env`. */
export function validateEnvPair(option: string, value: string): EnvPair {
  const eq = value.indexOf('=')
  if (eq <= 0) refuse(option, value, 'expected KEY=VALUE, e.g. --env LOG_LEVEL=debug')
  const key = value.slice(0, eq)
  const val = value.slice(eq + 1)
  if (!ENV_KEY.test(key))
    refuse(
      option,
      value,
      `the name ${shown(key)} is not allowed; an environment name has letters, digits and "_", not starting with a digit`,
    )
  const m = ENV_VALUE_BAD.exec(val)
  if (m) {
    const bad = badChar(m[0], /(?!)/)
    refuse(
      option,
      value,
      `${bad} is not allowed in an environment value (no quotes, \\, $, %, \`, ;, braces or control characters); put such values in a file and use --environment-file`,
    )
  }
  return { key, value: val }
}

/** nginx rate: `10r/s` or `30r/m`. */
export function validateRate(option: string, value: string): string {
  if (!/^[1-9]\d{0,5}r\/[sm]$/.test(value))
    refuse(
      option,
      value,
      'expected REQUESTS r/s or r/m, e.g. 10r/m (ten launches a minute per client address)',
    )
  return value
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A duration such as `500ms`, `30s`, `10m`, `12h`, `1d`, or a bare number in `bareUnit` (seconds by
 * default, as `assist serve --max-lifetime` takes). Returns milliseconds.
 */
export function validateDuration(option: string, value: string | number, bareUnit: 'ms' | 's' = 's'): number {
  const text = String(value)
  const m = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(text)
  if (!m)
    refuse(
      option,
      text,
      'expected a number of seconds, or a number with a unit ms, s, m, h or d, e.g. 30m or 12h',
    )
  return Number(m[1]) * DURATION_UNITS[m[2] ?? bareUnit]
}

/** A whole number in a range, for flags that arrive as text. */
export function validateInteger(option: string, value: string | number, min: number, max: number): number {
  const text = String(value)
  if (!/^\d{1,12}$/.test(text) || Number(text) < min || Number(text) > max)
    refuse(option, text, `expected a whole number from ${min} to ${max}`)
  return Number(text)
}

/** A token for nginx identifiers (zone, upstream, log format names) derived from a validated domain. */
export function identifierFor(domain: string): string {
  return domain.replace(/[^A-Za-z0-9]/g, '_')
}

// An OCI image reference: [registry[:port]/]path[:tag][@sha256:digest], path components lowercase.
const IMAGE_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*'
const IMAGE_REGISTRY =
  '(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\\d{1,5})?/)'
const IMAGE_REF = new RegExp(
  `^${IMAGE_REGISTRY}?${IMAGE_COMPONENT}(?:/${IMAGE_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
)

/** A container image reference, e.g. node:24-bookworm-slim or registry.example.com:5000/team/app:1.2. */
export function validateImageRef(option: string, value: string): string {
  if (value === '')
    refuse(option, value, 'it is empty; give an image such as registry.example.com/my-app:1.0')
  const bad = badChar(value, /[A-Za-z0-9._/:@-]/)
  if (bad)
    refuse(option, value, `${bad} is not allowed; an image reference has letters, digits and . _ / : @ -`)
  if (value.length > 255 || !IMAGE_REF.test(value))
    refuse(
      option,
      value,
      'not a valid image reference (lowercase [REGISTRY/]NAME[:TAG][@sha256:DIGEST], e.g. registry.example.com/my-app:1.0)',
    )
  return value
}

/**
 * A Kubernetes object name that is also a valid Service name (an RFC 1035 label): lowercase
 * letters, digits and "-", starting with a letter, ending with a letter or digit, at most 63.
 */
export function validateK8sName(option: string, value: string): string {
  if (!/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) {
    const bad = badChar(value, /[a-z0-9-]/)
    refuse(
      option,
      value,
      `${bad ? `${bad} is not allowed; ` : ''}a name has lowercase letters, digits and "-", starts with a letter, ends with a letter or digit, at most 63 characters`,
    )
  }
  return value
}

/** A Kubernetes resource quantity for CPU (`250m`, `0.5`, `2`) or memory (`256Mi`, `1Gi`). */
export function validateQuantity(option: string, value: string, kind: 'cpu' | 'memory'): string {
  const re = kind === 'cpu' ? /^(?:\d{1,6}m|\d{1,4}(?:\.\d{1,3})?)$/ : /^\d{1,7}(?:Ki|Mi|Gi|Ti|k|M|G|T)?$/
  if (!re.test(value) || /^0+(?:\.0+)?m?$/.test(value) || /^0+(?:Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(value))
    refuse(
      option,
      value,
      kind === 'cpu'
        ? 'expected CPU as cores (0.5, 2) or millicores (250m), more than 0'
        : 'expected memory in bytes or with a unit Ki, Mi, Gi, Ti (e.g. 256Mi, 1Gi), more than 0',
    )
  return value
}

/** An npm version or dist-tag for a package spec (1.2.3, 1.2.3-beta.1, latest). */
export function validatePackageVersion(option: string, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$/.test(value)) {
    const bad = badChar(value, /[A-Za-z0-9.+_-]/)
    refuse(
      option,
      value,
      `${bad ? `${bad} is not allowed; ` : ''}expected an npm version or tag of allo-assist, e.g. 0.1.0 or latest`,
    )
  }
  return value
}
