/**
 * The `assist serve` HTTP gateway: places POST to it to start app instances. One module owns the
 * HTTP side (routing, limits, timeouts, drain); validation, app lookup, the registry and logging
 * live beside it. Instances start only through the shared launcher (no shell, no hot reload).
 */
import { timingSafeEqual } from 'node:crypto'
import { realpathSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { findExecutable } from '../fsutil.js'
import { hostAllowed, hostRefusal } from '../host-check.js'
import { allowedEnv } from '../instance-env.js'
import {
  describeExit,
  type ExitInfo,
  type OutputStream,
  ResidentSpawner,
  startInstance,
} from '../launcher.js'
import {
  type AppProject,
  allonetLibraryPath,
  BUNDLED_LUAJIT,
  CONFIG_FILE,
  findProject,
  loadProject,
} from '../project.js'
import { type LaunchSpec, launchSpecFor, type RuntimeOptions } from '../runtimes/index.js'
import { pollFixNote, resolveBootScript, resolveLuajit } from '../runtimes/lua.js'
import { type AppListing, checkInsideRoot, listApps, readInfo, resolveApp } from './apps.js'
import { type GatewayLog, humanLog } from './log.js'
import { type InstanceRecord, type InstanceView, Registry } from './registry.js'
import {
  appNameFromTarget,
  checkBootArgs,
  checkContentType,
  checkIdentityHeader,
  checkPlaceHeader,
  displayNameOf,
  HttpError,
  IDENTITY_HEADER,
  PLACE_HEADER,
  singleHeader,
} from './validate.js'

export interface GatewayTimeouts {
  /** All request headers must arrive within this many ms (slowloris). Default 10 000. */
  headersMs?: number
  /** The whole request (headers and body) must arrive within this many ms. Default 15 000. */
  requestMs?: number
  /** An idle keep-alive connection is closed after this many ms. Default 5 000. */
  keepAliveMs?: number
  /** How often stalled connections are looked for. Default 1 000. */
  checkIntervalMs?: number
}

export interface GatewayOptions {
  /** TCP port (0: any free port). Default 8000. */
  port?: number
  /** Interface to listen on. Default: all interfaces. */
  host?: string
  /** Serve every app folder directly under this folder (`POST /<app>`). */
  appsRoot?: string
  /** Single-app mode: the app folder, or any folder inside it (default: the current folder). */
  appDir?: string
  /** Most instances at once (0: no limit). Default 100. */
  maxInstances?: number
  /** Most instances per place (0: no limit). Default 0. */
  maxPerPlace?: number
  /** Stop an instance after this many ms (0/undefined: never). */
  maxLifetimeMs?: number
  /** With a token set, /instances needs `Authorization: Bearer <token>` from every client. */
  adminToken?: string
  /** Largest accepted body in bytes. Default 65 536. */
  maxBodyBytes?: number
  /** Ms between SIGTERM and SIGKILL when stopping an instance. Default 5 000. */
  graceMs?: number
  /** LuaJIT binary for Lua apps. */
  luajit?: string
  /** false: alloui's poll timeout is passed unchanged to Lua apps (--no-poll-fix). */
  pollFix?: boolean
  /** Log the one-line notes of --verbose. */
  verbose?: boolean
  /** Largest accepted request head (request line + headers) in bytes. Default 16 384. */
  maxHeaderBytes?: number
  /** Most simultaneous connections. Default 1 024. */
  maxConnections?: number
  timeouts?: GatewayTimeouts
  /** Where events go (default: human lines on stdout/stderr). */
  log?: GatewayLog
  /** Log every line the instances print (default true). */
  logAppOutput?: boolean
  /**
   * The gateway's environment (default process.env): where LuaJIT is looked up. Instances inherit only
   * its allow-listed variables (instance-env.ts), plus `appEnv`.
   */
  env?: NodeJS.ProcessEnv
  /** Variables every instance gets in addition (serve --env). */
  appEnv?: Record<string, string>
  /** Host names, besides localhost and IP addresses, that tokenless /instances answers to (--allowed-host). */
  allowedHosts?: string[]
  /** Most simultaneous connections from one client address (0: no limit). Default 256. */
  maxConnectionsPerAddress?: number
  /**
   * Start instances through a resident LuaJIT spawner (default true), so the gateway never forks
   * itself; false (or no LuaJIT) spawns them from the gateway directly.
   */
  spawner?: boolean
}

export type GatewayMode = 'single-app' | 'apps-root'

export interface CloseOptions {
  /** Kill every instance at once (SIGKILL to each group) instead of TERM, grace, KILL. */
  force?: boolean
}

export interface Gateway {
  port: number
  host: string
  /** http://host:port/ as a client on this machine would reach it. */
  url: string
  mode: GatewayMode
  /** Single-app mode: the app's name; apps-root mode: the real apps folder. */
  serving: string
  /** Running instances right now. */
  instances(): InstanceView[]
  /** Stops accepting, stops every instance, resolves when all are gone. Safe to call twice. */
  close(opts?: CloseOptions): Promise<void>
  /** Resolves when close() has finished. */
  closed: Promise<void>
  server: Server
  /** The pid of the resident spawner starting instances, if one runs (undefined: direct spawn). */
  spawnerPid(): number | undefined
}

/** Stands in for the place URL in a cached launch spec; replaced per launch. */
/** What the runtimes need from the gateway's options. */
function runtimeOf(options: GatewayOptions): RuntimeOptions {
  return { luajit: options.luajit, env: options.env, pollFix: options.pollFix }
}

const PLACE_PLACEHOLDER = 'alloplace://assist-serve-place-placeholder.invalid:1'
/** How long a prepared app description and launch spec are reused. */
const SPEC_TTL_MS = 2000
/** How long an instance's death by SIGTERM waits for the gateway's own SIGTERM before being reported. */
const SIGTERM_ATTRIBUTION_MS = 250

const DEFAULTS = {
  port: 8000,
  maxInstances: 100,
  maxPerPlace: 0,
  maxBodyBytes: 65_536,
  graceMs: 5000,
  maxHeaderBytes: 16_384,
  maxConnections: 1024,
  maxConnectionsPerAddress: 256,
  headersMs: 10_000,
  requestMs: 15_000,
  keepAliveMs: 5000,
  checkIntervalMs: 1000,
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  })
  res.end(text)
}

