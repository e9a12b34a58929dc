/**
 * The place's side of `launch_app`: the HTTP POST to an app gateway, byte for byte as allonet's
 * place sends it (cpp-httplib 0.10.7: header order, `Connection: close`, 1 s connect/read/write
 * timeouts, plain HTTP to host:port whatever the scheme says).
 */
import { connect, type Socket } from 'node:net'
import { cjsonPrint } from './json.js'

export const GATEWAY_TIMEOUT_MS = 1000
export const FAILED_CONNECTION = 'Failed connection to app gateway'

export interface GatewayTarget {
  host: string
  port: number
  /** `Host:` header value: host[:port] as written in the URL. */
  hostHeader: string
  /** Path and query. */
  path: string
}

/** Splits the URL after `alloapp:`; undefined when it is not a usable http(s) URL. */
export function gatewayTarget(appUrl: string): GatewayTarget | undefined {
  if (!appUrl.startsWith('alloapp:')) return undefined
  let url: URL
  try {
    url = new URL(appUrl.slice('alloapp:'.length))
  } catch {
    return undefined
  }
  if (url.hostname === '') return undefined
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  // The scheme's default port is dropped by URL; cpp-httplib speaks plain HTTP, port 80 by default.
  const explicitPort = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)/i.exec(
    appUrl.slice('alloapp:'.length),
  )?.[1]
  const port = explicitPort ? Number(explicitPort) : 80
  if (!(port >= 1 && port <= 65535)) return undefined
  const shownHost = host.includes(':') ? `[${host}]` : host
  return {
    host,
    port,
    hostHeader: port === 80 ? shownHost : `${shownHost}:${port}`,
    path: `${url.pathname || '/'}${url.search}`,
  }
}

/** The launched-by header: the identity cJSON-printed, newlines replaced by backslash + n. */
export function identityHeader(identity: unknown): string {
  return cjsonPrint(identity ?? {}).replace(/\n/g, '\\n')
}

export function buildLaunchRequest(
  target: GatewayTarget,
  body: string,
  identity: unknown,
  placeUrl: string,
): Buffer {
  const bodyBytes = Buffer.from(body, 'utf8')
  const head =
    `POST ${target.path} HTTP/1.1\r\n` +
    'Accept: */*\r\n' +
    'Connection: close\r\n' +
    `Content-Length: ${bodyBytes.length}\r\n` +
    'Content-Type: application/json\r\n' +
    `Host: ${target.hostHeader}\r\n` +
    'User-Agent: cpp-httplib/0.10.7\r\n' +
    `x-alloverse-launched-by: ${identityHeader(identity)}\r\n` +
    `x-alloverse-server: ${placeUrl}\r\n` +
    '\r\n'
  return Buffer.concat([Buffer.from(head, 'utf8'), bodyBytes])
}

export type GatewayResult = { ok: true } | { ok: false; error: string }

function decodeChunked(body: Buffer): Buffer {
  const parts: Buffer[] = []
  let pos = 0
  for (;;) {
    const eol = body.indexOf('\r\n', pos)
    if (eol < 0) break
    const size = Number.parseInt(body.subarray(pos, eol).toString('latin1'), 16)
    if (!Number.isFinite(size) || size <= 0) break
    parts.push(body.subarray(eol + 2, eol + 2 + size))
    pos = eol + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** Parses a complete HTTP/1.x response (read until close). */
export function parseHttpResponse(raw: Buffer): { status: number; body: string } | undefined {
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const head = raw.subarray(0, end).toString('latin1').split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')
  if (!m) return undefined
  const headers = new Map<string, string>()
  for (const line of head.slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim())
  }
  let body = raw.subarray(end + 4)
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) body = decodeChunked(body)
  else if (headers.has('content-length')) body = body.subarray(0, Number(headers.get('content-length')))
  return { status: Number(m[1]), body: body.toString('utf8') }
}

const MAX_RESPONSE = 1024 * 1024

/**
 * POSTs the launch request. Resolves `{ok: true}` on status 200; otherwise the error text the
 * place sends the requester: the response body, or "Failed connection to app gateway".
 */
export function postToGateway(
  target: GatewayTarget,
  request: Buffer,
  timeoutMs = GATEWAY_TIMEOUT_MS,
): Promise<GatewayResult> {
  return new Promise((resolve) => {
    let socket: Socket
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = (result: GatewayResult) => {
      if (done) return
      done = true
      clearTimeout(connectTimer)
      socket.destroy()
      resolve(result)
    }
    const fail = () => finish({ ok: false, error: FAILED_CONNECTION })
    try {
      socket = connect({ host: target.host, port: target.port })
    } catch {
      resolve({ ok: false, error: FAILED_CONNECTION })
      return
    }
    const connectTimer = setTimeout(fail, timeoutMs)
    socket.on('error', fail)
    socket.once('connect', () => {
      clearTimeout(connectTimer)
      // Write and read timeouts: each second without progress fails the launch.
      socket.setTimeout(timeoutMs, fail)
      socket.write(request)
    })
    socket.on('data', (d: Buffer) => {
      size += d.length
      if (size > MAX_RESPONSE) return fail()
      chunks.push(d)
      const parsed = parseHttpResponse(Buffer.concat(chunks))
      // Done early when a Content-Length body is complete (cpp-httplib does not wait for close then).
      if (parsed && isComplete(Buffer.concat(chunks))) settle(parsed)
    })
    socket.on('end', () => {
      const parsed = parseHttpResponse(Buffer.concat(chunks))
      if (!parsed) return fail()
      settle(parsed)
    })
    const settle = (parsed: { status: number; body: string }) =>
      finish(parsed.status === 200 ? { ok: true } : { ok: false, error: parsed.body })
  })
}

function isComplete(raw: Buffer): boolean {
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) return false
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(raw.subarray(0, end).toString('latin1'))
  return m !== null && raw.length - end - 4 >= Number(m[1])
}
