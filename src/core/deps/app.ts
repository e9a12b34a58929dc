/** What `assist fetch` and `assist upgrade` do for one app, start to finish; commands only parse flags and print. */
import { join, relative } from 'node:path'
import { UserError } from '../errors.js'
import { type AppProject, findProject } from '../project.js'
import { ensureAlloui } from './alloui.js'
import { buildFromSource } from './build.js'
import { fetchLocked, upgrade } from './fetch.js'
import { type LockEvents, withLock } from './fetch-lock.js'
import { installFromFile, type PlatformInfo, requirePlatform } from './install.js'
import { isVersion, LIB_DIR, readLock, requireLock, writeCache } from './lock.js'
import { type Progress, terminalProgress } from './progress.js'
import { formatSource } from './submodules.js'

export interface AppDepsOptions {
  cwd: string
  env?: NodeJS.ProcessEnv
  /** One human line per event. */
  say: (line: string) => void
  warn?: (line: string) => void
  /** Progress display factory (default: a bar on stderr when it is a TTY). */
  progress?: (label: string, unit: 'bytes' | '%') => Promise<Progress>
}

/** The per-app lock: one fetch/upgrade at a time writes allo/lib (and checks out alloui). */
export function appLockDir(root: string): string {
  return join(root, LIB_DIR, '.assist-fetch.lock')
}

/** Lock messages go to `warn` (stderr), one line each. */
function lockEvents(warn: (line: string) => void): LockEvents {
  return { onWait: warn, onTakeover: warn, onCompromised: warn }
}

/** Where a download's bytes came from: the URL, and the one asked for when a redirect led elsewhere. */
function source(d: { url: string; from: string } | undefined): string {
  if (!d) return ''
  return d.from === d.url ? d.from : `${d.from} (redirected from ${d.url})`
}

/** The download limits and checksum opt-out both commands share. */
export interface DownloadLimits {
  maxBytes?: number
  deadlineMs?: number
  allowNoChecksum?: boolean
}

export interface FetchAppOptions extends AppDepsOptions, DownloadLimits {
  baseUrl?: string
  timeoutMs: number
  force?: boolean
  from?: string
  version?: string
  build?: boolean
  allonetUrl?: string
  target?: string
}

export async function fetchApp(opts: FetchAppOptions): Promise<void> {
  const env = opts.env ?? process.env
  const warn = opts.warn ?? opts.say
  const progress = opts.progress ?? ((l, u) => terminalProgress(l, u))
  const project = findProject(opts.cwd)
  const p = requirePlatform()
  if (opts.version !== undefined && !opts.from)
    throw new UserError('--version only applies with --from FILE (it records the version of that file).')
  if (opts.version !== undefined && !isVersion(opts.version))
    throw new UserError(
      `--version "${opts.version}" is not an allonet version: expected e.g. 4.0.54.g53838b4.`,
    )
  // Two fetches of one app at once would race on allo/lib: the second waits, then finds the work done.
  await withLock(appLockDir(project.root), { what: 'assist fetch', where: LIB_DIR }, lockEvents(warn), () =>
    fetchHoldingLock(opts, project, p, env, warn, progress),
  )
}

