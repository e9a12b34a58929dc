/**
 * The shared launcher core: the one module that starts processes.
 *
 * `startInstance` starts an app instance in its own process group, tags its output lines,
 * stops it with SIGTERM to the whole group then SIGKILL after a grace period, and reports how
 * it ended. `runCommand` runs a short-lived tool (git, cmake, luajit -v …) to completion.
 * run, serve and the development place all go through here.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import type { Readable } from 'node:stream'
import type { LaunchSpec } from './runtimes/types.js'

export type OutputStream = 'stdout' | 'stderr'

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  /** Milliseconds from start to exit. */
  lifetimeMs: number
  /** True when the instance ended because `stop()` was called. */
  stopped: boolean
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
  /** Base environment (defaults to process.env). */
  baseEnv?: NodeJS.ProcessEnv
}

/** Human description of how a process ended: "exited with code 1", "killed by SIGTERM". */
export function describeExit(exit: Pick<ExitInfo, 'code' | 'signal'>): string {
  if (exit.signal) return `killed by ${exit.signal}`
  return `exited with code ${exit.code}`
}

/** The status a parent should exit with to mirror this exit (128 + signal number for signals). */
export function exitStatusOf(exit: Pick<ExitInfo, 'code' | 'signal'>): number {
  if (exit.code !== null) return exit.code
  const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }
  return 128 + (exit.signal ? (SIGNALS[exit.signal] ?? 1) : 1)
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
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
  let pending = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n')
    pending = parts.pop() ?? ''
    for (const line of parts) onLine(line.endsWith('\r') ? line.slice(0, -1) : line)
  })
  stream.on('end', () => {
    if (pending) onLine(pending)
    pending = ''
  })
}

export class LaunchError extends Error {}

export class Instance {
  readonly tag: string
  readonly pid: number
  readonly startedAt: Date
  readonly exited: Promise<ExitInfo>
  private readonly tailBuf: string[] = []
  private readonly tailMax: number
  private exitInfo?: ExitInfo
  private stopRequested = false
  private killTimer?: NodeJS.Timeout

  constructor(child: ChildProcess, opts: StartOptions) {
    this.tag = opts.tag
    this.pid = child.pid as number
    this.startedAt = new Date()
    this.tailMax = opts.tailLines ?? 20
    const started = performance.now()
    const emit = (stream: OutputStream) => (line: string) => {
      this.tailBuf.push(line)
      if (this.tailBuf.length > this.tailMax) this.tailBuf.shift()
      opts.onLine?.(line, stream, this)
    }
    splitLines(child.stdout, emit('stdout'))
    splitLines(child.stderr, emit('stderr'))
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        clearTimeout(this.killTimer)
        // The leader is gone; take down anything it left behind in its group.
        if (signalGroup(this.pid, 'SIGTERM')) {
          setTimeout(() => signalGroup(this.pid, 'SIGKILL'), 1000).unref()
        }
        this.exitInfo = { code, signal, lifetimeMs: performance.now() - started, stopped: this.stopRequested }
        resolve(this.exitInfo)
      })
    })
  }

  get running(): boolean {
    return this.exitInfo === undefined
  }

  /** The last lines the instance printed (stdout and stderr interleaved). */
  tail(): string[] {
    return [...this.tailBuf]
  }

  /** SIGTERM to the whole process group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  stop(graceMs = 5000): Promise<ExitInfo> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo)
    if (!this.stopRequested) {
      this.stopRequested = true
      signalGroup(this.pid, 'SIGTERM')
      this.killTimer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs)
      this.killTimer.unref()
    }
    return this.exited
  }

  /** SIGKILL to the whole group at once. */
  kill(): Promise<ExitInfo> {
    this.stopRequested = true
    signalGroup(this.pid, 'SIGKILL')
    return this.exited
  }
}

/** Starts one app instance; resolves once the process exists, rejects with LaunchError if it could not start. */
export function startInstance(opts: StartOptions): Promise<Instance> {
  const { spec } = opts
  const env: NodeJS.ProcessEnv = { ...(opts.baseEnv ?? process.env), ...spec.env }
  if (opts.bootArgs !== undefined) env.ALLO_APP_BOOT_ARGS = opts.bootArgs
  if (opts.identity !== undefined) env.ALLO_APP_BOOTED_BY_IDENTITY = opts.identity
  return new Promise((resolve, reject) => {
    let child: ChildProcess
    try {
      child = spawn(spec.argv[0], spec.argv.slice(1), {
        cwd: spec.cwd,
        env,
        detached: true, // own process group, so stop() reaches the whole tree
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    } catch (err) {
      reject(new LaunchError(`could not start ${spec.argv[0]}: ${(err as Error).message}`))
      return
    }
    child.once('error', (err) => reject(new LaunchError(`could not start ${spec.argv[0]}: ${err.message}`)))
    child.once('spawn', () => resolve(new Instance(child, opts)))
  })
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
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d
    })
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d
    })
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
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/**
 * Opens a URL in the user's default browser (the `open` package: xdg-open, open, start), without
 * waiting for the browser. Loaded lazily: only `--open` needs it.
 */
export async function openInBrowser(url: string): Promise<void> {
  const { default: open } = await import('open')
  const child = await open(url)
  child.on('error', () => {})
  child.unref()
}
