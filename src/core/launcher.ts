/**
 * The shared launcher core: the one module that starts processes.
 *
 * `startInstance` starts an app instance in its own process group, tags its output lines,
 * stops it (first asking it to leave — its stdin closes — then SIGTERM to the whole group, then
 * SIGKILL, each after a grace period), and reports how it ended. `runCommand` runs a short-lived tool (git, cmake, luajit -v …) to completion.
 * run, serve and the development place all go through here.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { constants as osConstants } from 'node:os'
import type { Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { fileURLToPath } from 'node:url'
import { withoutAssistVariables } from './instance-env.js'
import type { LaunchSpec } from './runtimes/types.js'
import { encodeFrame, FrameDecoder, startFrame } from './spawner/protocol.js'

export type OutputStream = 'stdout' | 'stderr'

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  /** Milliseconds from start to exit. */
  lifetimeMs: number
  /** True when the instance ended because `stop()` was called. */
  stopped: boolean
  /** Set when how it really ended is unknown: it was killed because its supervisor was lost. */
  lost?: string
}

export interface StartOptions {
  spec: LaunchSpec
  /** Label for this instance, used to tag output (e.g. `allo-clock#3`). */
  tag: string
  /** Becomes ALLO_APP_BOOT_ARGS (the launch arguments JSON). */
  bootArgs?: string
  /** Becomes ALLO_APP_BOOTED_BY_IDENTITY. */
  identity?: string
  /** Called for each complete line the instance prints. */
  onLine?: (line: string, stream: OutputStream, instance: Instance) => void
  /** How many recent output lines to keep for crash reports. */
  tailLines?: number
  /**
   * Base environment (default: this process's, without assist's own ASSIST_* variables). The gateway
   * passes only its allow-listed variables (see instance-env.ts).
   */
  baseEnv?: NodeJS.ProcessEnv
  /** Start it through this resident spawner instead of spawning from this process. */
  spawner?: ResidentSpawner
  /** This launch's token (ALLO_ASSIST_INSTANCE); a random one by default. */
  token?: string
}

/**
 * Exit statuses of Lua apps started through assist-boot.lua for ends alloui itself reports as a
 * clean exit (documented in docs: "Exit statuses of apps").
 */
export const APP_EXIT = {
  /** alloui's run loop caught an error in the app (it printed it, disconnected and returned). */
  appError: 80,
  /** The place ended the connection: lost (timed out, place stopped) or refused the app. */
  lostPlace: 81,
} as const

/**
 * The environment contract between the launcher and every instance (documented for apps of any
 * language): end of file on stdin asks the app to leave the place and exit; the instance's token
 * may be announced as identity.assist_instance so the development place knows who it is.
 */
export const INSTANCE_ENV = {
  /** "stdin": stdin is a pipe from assist, and its end of file is the request to leave. */
  leave: 'ALLO_ASSIST_LEAVE',
  /** A token unique to this launch. */
  instance: 'ALLO_ASSIST_INSTANCE',
  /** The pid of the process that started this one (for a parent-death check). */
  parentPid: 'ALLO_ASSIST_PARENT_PID',
} as const

/** Ms an instance gets to leave on its own (stdin closed) before SIGTERM. */
export const DEFAULT_LEAVE_MS = 1500

/**
 * The line (on stdout or stderr) by which an instance says it leaves when its stdin closes
 * (assist-boot.lua prints it when alloui first polls). Not shown. Until an instance has printed
 * it, stop() sends SIGTERM right after closing its stdin, as for an app that does not listen.
 */
export const LEAVE_MARKER = '\u0001assist:leaves-on-stdin-eof'

/** Human description of how a process ended: "exited with code 1", "killed by SIGTERM". */
export function describeExit(exit: Pick<ExitInfo, 'code' | 'signal' | 'lost'>): string {
  if (exit.lost) return `killed by ${exit.signal ?? 'SIGKILL'} (${exit.lost})`
  if (exit.signal) return `killed by ${exit.signal}`
  if (exit.code === APP_EXIT.appError) return `exited with code ${exit.code} (error in the app)`
  if (exit.code === APP_EXIT.lostPlace) return `exited with code ${exit.code} (lost the place)`
  return `exited with code ${exit.code}`
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  // Never -0 (our own group) or -1 (every process we may signal).
  if (!Number.isInteger(pid) || pid <= 1) return false
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false // ESRCH: the group is gone
  }
}

