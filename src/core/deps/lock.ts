/** The allonet lock (`allo/allonet.lock`, the version the app wants) and cache (`allo/lib/allonet.cache`, the version installed). */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'

export const LOCK_FILE = join('allo', 'allonet.lock')
export const CACHE_FILE = join('allo', 'lib', 'allonet.cache')
export const LIB_DIR = join('allo', 'lib')
/** The version new apps lock (templates/_shared/allo/allonet.lock); `fetch --build` is known to build it. */
export const DEFAULT_ALLONET_VERSION = '4.0.79.g30c6901'

/** An allonet version: `MAJOR.MINOR.PATCH.g<commit hex>`, e.g. `4.0.54.g53838b4`. */
export const VERSION_RE = /^\d+\.\d+\.\d+\.g[0-9a-f]+$/

export function isVersion(s: string): boolean {
  return VERSION_RE.test(s)
}

/** The git commit named by a version's `g<hex>` part. */
export function commitOfVersion(version: string): string {
  if (!isVersion(version))
    throw new UserError(
      `"${version}" is not an allonet version: expected MAJOR.MINOR.PATCH.g<commit>, e.g. 4.0.54.g53838b4.`,
    )
  return version.slice(version.lastIndexOf('.g') + 2)
}

function readTrimmed(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim()
    return text === '' ? undefined : text
  } catch {
    return undefined
  }
}

/** Writes `text` to `path` through a temp file and a rename, so readers never see half a file. */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, text)
    renameSync(tmp, path)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
}

export function readLock(root: string): string | undefined {
  return readTrimmed(join(root, LOCK_FILE))
}

/** The locked version, or a UserError saying how to pick one. Validates the format. */
export function requireLock(root: string): string {
  const v = readLock(root)
  if (!v)
    throw new UserError(
      `No allonet version is locked (${LOCK_FILE} is missing or empty): run \`assist upgrade\` to lock the newest ` +
        'build, or `assist upgrade VERSION` to pick one.',
      EXIT.missingDependency,
    )
  if (!isVersion(v))
    throw new UserError(
      `${LOCK_FILE} holds "${v}", which is not an allonet version (expected e.g. 4.0.54.g53838b4): ` +
        'fix the file or run `assist upgrade`.',
    )
  return v
}

export function writeLock(root: string, version: string): void {
  writeFileAtomic(join(root, LOCK_FILE), `${version}\n`)
}

/** The installed version: the cache file's first line (later lines, `# …`, say what it was built from). */
export function readCache(root: string): string | undefined {
  return readTrimmed(join(root, CACHE_FILE))?.split('\n')[0].trim() || undefined
}

/** Records the installed version; `notes` become `# …` lines after it (e.g. the commits a build used). */
export function writeCache(root: string, version: string | undefined, notes: string[] = []): void {
  const path = join(root, CACHE_FILE)
  if (version === undefined) rmSync(path, { force: true })
  else writeFileAtomic(path, [version, ...notes.map((n) => `# ${n}`)].map((l) => `${l}\n`).join(''))
}
