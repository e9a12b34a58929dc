/** `assist fetch` and `assist upgrade` over HTTP: resolve, download, verify, install, record. */
import { rmSync } from 'node:fs'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { isFile } from '../fsutil.js'
import type { AppProject } from '../project.js'
import { latestUrl, libraryUrl, resolveBaseUrl } from './base-url.js'
import { DownloadError, downloadToFile, fetchText, parseSha256File } from './download.js'
import { assertLibrary, commitTemp, libraryTarget, type PlatformInfo, tempBeside } from './install.js'
import { isVersion, LOCK_FILE, readCache, readLock, requireLock, writeCache, writeLock } from './lock.js'
import type { Progress } from './progress.js'

export interface NetOptions {
  /** --base-url */
  baseUrl?: string
  env?: NodeJS.ProcessEnv
  timeoutMs: number
  progress?: Progress
  /** Largest library accepted (--max-size). */
  maxBytes?: number
  /** Overall deadline of each download (--deadline). */
  deadlineMs?: number
  /** Install even when the mirror publishes no `.sha256` (--allow-no-checksum, ALLONET_ALLOW_NO_CHECKSUM=1). */
  allowNoChecksum?: boolean
}

/** Whether the user opted out of the checksum requirement (flag, or ALLONET_ALLOW_NO_CHECKSUM=1). */
export function checksumOptional(flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag) return true
  const v = (env.ALLONET_ALLOW_NO_CHECKSUM ?? '').trim().toLowerCase()
  return v === '1' || v === 'true' || v === 'yes'
}

export interface DownloadedLibrary {
  tmp: string
  url: string
  /** Where the bytes really came from (after redirects). */
  from: string
  bytes: number
  sha256: string
  /** Whether a published `.sha256` was checked. */
  checksum: 'verified' | 'none published'
}

/** Downloads and verifies one version into a temp file beside the target. The caller commits or removes it. */
export async function downloadLibrary(
  base: string,
  version: string,
  p: PlatformInfo,
  target: string,
  opts: NetOptions,
): Promise<DownloadedLibrary> {
  const url = libraryUrl(base, version, p.platform, p.file)
  const tmp = tempBeside(target)
  try {
    let result: Awaited<ReturnType<typeof downloadToFile>>
    try {
      result = await downloadToFile(url, tmp, {
        timeoutMs: opts.timeoutMs,
        maxBytes: opts.maxBytes,
        deadlineMs: opts.deadlineMs,
        onProgress: (n, t) => opts.progress?.update(n, t),
      })
    } finally {
      opts.progress?.stop()
    }
    let checksum: DownloadedLibrary['checksum'] = 'none published'
    let published: string | undefined
    try {
      const text = await fetchText(`${url}.sha256`, {
        timeoutMs: opts.timeoutMs,
        deadlineMs: opts.deadlineMs,
        maxBytes: 4096,
      })
      published = parseSha256File(text)
      if (!published)
        throw new UserError(
          `${url}.sha256 holds no sha256 checksum; the mirror is broken. The installed library was not changed.`,
          EXIT.network,
        )
    } catch (err) {
      if (!(err instanceof DownloadError && err.kind === 'not-found')) throw err
      if (!checksumOptional(opts.allowNoChecksum, opts.env))
        throw new UserError(
          `The mirror publishes no checksum for ${url} (${err.url} answered HTTP ${err.status}), so the download cannot be verified; nothing was installed. ` +
            'Publish <file>.sha256 beside it, build from source with `assist fetch --build`, or accept an unverified library with --allow-no-checksum (or ALLONET_ALLOW_NO_CHECKSUM=1).',
        )
    }
    if (published !== undefined) {
      if (published !== result.sha256)
        throw new UserError(
          `Checksum mismatch for ${url}: the mirror publishes sha256 ${published} but the download has ${result.sha256}. ` +
            'The file is corrupt or was replaced; the installed library was not changed. Try again, or tell whoever runs the mirror.',
          EXIT.network,
        )
      checksum = 'verified'
    }
    assertLibrary(tmp, p, `The download from ${url}`, EXIT.network)
    return { tmp, url, from: result.finalUrl, bytes: result.bytes, sha256: result.sha256, checksum }
  } catch (err) {
    rmSync(tmp, { force: true })
    if (err instanceof DownloadError && err.kind === 'not-found')
      throw new UserError(
        `allonet version ${version} has no build for ${p.platform} at ${err.url} (HTTP ${err.status}). ` +
          `Check the version in ${LOCK_FILE} (\`assist upgrade\` picks the newest) and that the mirror has it, or build it with \`assist fetch --build\`.`,
        EXIT.network,
      )
    throw err
  }
}