/** Splits a stream into lines, calling `onLine` for each; flushes a final unterminated line at end. */
function splitLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return
  const lines = new LineSplitter(onLine)
  stream.on('data', (chunk: Buffer) => lines.push(chunk))
  stream.on('end', () => lines.end())
}

/** Bytes in, complete UTF-8 lines out ("\r\n" too); `end()` flushes a final unterminated line. */
class LineSplitter {
  private pending = ''
  private readonly decoder = new StringDecoder('utf8')
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const parts = (this.pending + this.decoder.write(chunk)).split('\n')
    this.pending = parts.pop() ?? ''
    for (const line of parts) this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line)
  }

  end(): void {
    const rest = this.pending + this.decoder.end()
    this.pending = ''
    if (rest) this.onLine(rest)
  }
}

export class LaunchError extends Error {}

/** What a process backend (node's spawn, or the resident spawner) reports about one instance. */
interface InstanceSink {
  output(stream: OutputStream, chunk: Buffer): void
  /** The stream reached end of file. */
  end(stream: OutputStream): void
  /** The leader exited; `lost` says why its real status is unknown (it was killed instead). */
  exit(code: number | null, signal: NodeJS.Signals | null, lost?: string): void
}

export class Instance {
  readonly tag: string
  readonly pid: number
  /** This launch's token (ALLO_ASSIST_INSTANCE). */
  readonly token: string
  readonly startedAt: Date
  readonly exited: Promise<ExitInfo>
  private readonly tailBuf: string[] = []
  private readonly tailMax: number
  private exitInfo?: ExitInfo
  private stopRequested = false
  private killTimer?: NodeJS.Timeout
  private termTimer?: NodeJS.Timeout
  /** It printed LEAVE_MARKER: it leaves on its own when asked. */
  private listens = false

  /**
   * `wire` connects the backend that started process `pid` to this instance; `requestLeave` closes
   * the instance's stdin (the request to leave).
   */
  constructor(
    pid: number,
    opts: StartOptions,
    wire: (sink: InstanceSink) => void,
    private readonly requestLeave: () => void = () => {},
  ) {
    this.tag = opts.tag
    this.pid = pid
    this.token = opts.token ?? ''
    this.startedAt = new Date()
    this.tailMax = opts.tailLines ?? 20
    const started = performance.now()
    const emit = (stream: OutputStream) => (line: string) => {
      if (line === LEAVE_MARKER) {
        this.listens = true
        return
      }
      this.tailBuf.push(line)
      if (this.tailBuf.length > this.tailMax) this.tailBuf.shift()
      opts.onLine?.(line, stream, this)
    }
    const lines = { stdout: new LineSplitter(emit('stdout')), stderr: new LineSplitter(emit('stderr')) }
    let resolveExit!: (exit: ExitInfo) => void
    this.exited = new Promise((resolve) => {
      resolveExit = resolve
    })
    wire({
      output: (stream, chunk) => lines[stream].push(chunk),
      end: (stream) => lines[stream].end(),
      exit: (code, signal, lost) => {
        if (this.exitInfo) return
        clearTimeout(this.killTimer)
        clearTimeout(this.termTimer)
        // The leader is gone; take down anything it left behind in its group.
        if (signalGroup(this.pid, 'SIGTERM')) {
          setTimeout(() => signalGroup(this.pid, 'SIGKILL'), 1000).unref()
        }
        this.exitInfo = { code, signal, lifetimeMs: performance.now() - started, stopped: this.stopRequested }
        if (lost) this.exitInfo.lost = lost
        resolveExit(this.exitInfo)
      },
    })
  }

  get running(): boolean {
    return this.exitInfo === undefined
  }

  /** The last lines the instance printed (stdout and stderr interleaved). */
  tail(): string[] {
    return [...this.tailBuf]
  }

  /** Whether it said it leaves when its stdin closes (see LEAVE_MARKER). */
  get listensForLeave(): boolean {
    return this.listens
  }

  /**
   * Asks the instance to leave (closes its stdin), then — after `leaveMs` if it said it listens
   * (LEAVE_MARKER), at once otherwise — SIGTERM to the whole process group, then after `graceMs`
   * SIGKILL; resolves when the leader has exited.
   */
  stop(graceMs = 5000, leaveMs = DEFAULT_LEAVE_MS): Promise<ExitInfo> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo)
    if (!this.stopRequested) {
      this.stopRequested = true
      this.requestLeave()
      const term = () => {
        signalGroup(this.pid, 'SIGTERM')
        this.killTimer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs)
        this.killTimer.unref()
      }
      if (leaveMs > 0 && this.listens) {
        this.termTimer = setTimeout(term, leaveMs)
        this.termTimer.unref()
      } else term()
    }
    return this.exited
  }

  /** SIGKILL to the whole group at once. */
  kill(): Promise<ExitInfo> {
    this.stopRequested = true
    clearTimeout(this.termTimer)
    signalGroup(this.pid, 'SIGKILL')
    return this.exited
  }
}

