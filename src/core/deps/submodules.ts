/**
 * allonet's git submodules for `assist fetch --build`, as upstream is today: a pinned submodule
 * commit may be gone from its public repository (allonet 4.0.79.g30c6901 pins lib/cJSON 19dfb5b,
 * which alloverse/cJSON no longer contains). Each top-level submodule is checked out on its own;
 * when its pin cannot be fetched, a known-good commit kept here for that allonet commit is used, or
 * failing that the submodule's branch that carries allonet's changes. One warning line says so, and
 * the record of what was built (allonet + every submodule commit) notes the departure.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { UserError } from '../errors.js'
import { type CommandResult, runCommand } from '../launcher.js'
import { interrupted } from './interrupt.js'

/**
 * Submodule commits known to build and run real apps, per allonet commit (full hash), where the pin
 * is gone upstream. cJSON b938974 is the head of alloverse/cJSON's `alloverse` branch: the same
 * merge-patch API allonet uses, on cJSON 1.7.14.
 */
export type KnownGood = Record<string, Record<string, { commit: string; note: string }>>
export const KNOWN_GOOD: KnownGood = {
  '30c6901d49d9a565508929ef000120fab2425092': {
    'lib/cJSON': {
      commit: 'b9389742f26cee5a6faf996b0f4fb8038f92c44b',
      note: "the alloverse branch's head, with the same merge-patch API",
    },
  },
}

/**
 * Per submodule path: the branch holding allonet's changes, used when neither the pin nor a
 * known-good commit can be had (a .gitmodules `branch =` line takes precedence).
 */
export const FALLBACK_BRANCH: Record<string, string> = {
  'lib/cJSON': 'alloverse',
}

/** What was built, saved as source.json beside the cached library. */
export interface SourceRecord {
  allonet: string
  submodules: Array<{
    path: string
    commit: string
    /** Set when `commit` is not what allonet pins. */
    pinned?: string
  }>
}

export const SOURCE_RECORD = 'source.json'

export function readSourceRecord(cacheDir: string): SourceRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(cacheDir, SOURCE_RECORD), 'utf8')) as SourceRecord
    return typeof r.allonet === 'string' && Array.isArray(r.submodules) ? r : undefined
  } catch {
    return undefined
  }
}

/** One line per item: "allonet 30c6901d49…", "lib/cJSON b938974… (pinned 19dfb5b…, not fetchable)". */
export function formatSource(r: SourceRecord): string[] {
  return [
    `allonet ${r.allonet}`,
    ...r.submodules.map(
      (s) =>
        `${s.path} ${s.commit}${s.pinned ? ` (instead of the pinned ${s.pinned}, which is not fetchable)` : ''}`,
    ),
  ]
}

/** The gitlinks (submodule pins) at HEAD: path → commit, nested ones under their parent's path. */
async function pins(dir: string, env: NodeJS.ProcessEnv, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const r = await runCommand(['git', 'ls-files', '--stage'], { cwd: dir, env, signal: interrupted })
  for (const line of r.stdout.split('\n')) {
    const m = /^160000 ([0-9a-f]{40}) \d\t(.+)$/.exec(line)
    if (m) out.set(`${prefix}${m[2]}`, m[1])
  }
  return out
}

/** allonet's commit and every (recursive) submodule's, noting those that differ from their pin. */
export async function describeSource(src: string, env: NodeJS.ProcessEnv): Promise<SourceRecord> {
  const head = await runCommand(['git', 'rev-parse', 'HEAD'], { cwd: src, env, signal: interrupted })
  const status = await runCommand(['git', 'submodule', 'status', '--recursive'], {
    cwd: src,
    env,
    signal: interrupted,
  })
  const pinned = await pins(src, env)
  const submodules: SourceRecord['submodules'] = []
  for (const line of status.stdout.split('\n')) {
    const m = /^[ +U-]?([0-9a-f]{40}) (\S+)/.exec(line)
    if (!m) continue
    const [, commit, path] = m
    const pin = pinned.get(path)
    submodules.push({ path, commit, ...(pin && pin !== commit ? { pinned: pin } : {}) })
  }
  return { allonet: head.stdout.trim(), submodules }
}

export interface SubmoduleContext {
  /** `-c protocol.file.allow=always` for local sources. */
  gitCfg: string[]
  env: NodeJS.ProcessEnv
  /** allonet's commit as the version names it (may be abbreviated). */
  allonetCommit: string
  version: string
  knownGood: KnownGood
  /** Runs a logged command and throws the build's UserError when it fails. */
  run: (what: string, argv: string[], cwd?: string) => Promise<CommandResult>
  warn: (line: string) => void
}

const short = (c: string) => c.slice(0, 7)