function errorBody(message: string) {
  return { status: 'error', error: message }
}

/** The raw HTTP answer for errors the HTTP parser finds before a request exists. */
function rawError(status: number, reason: string, message: string): string {
  const body = JSON.stringify(errorBody(message))
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  )
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  if (!m) return false
  const a = Buffer.from(m[1])
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Reads the body up to `limit` bytes; rejects with 413 when it is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new HttpError(413, `The request body is too large (limit ${limit} bytes).`))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        reject(new HttpError(413, `The request body is too large (limit ${limit} bytes).`))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(Buffer.concat(chunks))
    }
    const onError = (err: Error) => {
      cleanup()
      reject(err)
    }
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
    }
    const onAborted = () => onError(new Error('request aborted'))
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('aborted', onAborted)
  })
}

/** Starts the gateway; resolves once it listens. Throws a UserError for bad options (port in use …). */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? humanLog()
  const logAppOutput = options.logAppOutput ?? true
  const graceMs = options.graceMs ?? DEFAULTS.graceMs
  const maxBody = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes
  const maxLifetimeMs = options.maxLifetimeMs ?? 0
  const adminToken = options.adminToken || undefined
  const t = { ...DEFAULTS, ...options.timeouts }
  const registry = new Registry({
    maxInstances: options.maxInstances ?? DEFAULTS.maxInstances,
    maxPerPlace: options.maxPerPlace ?? DEFAULTS.maxPerPlace,
  })

  // Which app(s): apps-root mode checks the root now (it must exist); single-app mode loads the app
  // and checks its runtime now, so a broken setup fails at start, not at the first launch.
  let mode: GatewayMode
  let single: AppProject | undefined
  let serving: string
  if (options.appsRoot !== undefined) {
    mode = 'apps-root'
    try {
      serving = realpathSync(options.appsRoot)
      if (!statSync(serving).isDirectory()) throw new Error('not a folder')
    } catch {
      throw new UserError(
        `The apps root ${options.appsRoot} is not a folder: pass --apps-root (or APPS_ROOT) a folder holding app folders.`,
      )
    }
  } else {
    mode = 'single-app'
    single = findProject(options.appDir ?? process.cwd())
    launchSpecFor(single, 'alloplace://localhost:21337', runtimeOf(options))
    if (options.verbose && single.kind === 'lua') log.info(pollFixNote(single, runtimeOf(options)))
    serving = single.name
  }

  // The resident spawner: instances are started by a small LuaJIT process, not forked from this one.
  let spawner: ResidentSpawner | undefined
  if (options.spawner ?? true) {
    const env = options.env ?? process.env
    // The LuaJIT the app runs with (single-app mode: maybe its bundled one), else --luajit/ALLO_LUAJIT/PATH.
    let luajit: string | undefined
    try {
      luajit = single
        ? resolveLuajit(single, { luajit: options.luajit, env }).path
        : (options.luajit ?? env.ALLO_LUAJIT ?? findExecutable('luajit', env.PATH))
    } catch {
      luajit = undefined // a bad --luajit/ALLO_LUAJIT for an app that does not need LuaJIT
    }
    const onNotice = (line: string) => log.warn(line, { event: 'spawner' })
    if (!luajit) {
      log.warn(
        'no LuaJIT found for the process spawner; starting instances directly instead (slower under load)',
        {
          event: 'spawner-unavailable',
        },
      )
    } else {
      spawner = await ResidentSpawner.start({ luajit, onNotice }).catch((err: Error) => {
        log.warn(`${err.message}; starting instances directly instead (slower under load)`, {
          event: 'spawner-unavailable',
        })
        return undefined
      })
    }
  }

  // The environment instances inherit, made once: the gateway's allow-listed variables (never its
  // secrets such as ASSIST_ADMIN_TOKEN, nor its settings), then the operator's --env additions.
  const baseEnv: NodeJS.ProcessEnv = { ...allowedEnv(options.env ?? process.env), ...options.appEnv }
  const allowedHosts = options.allowedHosts ?? []

  let draining = false
  const startedAt = Date.now()
  const starting = new Set<Promise<unknown>>()
  const lifetimeTimers = new Map<string, NodeJS.Timeout>()

  /** The app folder a launch request names (404/400 when there is none). */
  function appDirFor(req: IncomingMessage): { name: string; dir: string } {
    if (single) return { name: single.name, dir: single.root }
    return resolveApp(serving, appNameFromTarget(req.url ?? '/'))
  }

  // An app's description and launch spec are read from disk at most every SPEC_TTL_MS per app
  // folder (a launch burst does not re-read alloapp.json or search PATH for luajit every time).
  const prepared = new Map<string, { at: number; project: AppProject; template: LaunchSpec }>()
  function prepare(app: { name: string; dir: string }): { project: AppProject; template: LaunchSpec } {
    const hit = prepared.get(app.dir)
    if (hit && Date.now() - hit.at < SPEC_TTL_MS) return hit
    prepared.delete(app.dir)
    // Apps-root mode: what the gateway reads must really live inside the root (symlinks included).
    if (!single) checkInsideRoot(serving, app, [CONFIG_FILE, 'info.json', join('lua', 'main.lua')])
    let project: AppProject
    try {
      project = loadProject(app.dir)
    } catch (err) {
      log.error(`${app.name}: ${(err as Error).message}`, { event: 'app-invalid', app: app.name })
      throw new HttpError(502, `The app "${app.name}" could not be started: its setup is broken.`)
    }
    let template: LaunchSpec
    try {
      template = launchSpecFor(project, PLACE_PLACEHOLDER, runtimeOf(options))
    } catch (err) {
      log.error(`${app.name}: ${(err as Error).message}`, { event: 'launch-failed', app: app.name })
      throw new HttpError(502, `The app "${app.name}" could not be started: its runtime is incomplete.`)
    }
    // … and so must what it runs: the boot script, the library, a bundled LuaJIT, a start command's
    // program and files inside the app.
    if (!single)
      checkInsideRoot(serving, app, [
        resolveBootScript(project),
        allonetLibraryPath(project.root),
        BUNDLED_LUAJIT,
        ...template.argv.filter((a) => a !== PLACE_PLACEHOLDER && !a.startsWith('-')),
      ])
    const entry = { at: Date.now(), project, template }
    prepared.set(app.dir, entry)
    return entry
  }

  /** Exit reports held back by `onExit`, flushed (as stopped) when the gateway drains. */
  const pendingReports = new Map<ReturnType<typeof setTimeout>, () => void>()

  function onExit(record: InstanceRecord, exit: ExitInfo, errorLines: ErrorLines): void {
    clearTimeout(lifetimeTimers.get(record.id))
    lifetimeTimers.delete(record.id)
    registry.remove(record.id)
    const running = registry.size
    // A service manager stopping the whole group (systemd's KillMode=control-group) sends SIGTERM
    // to the gateway and its instances at once; an instance's exit can then arrive before the
    // gateway's own signal. Give the gateway a moment before reporting such a death as unexpected.
    if (exit.signal === 'SIGTERM' && !exit.stopped && !draining) {
      const report = () => {
        pendingReports.delete(timer)
        reportExit(record, exit, running, errorLines)
      }
      const timer = setTimeout(report, SIGTERM_ATTRIBUTION_MS)
      pendingReports.set(timer, report)
    } else {
      reportExit(record, exit, running, errorLines)
    }
  }

  function reportExit(
    record: InstanceRecord,
    exitInfo: ExitInfo,
    running: number,
    errorLines: ErrorLines,
  ): void {
    const exit = draining && exitInfo.signal === 'SIGTERM' ? { ...exitInfo, stopped: true } : exitInfo
    const lifetime = (exit.lifetimeMs / 1000).toFixed(1)
    const how = describeExit(exit)
    const line = `${record.tag} ${how} after ${lifetime}s${exit.stopped ? ' (stopped)' : ''} [${running} running]`
    const fields = {
      event: 'exit',
      instance: record.id,
      app: record.app,
      pid: record.pid,
      code: exit.code,
      signal: exit.signal,
      lifetime_ms: Math.round(exit.lifetimeMs),
      stopped: exit.stopped,
      running,
    }
    if (!exit.stopped && exit.code !== 0) {
      const tail = record.instance.tail().slice(-5)
      const errors = errorLines.lines()
      log.warn(`${line}${crashSummary(errors, tail)}`, { ...fields, tail, error_lines: errors })
    } else {
      log.info(line, fields)
    }
  }

  async function launch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (draining) throw new HttpError(503, 'This app server is shutting down; try again in a minute.')
    const app = appDirFor(req)
    const place = checkPlaceHeader(singleHeader(req.rawHeaders, PLACE_HEADER))
    const identity = checkIdentityHeader(singleHeader(req.rawHeaders, IDENTITY_HEADER))
    checkContentType(req.headers['content-type'])
    const bootArgs = checkBootArgs(await readBody(req, maxBody))
    if (draining) throw new HttpError(503, 'This app server is shutting down; try again in a minute.')
    const reservation = registry.reserve(place)
    const errorLines = new ErrorLines()
    let record: InstanceRecord
    try {
      const { project, template } = prepare(app)
      const spec: LaunchSpec = {
        ...template,
        argv: template.argv.map((part) => part.replaceAll(PLACE_PLACEHOLDER, place)),
      }
      let tagRef = project.name
      let idRef = ''
      const errors = errorLines
      const instance = await startInstance({
        spec,
        tag: project.name,
        bootArgs,
        identity,
        baseEnv,
        spawner,
        onLine: (line, stream) => {
          // The lines that carry an error, kept for the crash summary (the last lines are often noise).
          errors.add(line, stream)
          if (logAppOutput)
            log.info(`[${tagRef}] ${line}`, { event: 'output', instance: idRef, app: project.name, stream })
        },
      }).catch((err: Error) => {
        log.error(`${project.name}: ${err.message}`, { event: 'launch-failed', app: project.name })
        throw new HttpError(502, `The app "${project.name}" could not be started.`)
      })
      record = registry.add(reservation, {
        app: project.name,
        displayName: displayNameOf(identity),
        instance,
      })
      tagRef = record.tag
      idRef = record.id
    } catch (err) {
      registry.release(reservation)
      throw err
    }
    const by = record.displayName === undefined ? '' : ` for ${JSON.stringify(record.displayName)}`
    log.info(
      `${record.tag} started (id ${record.id}, pid ${record.pid}) in ${place}${by} [${registry.size} running]`,
      {
        event: 'launch',
        instance: record.id,
        app: record.app,
        pid: record.pid,
        place,
        display_name: record.displayName ?? null,
        running: registry.size,
      },
    )
    record.instance.exited.then((exit) => onExit(record, exit, errorLines))
    if (maxLifetimeMs > 0) {
      const timer = setTimeout(() => {
        log.info(`${record.tag} reached the lifetime limit; stopping it`, {
          event: 'lifetime',
          instance: record.id,
        })
        void record.instance.stop(graceMs)
      }, maxLifetimeMs)
      timer.unref()
      lifetimeTimers.set(record.id, timer)
    }
    if (draining) void record.instance.stop(graceMs)
    json(res, 200, { status: 'ok', instance: record.id, app: record.app, pid: record.pid })
  }

  function checkAdmin(req: IncomingMessage): void {
    if (adminToken) {
      if (!tokenMatches(req.headers.authorization, adminToken)) {
        throw new HttpError(401, 'This needs the admin token: send Authorization: Bearer <token>.', {
          'WWW-Authenticate': 'Bearer',
        })
      }
      return
    }
    // Without a token only this machine may look; a request relayed by a local proxy is not local.
    const proxied =
      req.headers['x-forwarded-for'] !== undefined ||
      req.headers.forwarded !== undefined ||
      req.headers['x-real-ip'] !== undefined
    if (!isLoopback(req.socket.remoteAddress) || proxied) {
      throw new HttpError(403, 'Instances can only be listed from this machine, or with --admin-token.')
    }
    // A page on another site can reach 127.0.0.1 through DNS rebinding; its Host is still its own name.
    // (With a token there is nothing to rebind to: a browser never sends the Authorization header by itself.)
    if (!hostAllowed(req.headers.host, allowedHosts)) throw new HttpError(403, hostRefusal(req.headers.host))
  }

  function health(res: ServerResponse): void {
    json(res, draining ? 503 : 200, {
      status: draining ? 'draining' : 'ok',
      mode,
      instances: registry.size,
      starting: registry.starting,
      max_instances: options.maxInstances ?? DEFAULTS.maxInstances,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
    })
  }

  function apps(res: ServerResponse): void {
    const list: AppListing[] = single
      ? [{ name: single.name, path: '/', info: readInfo(single.root) }]
      : listApps(serving)
    json(res, 200, { status: 'ok', mode, apps: list })
  }

  async function stopOne(id: string, res: ServerResponse): Promise<void> {
    const record = registry.get(id)
    if (!record) throw new HttpError(404, `There is no running instance "${id}".`)
    log.info(`${record.tag} stopping on request`, { event: 'stop-request', instance: id })
    const exit = await record.instance.stop(graceMs)
    json(res, 200, {
      status: 'ok',
      instance: id,
      exit: { code: exit.code, signal: exit.signal, lifetime_ms: Math.round(exit.lifetimeMs) },
    })
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0]
    const method = req.method ?? 'GET'
    const get = method === 'GET' || method === 'HEAD'
    if (get && path === '/health') return health(res)
    if (get && path === '/apps') return apps(res)
    if (path === '/instances') {
      if (!get) throw new HttpError(405, 'Use GET on /instances.', { Allow: 'GET, HEAD' })
      checkAdmin(req)
      return json(res, 200, { status: 'ok', instances: registry.view() })
    }
    const stop = /^\/instances\/([^/]+)$/.exec(path)
    if (stop) {
      if (method !== 'DELETE') throw new HttpError(405, 'Use DELETE on /instances/ID.', { Allow: 'DELETE' })
      checkAdmin(req)
      return stopOne(stop[1], res)
    }
    if (method !== 'POST') {
      throw new HttpError(405, 'Launch an app with POST (GET /apps lists them).', { Allow: 'POST' })
    }
    return launch(req, res)
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (overLimit.has(req.socket)) {
      req.socket.destroy()
      return
    }
    const work = route(req, res).catch((err: unknown) => {
      if (res.headersSent) return
      if (err instanceof HttpError) {
        // A body we did not read: answer, then close rather than read it all.
        if (!req.complete) res.setHeader('Connection', 'close')
        json(res, err.status, errorBody(err.message), err.headers)
        const why = err.detail ? ` (${err.detail})` : ''
        const fields = { event: 'refused', status: err.status, ...(err.detail ? { reason: err.detail } : {}) }
        if (err.status >= 500 || err.detail)
          log.warn(`${req.method} ${req.url}: ${err.status} ${err.message}${why}`, fields)
        else log.info(`${req.method} ${req.url}: ${err.status} ${err.message}`, fields)
        return
      }
      log.error(`internal error on ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}`, {
        event: 'bug',
      })
      json(res, 500, errorBody('The app server failed unexpectedly; tell its operator.'))
    })
    starting.add(work)
    void work.finally(() => starting.delete(work))
  }

  const server = createServer(
    {
      maxHeaderSize: options.maxHeaderBytes ?? DEFAULTS.maxHeaderBytes,
      requireHostHeader: false,
      headersTimeout: t.headersMs,
      requestTimeout: t.requestMs,
      keepAliveTimeout: t.keepAliveMs,
      connectionsCheckingInterval: t.checkIntervalMs,
    },
    handle,
  )
  server.headersTimeout = t.headersMs
  server.requestTimeout = t.requestMs
  server.keepAliveTimeout = t.keepAliveMs
  server.maxConnections = options.maxConnections ?? DEFAULTS.maxConnections
  // One client address may hold only so many connections, so it cannot use up maxConnections and take
  // /health (and every launch) offline for everyone else.
  const perAddressMax = options.maxConnectionsPerAddress ?? DEFAULTS.maxConnectionsPerAddress
  const perAddress = new Map<string, number>()
  const overLimit = new WeakSet<Socket>()
  if (perAddressMax > 0) {
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? ''
      const n = (perAddress.get(address) ?? 0) + 1
      if (n > perAddressMax) {
        overLimit.add(socket)
        socket.end(
          rawError(
            503,
            'Service Unavailable',
            `Too many connections from your address (limit ${perAddressMax}); close some and try again.`,
          ),
          () => socket.destroy(),
        )
        return
      }
      perAddress.set(address, n)
      socket.once('close', () => {
        const left = (perAddress.get(address) ?? 1) - 1
        if (left <= 0) perAddress.delete(address)
        else perAddress.set(address, left)
      })
    })
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy()
      return
    }
    // Node's headersTimeout/requestTimeout also cover a connection that never sends a byte.
    const answer =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? rawError(431, 'Request Header Fields Too Large', 'The request headers are too large.')
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? rawError(408, 'Request Timeout', 'The request took too long to arrive.')
          : rawError(400, 'Bad Request', 'That is not a valid HTTP request.')
    socket.end(answer, () => socket.destroy())
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      void spawner?.close()
      const where = `${options.host ?? 'all interfaces'} port ${options.port ?? DEFAULTS.port}`
      if (err.code === 'EADDRINUSE')
        reject(
          new UserError(
            `Port ${options.port} is already in use on ${where}: stop the other server or pass --port.`,
            EXIT.network,
          ),
        )
      else if (err.code === 'EACCES')
        reject(
          new UserError(
            `Not allowed to listen on ${where}: use a port above 1023 or run with the needed rights.`,
            EXIT.network,
          ),
        )
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(
          new UserError(`Cannot listen on ${where}: --host is not an address of this machine.`, EXIT.network),
        )
      else reject(err)
    }
    server.once('error', onError)
    server.listen(options.port ?? DEFAULTS.port, options.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const shownHost =
    options.host && options.host !== '0.0.0.0' && options.host !== '::'
      ? options.host
      : address.family === 'IPv6' && options.host === '::'
        ? '::1'
        : '127.0.0.1'
  const urlHost = shownHost.includes(':') ? `[${shownHost}]` : shownHost

  let closing: Promise<void> | undefined
  let resolveClosed!: () => void
  const closed = new Promise<void>((r) => {
    resolveClosed = r
  })

  async function drain(force: boolean): Promise<void> {
    draining = true
    for (const [timer, report] of pendingReports) {
      clearTimeout(timer)
      report()
    }
    server.close()
    server.closeIdleConnections()
    const records = registry.list()
    if (records.length > 0) {
      log.info(`stopping ${records.length} instance(s)${force ? ' at once' : `, ${graceMs} ms grace each`}`, {
        event: 'drain',
        instances: records.length,
        force,
      })
    }
    for (const timer of lifetimeTimers.values()) clearTimeout(timer)
    // Launches still starting finish (and are stopped by the draining check) before we count.
    await Promise.allSettled([...starting])
    await Promise.all(registry.list().map((r) => (force ? r.instance.kill() : r.instance.stop(graceMs))))
    server.closeAllConnections()
    await spawner?.close()
  }

  const close = (opts: CloseOptions = {}): Promise<void> => {
    if (opts.force) {
      // A forced close may come while a graceful one waits: kill now, and finish when everything is gone.
      const forced = drain(true)
      closing = closing ? Promise.all([closing, forced]).then(() => undefined) : forced
    } else if (!closing) {
      closing = drain(false)
    }
    const current = closing
    void current.then(() => {
      if (closing === current) resolveClosed()
    })
    return current
  }

  return {
    port: address.port,
    host: shownHost,
    url: `http://${urlHost}:${address.port}/`,
    mode,
    serving,
    instances: () => registry.view(),
    close,
    closed,
    server,
    spawnerPid: () => spawner?.pid,
  }
}

