/** Runs the built CLI in a real pseudo-terminal (python3's pty support), answering prompts. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CLI } from './cli.js'

const SCRIPT = fileURLToPath(new URL('./pty_run.py', import.meta.url))

export interface PtyResult {
  code: number
  /** What the terminal showed (with escape sequences). */
  output: string
  /** Why the run gave up (a prompt never appeared, timeout), or null. */
  error: string | null
}

/** Keys for answering prompts. */
export const KEY = { enter: '\r', down: '\u001b[B', up: '\u001b[A', ctrlC: '\u0003' }

export function runCliInPty(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; steps: Array<[string, string]>; timeoutS?: number },
): PtyResult {
  const spec = {
    argv: [process.execPath, CLI, ...args],
    cwd: opts.cwd,
    env: { ...process.env, TERM: 'xterm-256color', ...opts.env },
    steps: opts.steps,
    timeout: opts.timeoutS ?? 60,
  }
  const r = spawnSync('python3', [SCRIPT, JSON.stringify(spec)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (r.status !== 0) throw new Error(`pty helper failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as PtyResult
}

/** Terminal output without escape sequences. */
export function plain(output: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping terminal escapes
  return output.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g, '').replace(/\r/g, '')
}