/**
 * The full environment of an instance: base, the spec's additions, then the launch's own variables
 * (`parentPid`: the process that spawns it).
 */
function instanceEnv(opts: StartOptions, parentPid: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...(opts.baseEnv ?? withoutAssistVariables(process.env)),
    ...opts.spec.env,
  }
  if (opts.bootArgs !== undefined) env.ALLO_APP_BOOT_ARGS = opts.bootArgs
  if (opts.identity !== undefined) env.ALLO_APP_BOOTED_BY_IDENTITY = opts.identity
  env[INSTANCE_ENV.leave] = 'stdin'
  env[INSTANCE_ENV.instance] = opts.token
  env[INSTANCE_ENV.parentPid] = String(parentPid)
  return env
}

/**
 * Starts one app instance; resolves once the process exists, rejects with LaunchError if it could
 * not start. With `opts.spawner` the resident spawner starts it (the gateway), otherwise this process
 * spawns it itself.
 */
export function startInstance(opts: StartOptions): Promise<Instance> {
  const withToken = { ...opts, token: opts.token ?? randomBytes(8).toString('hex') }
  if (opts.spawner) return opts.spawner.startInstance(withToken)
  return spawnInstance(withToken)
}

/** How long to wait, after the leader exited, for the rest of its output before reporting the exit. */
const OUTPUT_DRAIN_MS = 500

/** startInstance through node's own spawn (fork + exec of this process). */
function spawnInstance(opts: StartOptions): Promise<Instance> {
  const { spec } = opts
  const env = instanceEnv(opts, process.pid)
  return new Promise((resolve, reject) => {
    let child: ChildProcess
    try {
      child = spawn(spec.argv[0], spec.argv.slice(1), {
        cwd: spec.cwd,
        env,
        detached: true, // own process group, so stop() reaches the whole tree
        // stdin: a pipe nobody writes to; closing it asks the app to leave
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    } catch (err) {
      reject(new LaunchError(`could not start ${spec.argv[0]}: ${(err as Error).message}`))
      return
    }
    child.once('error', (err) => reject(new LaunchError(`could not start ${spec.argv[0]}: ${err.message}`)))
    child.stdin?.on('error', () => {}) // EPIPE/ECONNRESET once it has gone: seen through 'exit'
    child.once('spawn', () =>
      resolve(
        new Instance(
          child.pid as number,
          opts,
          (sink) => {
            const open = new Set<OutputStream>(['stdout', 'stderr'])
            let exited: (() => void) | undefined
            for (const stream of ['stdout', 'stderr'] as const) {
              child[stream]?.on('data', (chunk: Buffer) => sink.output(stream, chunk))
              child[stream]?.on('end', () => {
                sink.end(stream)
                open.delete(stream)
                if (open.size === 0) exited?.()
              })
            }
            // Its last lines come before its exit (unless something it left behind keeps the pipes open).
            child.once('exit', (code, signal) => {
              let done = false
              exited = () => {
                if (done) return
                done = true
                clearTimeout(timer)
                sink.exit(code, signal)
              }
              const timer = setTimeout(exited, OUTPUT_DRAIN_MS)
              if (open.size === 0) exited()
            })
          },
          () => child.stdin?.destroy(),
        ),
      ),
    )
  })
}

/** Where the spawner script lives: beside this module (src/ under tsx, dist/ once built). */
export const SPAWNER_SCRIPT = fileURLToPath(new URL('./spawner/spawner.lua', import.meta.url))

/** Signal number → name, as node names them (the first of aliases: SIGABRT, not SIGIOT). */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>()
for (const [name, n] of Object.entries(osConstants.signals)) {
  if (!SIGNAL_NAMES.has(n)) SIGNAL_NAMES.set(n, name as NodeJS.Signals)
}
const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]))

/** How long launches spawn directly after a new spawner failed to start. */
const RESPAWN_RETRY_MS = 30_000