/** Lines that name an error, whichever stream they came on (Lua's `file.lua:12: …` included). */
const ERROR_LINE = /\b(error|exception|fatal|panic|failed|unexpected|not found)\b|^(\S+: )?\S+\.lua:\d+:/i
/** Stack trace headers and frames (Lua, Python): where, not what — left out of the summary. */
const TRACE_LINE =
  /^(stack traceback:|Traceback \(most recent call last\):)$|^\s+(\[C\]:|\(tail call\)|\.\.\.|[^\s:]+:\d+: in |File ".*", line \d+)|^\s*$/
/** Most error lines quoted in a crash summary. */
const CRASH_ERROR_LINES = 5

/**
 * The lines of an instance's output that carry its error, for the crash summary: lines naming an
 * error (on either stream) first, then other stderr lines; stack trace frames are left out.
 */
export class ErrorLines {
  private readonly named: string[] = []
  private readonly other: string[] = []

  add(line: string, stream: OutputStream): void {
    if (TRACE_LINE.test(line)) return
    const into = ERROR_LINE.test(line) ? this.named : stream === 'stderr' ? this.other : undefined
    if (!into) return
    into.push(line)
    if (into.length > CRASH_ERROR_LINES) into.shift()
  }

  lines(): string[] {
    return [...this.named, ...this.other].slice(0, CRASH_ERROR_LINES)
  }
}

/**
 * The end of the one-line crash report (pure): the lines that carry the error (stderr, lines naming an
 * error) first, then the last lines not already shown, each quoted.
 */
export function crashSummary(errorLines: string[], tail: string[]): string {
  const quote = (lines: string[]) => lines.map((l) => JSON.stringify(l)).join(' | ')
  const rest = tail.filter((l) => !errorLines.includes(l) && !TRACE_LINE.test(l))
  let out = ''
  if (errorLines.length) out += `; error output: ${quote(errorLines)}`
  if (rest.length) out += `; last output: ${quote(rest)}`
  return out
}

/** The one line `assist serve` prints once it listens (pure). */
export function listeningLine(g: Pick<Gateway, 'url' | 'mode' | 'serving' | 'port'>, host?: string): string {
  const where = host ? g.url : `${g.url} (all interfaces, port ${g.port})`
  return g.mode === 'apps-root'
    ? `Gateway listening on ${where}, serving the apps under ${g.serving}: POST /<app> launches one`
    : `Gateway listening on ${where}, serving ${g.serving}: POST / launches it`
}
