/** Runs the built CLI (bin/run.js) as a user would. Build first (npm test does). */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/**
 * `generate systemd` refuses an ExecStart= under /tmp. A checkout (or a node) that itself lives
 * there, as a CI clone may, gets the test-only ASSIST_TEST_ALLOW_TMP_EXEC=1 so the generate tests
 * still run; the tests of that refusal turn it off explicitly.
 */
export const EXEC_UNDER_TMP = [CLI, realpathSync(process.execPath)].some((p) =>
  ['/tmp/', '/var/tmp/'].some((prefix) => realpathSync(p).startsWith(prefix)),
)
const TMP_EXEC_ENV: NodeJS.ProcessEnv = EXEC_UNDER_TMP ? { ASSIST_TEST_ALLOW_TMP_EXEC: '1' } : {}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  input?: string
  timeoutMs?: number
  /** Another copy of bin/run.js to run (default this checkout's). */
  cli?: string
}

/** Runs `assist <args>` to completion. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.cli ?? CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', ...TMP_EXEC_ENV, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.stdin.end(opts.input ?? '')
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

const live = new Set<CliProcess>()

/**
 * Stops every CliProcess still running (use in an `after` hook so a failed test never hangs the run):
 * SIGTERM first, so assist takes its app tree down, then SIGKILL if it has not exited in 5 s.
 */
export async function killAllCli(): Promise<void> {
  await Promise.all(
    [...live].map(async (p) => {
      p.child.kill('SIGTERM')
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000)
      await p.exited
      clearTimeout(timer)
    }),
  )
}

/** A long-running `assist` process with helpers to wait for output. */
export class CliProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  private waiters: Array<() => void> = []
  /** Settles when the output pipes close (everything holding them has exited). */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Settles when the assist process itself has exited. */
  readonly exited: Promise<void>

  constructor(args: string[], opts: CliOptions = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', ...TMP_EXEC_ENV, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const notify = () => {
      for (const w of this.waiters) w()
    }
    this.child.stdout?.on('data', (d) => {
      this.stdout += d
      notify()
    })
    this.child.stderr?.on('data', (d) => {
      this.stderr += d
      notify()
    })
    live.add(this)
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()))
    this.closed = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        live.delete(this)
        resolve({ code, signal })
      }),
    )
  }

  get output(): string {
    return this.stdout + this.stderr
  }

  /** Waits until `test` matches the combined output (or throws after timeoutMs, showing the output). */
  async waitFor(test: RegExp | ((out: string) => boolean), timeoutMs = 15_000): Promise<void> {
    const ok = () => (typeof test === 'function' ? test(this.output) : test.test(this.output))
    if (ok()) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check)
        reject(new Error(`timed out waiting for ${test}; output so far:\n${this.output}`))
      }, timeoutMs)
      const check = () => {
        if (ok()) {
          clearTimeout(timer)
          this.waiters = this.waiters.filter((w) => w !== check)
          resolve()
        }
      }
      this.waiters.push(check)
    })
  }

  /** Count of regex matches in the combined output. */
  count(re: RegExp): number {
    return (this.output.match(new RegExp(re.source, `${re.flags.replace('g', '')}g`)) ?? []).length
  }

  write(text: string): void {
    this.child.stdin?.write(text)
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig)
  }
}

/** True if a process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    // A zombie still answers kill(0); read its state from /proc.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.split(') ')[1]?.[0] !== 'Z'
  } catch {
    return false
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