export interface SpawnerOptions {
  /** The LuaJIT binary that runs the spawner. */
  luajit: string
  /** Lines worth an operator's attention: the spawner died, was restarted, or is unavailable. */
  onNotice?: (line: string) => void
  /** Ms to wait for a new spawner to say it is ready. Default 10 000. */
  readyTimeoutMs?: number
}

interface SpawnerProcess {
  child: ChildProcess
  pid: number
  /** Recent stderr of the spawner, for diagnostics. */
  stderr: string
  exited: Promise<void>
}

interface Pending {
  opts: StartOptions
  resolve: (i: Instance) => void
  reject: (e: Error) => void
}

interface Live {
  instance: Instance
  sink: InstanceSink
  exited: boolean
  open: Set<OutputStream>
  startedBy: SpawnerProcess
}

/**
 * A resident spawner: one small LuaJIT process (spawner.lua) that starts instances with posix_spawn
 * on request, so a large Node process (the gateway) never forks itself — node's spawn forks, and a
 * fork's cost grows with the parent's size. The instances are the spawner's children, each in its
 * own process group; the spawner relays their output and exit statuses. `stop()`/`kill()` still
 * signal the group directly from here.
 *
 * If the spawner dies while instances run, nothing can read their output or see them exit any more
 * (and they would die of SIGPIPE at their next line): they are killed (SIGKILL to each group) and
 * reported as exited with `lost` set. The next launch starts a new spawner; if that fails, launches
 * fall back to node's own spawn for 30 s, then a new spawner is tried again.
 */
export class ResidentSpawner {
  private proc?: SpawnerProcess
  private starting?: Promise<SpawnerProcess>
  private nextId = 1
  private readonly pending = new Map<string, Pending>()
  private readonly live = new Map<string, Live>()
  private closed = false
  private fellBack = false
  private corked = false
  /** After a spawner failed to start, launches spawn directly until then (ms since the epoch). */
  private retryAt = 0

  private constructor(private readonly options: SpawnerOptions) {}

  /** Starts the spawner process; rejects with LaunchError if it cannot run here. */
  static async start(options: SpawnerOptions): Promise<ResidentSpawner> {
    const s = new ResidentSpawner(options)
    await s.ensure()
    return s
  }

  /** The pid of the spawner process now running, if any. */
  get pid(): number | undefined {
    return this.proc?.pid
  }

  /** Instances started through this spawner that have not ended yet. */
  get running(): number {
    let n = 0
    for (const l of this.live.values()) if (!l.exited) n++
    return n
  }

  private ensure(): Promise<SpawnerProcess> {
    if (this.proc) return Promise.resolve(this.proc)
    if (!this.starting) {
      this.starting = this.launch().finally(() => {
        this.starting = undefined
      })
    }
    return this.starting
  }