export interface FetchOutcome {
  action: 'up-to-date' | 'installed'
  version: string
  target: string
  download?: Omit<DownloadedLibrary, 'tmp'>
}

/** Installs the locked version unless the cache says it is already there (or `force`). */
export async function fetchLocked(
  project: AppProject,
  p: PlatformInfo,
  opts: NetOptions & { force?: boolean },
): Promise<FetchOutcome> {
  const version = requireLock(project.root)
  const target = libraryTarget(project.root, p)
  if (!opts.force && readCache(project.root) === version && isFile(target))
    return { action: 'up-to-date', version, target }
  const base = resolveBaseUrl({
    flag: opts.baseUrl,
    env: opts.env,
    configBaseUrl: project.config.allonet?.baseUrl,
  })
  const dl = await downloadLibrary(base.url, version, p, target, opts)
  try {
    commitTemp(dl.tmp, target)
  } catch (err) {
    rmSync(dl.tmp, { force: true })
    throw err
  }
  writeCache(project.root, version)
  const { tmp: _tmp, ...download } = dl
  return { action: 'installed', version, target, download }
}

export interface LatestInfo {
  version: string
  branch?: string
  platform?: string
  buildid?: unknown
  buildnumber?: unknown
  githash?: string
  changemsg?: string
}

/** Reads `<base>/latest_<branch>_<platform>.json`. */
export async function fetchLatest(
  base: string,
  branch: string,
  p: PlatformInfo,
  opts: NetOptions,
): Promise<LatestInfo> {
  const url = latestUrl(base, branch, p.platform)
  let text: string
  try {
    text = await fetchText(url, { timeoutMs: opts.timeoutMs })
  } catch (err) {
    if (err instanceof DownloadError && err.kind === 'not-found')
      throw new UserError(
        `No latest build is published for branch "${branch}" on ${p.platform} (${url} answered HTTP ${err.status}). ` +
          'Check the branch name, or pin a version: assist upgrade 4.0.54.g53838b4.',
        EXIT.network,
      )
    throw err
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new UserError(
      `${url} is not valid JSON: the mirror is broken. Pin a version instead: assist upgrade VERSION.`,
      EXIT.network,
    )
  }
  const v = (json as { version?: unknown } | null)?.version
  if (typeof v !== 'string' || !isVersion(v))
    throw new UserError(
      `${url} names no valid version (expected {"version": "4.0.54.g53838b4", …}): the mirror is broken. Pin a version instead: assist upgrade VERSION.`,
      EXIT.network,
    )
  return json as LatestInfo
}

export interface UpgradeOutcome {
  from?: string
  to: string
  /** How `to` was chosen. */
  via: { kind: 'version' } | { kind: 'branch'; branch: string; latest: LatestInfo }
  action: 'up-to-date' | 'installed'
  target: string
  download?: Omit<DownloadedLibrary, 'tmp'>
}

/**
 * `assist upgrade [version|branch]`: picks the version, downloads and verifies it, then writes the
 * lock, installs the library and records the cache — the lock only changes once the library is good.
 */
export async function upgrade(
  project: AppProject,
  p: PlatformInfo,
  spec: string | undefined,
  opts: NetOptions & { onResolved?: (from: string | undefined, to: string) => void },
): Promise<UpgradeOutcome> {
  const base = resolveBaseUrl({
    flag: opts.baseUrl,
    env: opts.env,
    configBaseUrl: project.config.allonet?.baseUrl,
  })
  let to: string
  let via: UpgradeOutcome['via']
  if (spec !== undefined && isVersion(spec)) {
    to = spec
    via = { kind: 'version' }
  } else {
    const branch = spec ?? project.config.allonet?.branch ?? 'main'
    if (!/^[A-Za-z0-9._/-]+$/.test(branch))
      throw new UserError(
        `"${branch}" is neither an allonet version (like 4.0.54.g53838b4) nor a branch name. Give one of those.`,
      )
    const latest = await fetchLatest(base.url, branch, p, opts)
    to = latest.version
    via = { kind: 'branch', branch, latest }
  }
  const from = readLock(project.root)
  opts.onResolved?.(from, to)
  const target = libraryTarget(project.root, p)
  if (from === to && readCache(project.root) === to && isFile(target))
    return { from, to, via, action: 'up-to-date', target }
  const dl = await downloadLibrary(base.url, to, p, target, opts)
  try {
    writeLock(project.root, to)
    commitTemp(dl.tmp, target)
  } catch (err) {
    rmSync(dl.tmp, { force: true })
    throw err
  }
  writeCache(project.root, to)
  const { tmp: _tmp, ...download } = dl
  return { from, to, via, action: 'installed', target, download }
}
