/** Helpers for gateway tests: raw HTTP over TCP, launch requests, waits, and small boot scripts. */
import { existsSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { GatewayLog } from '../../src/core/gateway.js'

export const PLACE = 'alloplace://localhost:21337'

/** The identity header exactly as a real place sends it (newlines turned into the two characters \ n). */
export const PLACE_IDENTITY = '{\\n\t"display_name":\t"launch-app"\\n}'

/** The launch body exactly as a real place sends it (cJSON_Print: TABs, newlines, no final newline). */
export const PLACE_BODY =
  '{\n\t"initialLocation":\t[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1.2, -2, 1],\n\t"avatarToken":\t"qjxqqpahyrdqgvhuyph"\n}'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** The parsed JSON body, when it is JSON. */
  json?: Record<string, unknown>
}

function parseResponse(buf: Buffer): RawResponse | undefined {
  const end = buf.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const head = buf.subarray(0, end).toString('latin1').split('\r\n')
  const status = Number(head[0].split(' ')[1])
  const headers: Record<string, string> = {}
  for (const line of head.slice(1)) {
    const i = line.indexOf(':')
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length'])
  const bodyBuf = buf.subarray(end + 4)
  if (length !== undefined && bodyBuf.length < length) return undefined
  const body = bodyBuf.subarray(0, length).toString('utf8')
  let json: Record<string, unknown> | undefined
  try {
    json = JSON.parse(body)
  } catch {
    json = undefined
  }
  return { status, headers, body, json }
}

/**
 * Sends `bytes` over a fresh TCP connection and resolves with the first complete response. With
 * `halfOpen` the write side stays open (for requests whose body never comes).
 */
export function rawRequest(port: number, bytes: Buffer | string, timeoutMs = 15_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    let done = false
    const finish = (err?: Error, res?: RawResponse) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(res as RawResponse)
    }
    const timer = setTimeout(
      () => finish(new Error(`no answer within ${timeoutMs} ms; got ${buf}`)),
      timeoutMs,
    )
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      const res = parseResponse(buf)
      if (res) finish(undefined, res)
    })
    socket.on('error', (err) => {
      const res = parseResponse(buf)
      if (res) finish(undefined, res)
      else finish(err)
    })
    socket.on('close', () => {
      const res = parseResponse(buf)
      if (res) finish(undefined, res)
      else finish(new Error(`connection closed without a full answer; got ${JSON.stringify(buf.toString())}`))
    })
    socket.write(bytes)
  })
}

/** A raw POST with the given headers (values written byte for byte, latin1) and body. */
export function rawPost(
  port: number,
  target: string,
  headers: Array<[string, string]>,
  body: Buffer | string,
  method = 'POST',
): Promise<RawResponse> {
  const bodyBuf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  let head = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`
  head += `Content-Length: ${bodyBuf.length}\r\n\r\n`
  return rawRequest(port, Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]))
}

/** The headers a place sends, with overrides (undefined value: leave the header out). */
export function placeHeaders(over: Record<string, string | undefined> = {}): Array<[string, string]> {
  const base: Record<string, string | undefined> = {
    'Content-Type': 'application/json',
    'x-alloverse-server': PLACE,
    'x-alloverse-launched-by': PLACE_IDENTITY,
    ...over,
  }
  return Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined)
}

/** POST through fetch, returning status and parsed JSON. */
export async function launch(
  url: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-alloverse-server': PLACE,
      'x-alloverse-launched-by': PLACE_IDENTITY,
      ...opts.headers,
    },
    body: opts.body ?? PLACE_BODY,
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

export async function getJson(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, init)
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

/** Polls `check` every 20 ms until it is true; throws after `timeoutMs` with `what`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** How many times the recording boot script started the app in `root`. */
export function startsOf(root: string): number {
  const file = join(root, 'starts.log')
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0
}

export function recordOf(root: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(root, 'record.json'), 'utf8'))
}

/**
 * Boot script that appends its avatarToken and pid to launches.log (one O_APPEND write) and exits 0:
 * a short-lived app for load tests and benchmarks.
 */
export const QUICK_BOOT_LUA = `local ffi = require('ffi')
ffi.cdef('int getpid(void);')
local root = arg[1]
local args = os.getenv('ALLO_APP_BOOT_ARGS') or ''
local token = args:match('"avatarToken"%s*:%s*"([^"]*)"') or '?'
local f = io.open(root .. '/launches.log', 'a')
f:write(token, ' ', tostring(ffi.C.getpid()), '\\n')
f:close()
os.exit(0)
`

/** Boot script that ignores SIGTERM and idles without burning CPU (only SIGKILL ends it). */
export const STUBBORN_BOOT_LUA = `local ffi = require('ffi')
ffi.cdef('typedef void (*sighandler_t)(int); sighandler_t signal(int, sighandler_t); int pause(void);')
ffi.C.signal(15, ffi.cast('sighandler_t', 1))
local f = io.open(arg[1] .. '/started', 'w') f:write('yes') f:close()
io.stdout:write('stubborn up\\n') io.stdout:flush()
while true do ffi.C.pause() end
`

/** Boot script that idles in pause() (no CPU, no child processes) until a signal ends it. */
export const IDLE_BOOT_LUA = `local ffi = require('ffi')
ffi.cdef('int pause(void);')
io.stdout:write('idle up\\n') io.stdout:flush()
while true do ffi.C.pause() end
`

/** A gateway log that keeps every line as `info …` / `warn …` / `error …`, for assertions. */
export interface Captured extends GatewayLog {
  lines: string[]
}

export function captureLog(): Captured {
  const lines: string[] = []
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  }
}

/** Boot script that writes its whole environment (from /proc) to env.txt, then idles. */
export const ENV_DUMP_BOOT_LUA = `local f = assert(io.open('/proc/self/environ', 'rb'))
local s = f:read('*a') f:close()
local out = assert(io.open(arg[1] .. '/env.txt.tmp', 'w'))
out:write((s:gsub('%z', '\\n'))) out:close()
assert(os.rename(arg[1] .. '/env.txt.tmp', arg[1] .. '/env.txt'))
local ffi = require('ffi') ffi.cdef('int pause(void);')
while true do ffi.C.pause() end
`

/** The environment ENV_DUMP_BOOT_LUA recorded for the app in `app`. */
export function envOf(app: string): Map<string, string> {
  const m = new Map<string, string>()
  for (const line of readFileSync(join(app, 'env.txt'), 'utf8').split('\n')) {
    const i = line.indexOf('=')
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1))
  }
  return m
}