async function quiet(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return runCommand(argv, { cwd, env, signal: interrupted })
}

/** Whether `commit` is in the clone at `dir`, fetching it from origin by hash if needed. */
async function haveCommit(dir: string, commit: string, cx: SubmoduleContext): Promise<boolean> {
  const has = () => quiet(['git', 'cat-file', '-e', `${commit}^{commit}`], dir, cx.env)
  if ((await has()).code === 0) return true
  await quiet(['git', ...cx.gitCfg, 'fetch', '--quiet', 'origin', commit], dir, cx.env)
  return (await has()).code === 0
}

/** The .gitmodules `branch =` of the submodule at `path`, if any. */
async function gitmodulesBranch(
  src: string,
  path: string,
  cx: SubmoduleContext,
): Promise<string | undefined> {
  const r = await quiet(
    ['git', 'config', '-f', '.gitmodules', '--get-regexp', '^submodule\\..*\\.(path|branch)$'],
    src,
    cx.env,
  )
  const byName = new Map<string, { path?: string; branch?: string }>()
  for (const line of r.stdout.split('\n')) {
    const m = /^submodule\.(.+)\.(path|branch) (.+)$/.exec(line)
    if (!m) continue
    const e = byName.get(m[1]) ?? {}
    e[m[2] as 'path' | 'branch'] = m[3]
    byName.set(m[1], e)
  }
  for (const e of byName.values()) if (e.path === path && e.branch && e.branch !== '.') return e.branch
  return undefined
}

/** The commit to use instead of a pin that cannot be fetched, and why; undefined when there is none. */
async function fallbackFor(
  src: string,
  path: string,
  sub: string,
  cx: SubmoduleContext,
): Promise<{ commit: string; why: string } | undefined> {
  for (const [allonet, subs] of Object.entries(cx.knownGood)) {
    if (!allonet.startsWith(cx.allonetCommit)) continue
    const known = subs[path]
    if (known && (await haveCommit(sub, known.commit, cx)))
      return { commit: known.commit, why: `known good for allonet ${cx.version}: ${known.note}` }
  }
  const branch = (await gitmodulesBranch(src, path, cx)) ?? FALLBACK_BRANCH[path]
  if (!branch) return undefined
  const f = await quiet(
    ['git', ...cx.gitCfg, 'fetch', '--quiet', 'origin', `refs/heads/${branch}`],
    sub,
    cx.env,
  )
  if (f.code !== 0) return undefined
  const head = await quiet(['git', 'rev-parse', 'FETCH_HEAD'], sub, cx.env)
  return head.code === 0
    ? { commit: head.stdout.trim(), why: `the head of its ${branch} branch, which carries allonet's changes` }
    : undefined
}

/**
 * `git submodule update --init --recursive`, one top-level submodule at a time, with the fallback
 * for a pin that is gone. Any other failure (network, a fallback that is not there) is the build's
 * usual one-line error.
 */
export async function checkoutSubmodules(src: string, cx: SubmoduleContext): Promise<void> {
  const top = await pins(src, cx.env)
  for (const [path, pin] of top) {
    const r = await quiet(
      ['git', ...cx.gitCfg, 'submodule', 'update', '--init', '--recursive', '--', path],
      src,
      cx.env,
    )
    if (r.code === 0) continue
    const sub = join(src, path)
    const cloned = (await quiet(['git', 'rev-parse', '--git-dir'], sub, cx.env)).code === 0
    // Only a pin that is truly gone falls back; anything else fails as it did (and is logged).
    if (!cloned || (await haveCommit(sub, pin, cx))) {
      await cx.run(`checking out submodule ${path}`, [
        'git',
        '-C',
        src,
        ...cx.gitCfg,
        'submodule',
        'update',
        '--init',
        '--recursive',
        '--',
        path,
      ])
      continue
    }
    const alt = await fallbackFor(src, path, sub, cx)
    if (!alt)
      throw new UserError(
        `allonet ${cx.version} pins ${path} at ${short(pin)}, which its repository no longer has, and no known-good ` +
          'replacement was found. Build from a clone that has it: --allonet-url PATH.',
      )
    cx.warn(
      `${path}: the pinned commit ${short(pin)} is gone from its repository; building with ${short(alt.commit)} instead (${alt.why}).`,
    )
    await cx.run(`checking out ${path} at ${short(alt.commit)}`, [
      'git',
      '-C',
      sub,
      'checkout',
      '--quiet',
      '--detach',
      alt.commit,
    ])
    await cx.run(`checking out the submodules of ${path}`, [
      'git',
      '-C',
      sub,
      ...cx.gitCfg,
      'submodule',
      'update',
      '--init',
      '--recursive',
    ])
  }
}