  private launch(): Promise<SpawnerProcess> {
    const { luajit } = this.options
    return new Promise((resolve, reject) => {
      let child: ChildProcess
      try {
        // Its own process group: a terminal's Ctrl-C is for the gateway, which drains and then ends
        // the spawner by closing its stdin.
        child = spawn(luajit, [SPAWNER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
      } catch (err) {
        reject(new LaunchError(`could not start the process spawner (${luajit}): ${(err as Error).message}`))
        return
      }
      const proc: SpawnerProcess = {
        child,
        pid: child.pid ?? 0,
        stderr: '',
        exited: new Promise((done) => child.once('close', () => done())),
      }
      let ready = false // it said hello
      let settled = false // the promise is resolved or rejected
      const fail = (why: string) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        signalGroup(proc.pid, 'SIGKILL')
        reject(new LaunchError(`could not start the process spawner (${luajit} ${SPAWNER_SCRIPT}): ${why}`))
      }
      const timer = setTimeout(() => fail('it did not answer'), this.options.readyTimeoutMs ?? 10_000)
      child.once('error', (err) => fail(err.message))
      child.stderr?.on('data', (d: Buffer) => {
        proc.stderr = (proc.stderr + d.toString('utf8')).slice(-2000)
      })
      child.stdin?.on('error', () => {}) // EPIPE when it died: seen through 'exit'
      const decoder = new FrameDecoder()
      // Frames are handled in order; after a start ('P') the rest wait for the next turn of the event
      // loop, so whoever awaited startInstance has the Instance (and its tag) before its first line,
      // as with node's own spawn.
      const queue: Buffer[][] = []
      let waiting = false
      const deliver = (all = false) => {
        if (waiting && !all) return
        while (queue.length > 0) {
          const f = queue.shift() as Buffer[]
          this.onFrame(proc, f)
          if (!all && f[0]?.[0] === 0x50 /* P */ && queue.length > 0) {
            waiting = true
            setImmediate(() => {
              waiting = false
              deliver()
            })
            return
          }
        }
      }
      child.stdout?.on('data', (chunk: Buffer) => {
        let frames: Buffer[][]
        try {
          frames = decoder.push(chunk)
        } catch (err) {
          signalGroup(proc.pid, 'SIGKILL')
          proc.stderr += `\n${(err as Error).message}`
          return
        }
        for (const f of frames) {
          if (!settled && f[0]?.toString() === 'H') {
            settled = true
            ready = true
            clearTimeout(timer)
            this.proc = proc
            this.updateRef()
            resolve(proc)
          } else if (ready) queue.push(f)
        }
        deliver()
      })
      // 'close': the spawner has exited and everything it wrote has been read.
      child.once('close', (code, signal) => {
        deliver(true)
        const how = describeExit({ code, signal })
        const detail = proc.stderr.trim() ? `: ${proc.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''
        if (!ready) {
          fail(`it ${how}${detail}`)
          return
        }
        this.onSpawnerGone(proc, `${how}${detail}`)
      })
    })
  }

  /** Keeps this process alive while instances run, like node's own child handles do. */
  private updateRef(): void {
    const c = this.proc?.child
    if (!c) return
    const busy = this.pending.size > 0 || this.live.size > 0 || this.closed
    for (const h of [c, c.stdin, c.stdout, c.stderr] as Array<{ ref(): void; unref(): void } | null>) {
      if (busy) h?.ref()
      else h?.unref()
    }
  }

  private onFrame(proc: SpawnerProcess, f: Buffer[]): void {
    const kind = f[0]?.toString()
    const id = f[1]?.toString() ?? ''
    if (kind === 'P') {
      const p = this.pending.get(id)
      if (!p) return
      this.pending.delete(id)
      const pid = Number(f[2]?.toString())
      let sink!: InstanceSink
      const instance = new Instance(
        pid,
        p.opts,
        (s) => {
          sink = s
        },
        () => {
          if (this.proc === proc) proc.child.stdin?.write(encodeFrame(['C', id]))
        },
      )
      this.live.set(id, {
        instance,
        sink,
        exited: false,
        open: new Set(['stdout', 'stderr']),
        startedBy: proc,
      })
      p.resolve(instance)
    } else if (kind === 'F') {
      const p = this.pending.get(id)
      if (!p) return
      this.pending.delete(id)
      const errno = Number(f[2]?.toString())
      const argv0 = p.opts.spec.argv[0]
      // The same words node's spawn uses, so errors read the same either way.
      p.reject(
        new LaunchError(
          `could not start ${argv0}: spawn ${argv0} ${ERRNO_NAMES.get(errno) ?? `errno ${errno}`}`,
        ),
      )
      this.updateRef()
    } else {
      const l = this.live.get(id)
      if (!l) return
      const stream: OutputStream = f[2]?.toString() === '2' ? 'stderr' : 'stdout'
      if (kind === 'O') l.sink.output(stream, f[3] ?? Buffer.alloc(0))
      else if (kind === 'E') {
        l.open.delete(stream)
        l.sink.end(stream)
      } else if (kind === 'X') {
        const code = f[2]?.length ? Number(f[2].toString()) : null
        const signal = f[3]?.length ? (SIGNAL_NAMES.get(Number(f[3].toString())) ?? null) : null
        l.exited = true
        l.sink.exit(code, signal)
      }
      if (l.exited && l.open.size === 0) {
        this.live.delete(id)
        this.updateRef()
      }
    }
  }

  private onSpawnerGone(proc: SpawnerProcess, how: string): void {
    if (this.proc === proc) this.proc = undefined
    const lost: Live[] = []
    for (const [id, l] of this.live) {
      if (l.startedBy !== proc) continue
      this.live.delete(id)
      if (!l.exited) lost.push(l)
      for (const s of l.open) l.sink.end(s)
    }
    // Launches it never answered: they may or may not have started; nothing can supervise them.
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(new LaunchError(`could not start ${p.opts.spec.argv[0]}: the process spawner died (${how})`))
    }
    for (const l of lost) {
      signalGroup(l.instance.pid, 'SIGKILL')
      l.sink.exit(null, 'SIGKILL', 'process spawner lost')
    }
    if (!this.closed) {
      this.options.onNotice?.(
        `the process spawner (pid ${proc.pid}) died (${how}); ` +
          (lost.length
            ? `killed its ${lost.length} running instance(s), which nobody could supervise any more; `
            : '') +
          'a new one starts with the next launch',
      )
    }
  }

  /** Starts one instance through the spawner (or, if no spawner can run any more, directly). */
  async startInstance(opts: StartOptions): Promise<Instance> {
    if (this.closed || (!this.proc && Date.now() < this.retryAt)) return spawnInstance(opts)
    let proc: SpawnerProcess
    try {
      proc = await this.ensure()
    } catch (err) {
      // No spawner for now: spawn directly, and try a new one again in a while.
      this.retryAt = Date.now() + RESPAWN_RETRY_MS
      if (!this.fellBack) {
        this.fellBack = true
        this.options.onNotice?.(
          `${(err as Error).message}; starting instances directly instead (slower under load)`,
        )
      }
      return spawnInstance(opts)
    }
    this.fellBack = false
    const { spec } = opts
    const env = Object.entries(instanceEnv(opts, proc.pid))
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
    const cwd = spec.cwd ?? ''
    if ([...spec.argv, ...env, cwd].some((s) => s.includes('\0')))
      throw new LaunchError(
        `could not start ${spec.argv[0]}: its arguments, environment or folder contain a NUL character`,
      )
    const id = String(this.nextId++)
    const stdin = proc.child.stdin
    // Starts asked for in the same turn of the event loop go to the spawner in one write.
    if (stdin && !this.corked) {
      this.corked = true
      stdin.cork()
      setImmediate(() => {
        this.corked = false
        stdin.uncork()
      })
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { opts, resolve, reject })
      this.updateRef()
      stdin?.write(startFrame(id, spec.argv, env, cwd))
    })
  }

  /**
   * Ends the spawner (closes its stdin) and waits for it to exit. Instances still running then are
   * killed, as if it had died. Launches after close() spawn directly.
   */
  async close(): Promise<void> {
    this.closed = true
    await this.starting?.catch(() => undefined)
    const proc = this.proc
    if (!proc) return
    this.updateRef() // keep this process alive until the spawner has gone
    proc.child.stdin?.end()
    const timer = setTimeout(() => signalGroup(proc.pid, 'SIGKILL'), 5000)
    await proc.exited
    clearTimeout(timer)
  }
}

export interface CommandResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CommandOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Kill the command (whole group) after this many milliseconds. */
  timeoutMs?: number
  /** Called for each output line, e.g. to show progress or write a log. */
  onLine?: (line: string, stream: OutputStream) => void
  /** Text written to the command's standard input. */
  input?: string
  /** Aborting kills the command's whole process group at once (SIGKILL), e.g. on Ctrl-C. */
  signal?: AbortSignal
}

/**
 * Runs a short-lived tool to completion and collects its output. Rejects with LaunchError only
 * when the program cannot be started (e.g. not installed); a non-zero exit is a normal result.
 */
export function runCommand(argv: string[], opts: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout?.on('data', (d: Buffer) => stdout.push(d))
    child.stderr?.on('data', (d: Buffer) => stderr.push(d))
    if (opts.onLine) {
      const cb = opts.onLine
      const out = child.stdout
      const err = child.stderr
      splitLines(out, (l) => cb(l, 'stdout'))
      splitLines(err, (l) => cb(l, 'stderr'))
    }
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.pid && signalGroup(child.pid, 'SIGKILL'), opts.timeoutMs)
    const onAbort = () => child.pid && signalGroup(child.pid, 'SIGKILL')
    if (opts.signal?.aborted) onAbort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    const done = () => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
    }
    child.once('error', (err) => {
      done()
      reject(new LaunchError(`could not run ${argv[0]}: ${err.message}`))
    })
    child.once('close', (code, signal) => {
      done()
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      })
    })
  })
}

/**
 * Opens a URL in the user's default browser (the `open` package: xdg-open, open, start), without
 * waiting for the browser. Loaded lazily: only `--open` needs it. `onFailure` hears why when the
 * opener cannot be started or gives up (xdg-open exits non-zero when it finds no browser).
 */
export async function openInBrowser(url: string, onFailure: (why: string) => void): Promise<void> {
  const { default: open } = await import('open')
  const child = await open(url)
  child.on('error', (err) => onFailure(err.message))
  child.on('exit', (code, signal) => {
    if (code !== 0)
      onFailure(
        signal
          ? `the opener was killed by ${signal}`
          : `no browser found: the opener exited with code ${code}`,
      )
  })
  child.unref()
}