async function fetchHoldingLock(
  opts: FetchAppOptions,
  project: AppProject,
  p: PlatformInfo,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
  progress: NonNullable<AppDepsOptions['progress']>,
): Promise<void> {
  const rel = (path: string) => relative(project.root, path)
  if (project.kind === 'lua') {
    const ui = await ensureAlloui(project.root, env)
    if (ui === 'checked-out') opts.say('alloui: checked out allo/deps/alloui')
    else if (ui === 'not-recorded')
      warn(
        'alloui is missing (allo/deps/alloui) and the app does not record it as a git submodule: add it with ' +
          'git submodule add https://github.com/alloverse/alloui-lua allo/deps/alloui',
      )
  }

  if (opts.from) {
    const target = installFromFile(project.root, opts.from, p)
    writeCache(project.root, opts.version)
    const lock = readLock(project.root)
    opts.say(
      `Installed ${opts.from} → ${rel(target)}${opts.version ? ` (recorded as allonet ${opts.version})` : ' (version not recorded: pass --version V to record it)'}`,
    )
    if (opts.version && lock && lock !== opts.version)
      warn(
        `allo/allonet.lock wants ${lock}: a later \`assist fetch\` replaces this library unless you lock ${opts.version} too.`,
      )
    return
  }

  if (opts.build) {
    const version = requireLock(project.root)
    const bar = await progress('building', '%')
    const out = await buildFromSource(project.root, p, {
      version,
      sourceUrl: opts.allonetUrl,
      target: opts.target,
      env,
      onStep: (m) => {
        bar.stop()
        opts.say(`allonet ${version}: ${m}`)
      },
      onPercent: (pct) => bar.update(pct),
      onWarn: (line) => {
        bar.stop()
        warn(line)
      },
      lockEvents: lockEvents((line) => {
        bar.stop()
        warn(line)
      }),
    }).finally(() => bar.stop())
    writeCache(
      project.root,
      version,
      out.source ? ['built from source:', ...formatSource(out.source)] : ['built from source'],
    )
    opts.say(
      out.cached
        ? `Installed the cached build of allonet ${version} → ${rel(out.target)} (no rebuild needed)`
        : `Built allonet ${version} (commit ${out.commit}) → ${rel(out.target)}; cached in ${out.cacheDir}`,
    )
    return
  }

  const bar = await progress('downloading', 'bytes')
  const out = await fetchLocked(project, p, {
    baseUrl: opts.baseUrl,
    env,
    timeoutMs: opts.timeoutMs,
    force: opts.force,
    progress: bar,
    maxBytes: opts.maxBytes,
    deadlineMs: opts.deadlineMs,
    allowNoChecksum: opts.allowNoChecksum,
  })
  if (out.action === 'up-to-date')
    opts.say(
      `allonet ${out.version} is already installed (${rel(out.target)}); nothing to do. Use --force to reinstall.`,
    )
  else
    opts.say(
      `Installed allonet ${out.version} for ${p.platform} → ${rel(out.target)} ` +
        `(${out.download?.bytes} bytes, ${out.download?.checksum === 'verified' ? 'sha256 verified' : 'NOT verified: no checksum published'}) from ${source(out.download)}`,
    )
}

export interface UpgradeAppOptions extends AppDepsOptions, DownloadLimits {
  spec?: string
  baseUrl?: string
  timeoutMs: number
}

export async function upgradeApp(opts: UpgradeAppOptions): Promise<void> {
  const env = opts.env ?? process.env
  const progress = opts.progress ?? ((l, u) => terminalProgress(l, u))
  const project = findProject(opts.cwd)
  const p = requirePlatform()
  const out = await withLock(
    appLockDir(project.root),
    { what: 'assist upgrade', where: LIB_DIR },
    lockEvents(opts.warn ?? opts.say),
    async () =>
      upgrade(project, p, opts.spec, {
        baseUrl: opts.baseUrl,
        env,
        timeoutMs: opts.timeoutMs,
        maxBytes: opts.maxBytes,
        deadlineMs: opts.deadlineMs,
        allowNoChecksum: opts.allowNoChecksum,
        progress: await progress('downloading', 'bytes'),
        onResolved: (from, to) => opts.say(`allonet ${from ?? '(none)'} → ${to}`),
      }),
  )
  if (out.action === 'up-to-date') opts.say(`Already at ${out.to}; nothing to do.`)
  else
    opts.say(
      `Locked ${out.to} in allo/allonet.lock and installed it → ${relative(project.root, out.target)} ` +
        `(${out.download?.bytes} bytes, ${out.download?.checksum === 'verified' ? 'sha256 verified' : 'NOT verified: no checksum published'}) from ${source(out.download)}`,
    )
}
