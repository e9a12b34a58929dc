/** The alloui checkout (`allo/deps/alloui`, a git submodule): is it there, at the commit the app records? */
import { readdirSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { findExecutable } from '../fsutil.js'
import { runCommand } from '../launcher.js'
import { ALLOUI_DIR } from '../project.js'

export interface AllouiStatus {
  present: boolean
  /** The commit the app's git records for the submodule (undefined: not a recorded submodule / no git). */
  recorded?: string
  /** The commit checked out in allo/deps/alloui (undefined: not a git checkout). */
  checkedOut?: string
}

export const SUBMODULE_UPDATE = `git submodule update --init --recursive ${ALLOUI_DIR}`

function hasEntries(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0
  } catch {
    return false
  }
}

const gitEnv = (env: NodeJS.ProcessEnv = process.env) => ({ ...env, GIT_TERMINAL_PROMPT: '0' })

export async function allouiStatus(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AllouiStatus> {
  const dir = join(root, ALLOUI_DIR)
  const present = hasEntries(dir)
  if (!findExecutable('git', env.PATH)) return { present }
  const staged = await runCommand(['git', 'ls-files', '--stage', '--', ALLOUI_DIR], {
    cwd: root,
    env: gitEnv(env),
    timeoutMs: 15_000,
  }).catch(() => undefined)
  const m = staged?.code === 0 ? /^160000 ([0-9a-f]{40}) /m.exec(staged.stdout) : null
  const recorded = m?.[1]
  let checkedOut: string | undefined
  if (present) {
    const head = await runCommand(['git', 'rev-parse', 'HEAD'], {
      cwd: dir,
      env: gitEnv(env),
      timeoutMs: 15_000,
    }).catch(() => undefined)
    // Only a checkout of its own (a .git file or folder in alloui) counts; otherwise rev-parse finds the app's repo.
    const top = await runCommand(['git', 'rev-parse', '--show-toplevel'], {
      cwd: dir,
      env: gitEnv(env),
      timeoutMs: 15_000,
    }).catch(() => undefined)
    if (head?.code === 0 && top?.code === 0 && samePath(top.stdout.trim(), dir))
      checkedOut = head.stdout.trim()
  }
  return { present, recorded, checkedOut }
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return false
  }
}

export type AllouiAction = 'present' | 'checked-out' | 'not-recorded'

/**
 * Checks alloui out when it is missing and the app's git records it as a submodule. Returns what
 * happened; 'not-recorded' means it is missing and git cannot restore it (the caller warns).
 */
export async function ensureAlloui(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AllouiAction> {
  const status = await allouiStatus(root, env)
  if (status.present) return 'present'
  if (!status.recorded) return 'not-recorded'
  const r = await runCommand(['git', 'submodule', 'update', '--init', '--recursive', ALLOUI_DIR], {
    cwd: root,
    env: gitEnv(env),
    timeoutMs: 10 * 60_000,
  })
  if (r.code !== 0) {
    const why = (r.stderr.trim().split('\n').pop() ?? '').trim()
    throw new UserError(
      `Could not check out alloui (${SUBMODULE_UPDATE} failed${why ? `: ${why}` : ''}). Check your network and the submodule URL in .gitmodules, then run it by hand.`,
      EXIT.network,
    )
  }
  return 'checked-out'
}
