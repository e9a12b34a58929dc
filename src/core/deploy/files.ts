/**
 * The non-pure edges of `generate`: where the gateway runs from, which node/CLI to point at, who the
 * invoking user is, and writing the result atomically.
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { userInfo } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UserError } from '../errors.js'
import { isDir } from '../fsutil.js'
import { findAppRoot, isAppDir } from '../project.js'

/** Where `--install` writes units. ASSIST_SYSTEMD_DIR overrides it — for tests only. */
export function systemdInstallDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ASSIST_SYSTEMD_DIR || '/etc/systemd/system'
}

/** This package's bin/run.js, absolute with symlinks resolved (npm links bin/ into PATH). */
export function cliEntryPath(): string {
  // src/core/deploy/files.ts and dist/src/core/deploy/files.js: walk up to the folder holding bin/run.js.
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'bin', 'run.js')
    try {
      return realpathSync(candidate)
    } catch {
      dir = dirname(dir)
    }
  }
  throw new Error('cannot find bin/run.js above the deploy module')
}

export function nodeBinaryPath(): string {
  return realpathSync(process.execPath)
}

/** The user who ran the command: SUDO_USER under sudo, else the current user. */
export function invokingUser(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SUDO_USER && env.SUDO_USER !== 'root') return env.SUDO_USER
  return userInfo().username
}

export interface Accounts {
  /** user name → { uid, primary gid } */
  users: Map<string, { uid: string; gid: string }>
  /** group name → gid */
  groups: Map<string, string>
}

/** Parses /etc/passwd and /etc/group text (pure). */
export function parseAccounts(passwd: string, group: string): Accounts {
  const users = new Map<string, { uid: string; gid: string }>()
  for (const line of passwd.split('\n')) {
    const f = line.split(':')
    if (f.length >= 4 && f[0] && !f[0].startsWith('#')) users.set(f[0], { uid: f[2], gid: f[3] })
  }
  const groups = new Map<string, string>()
  for (const line of group.split('\n')) {
    const f = line.split(':')
    if (f.length >= 3 && f[0] && !f[0].startsWith('#')) groups.set(f[0], f[2])
  }
  return { users, groups }
}

/** This machine's local accounts (/etc/passwd, /etc/group); undefined when they cannot be read. */
export function localAccounts(dir = '/etc'): Accounts | undefined {
  try {
    return parseAccounts(readFileSync(join(dir, 'passwd'), 'utf8'), readFileSync(join(dir, 'group'), 'utf8'))
  } catch {
    return undefined
  }
}

export interface ServeRoot {
  dir: string
  appsRoot: boolean
}

/**
 * What the gateway serves: `--apps-root DIR` when given; else the app this folder is in; else this
 * folder when it holds app folders (an apps root). Otherwise a UserError saying what to do.
 */
export function locateServeRoot(cwd: string, appsRootFlag?: string): ServeRoot {
  if (appsRootFlag !== undefined) {
    const dir = resolve(cwd, appsRootFlag)
    if (!isDir(dir))
      throw new UserError(`--apps-root ${dir} is not a folder; give the folder that holds your app folders.`)
    return { dir: realpathSync(dir), appsRoot: true }
  }
  const app = findAppRoot(cwd)
  if (app) return { dir: realpathSync(app), appsRoot: false }
  let entries: string[] = []
  try {
    entries = readdirSync(cwd)
  } catch {}
  if (entries.some((e) => isAppDir(join(cwd, e)))) return { dir: realpathSync(cwd), appsRoot: true }
  throw new UserError(
    `${cwd} is not inside an app and holds no app folders. Run this in your app's folder, or pass --apps-root DIR for a folder of apps.`,
  )
}

/**
 * Writes `text` to a new temp file beside `target` (same folder, so a rename or link is atomic),
 * fsynced, and returns its path. `hint` ends the one-line error when the folder refuses the file;
 * `temps`, when given, gets the path as soon as the file exists, so the caller removes it on failure.
 */
function writeTempBeside(target: string, text: string, hint: string, temps?: string[]): string {
  const dir = dirname(target)
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  let fd: number
  try {
    fd = openSync(tmp, 'wx', 0o644)
  } catch (err) {
    throw new UserError(
      `Cannot write in ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. ${hint}`,
    )
  }
  temps?.push(tmp)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  return tmp
}

/**
 * Writes `text` to `path` atomically: a temp file in the same folder, fsync, then rename (or, without
 * --force, a hard link that fails if the target exists, so two writers can't both win). Refuses to
 * overwrite without `force`. Leaves nothing behind on failure.
 */
export function writeConfigFile(
  path: string,
  text: string,
  opts: { force?: boolean; what?: string } = {},
): string {
  const target = resolve(path)
  const dir = dirname(target)
  if (!isDir(dir))
    throw new UserError(`Cannot write ${target}: the folder ${dir} does not exist. Create it first.`)
  if (isDir(target)) throw new UserError(`Cannot write ${target}: it is a folder. Give a file name.`)
  if (!opts.force && existsSync(target))
    throw new UserError(`${target} already exists; pass --force to replace it.`)
  const tmp = writeTempBeside(target, text, 'Check its permissions (or use sudo).')
  try {
    if (opts.force) {
      renameSync(tmp, target)
    } else {
      try {
        linkSync(tmp, target)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'EEXIST') throw new UserError(`${target} already exists; pass --force to replace it.`)
        // Filesystems without hard links: the existence check above has to do.
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') renameSync(tmp, target)
        else
          throw new UserError(
            `Cannot write ${target}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
          )
      }
    }
  } finally {
    rmSync(tmp, { force: true })
  }
  return target
}

export interface FileToWrite {
  path: string
  text: string
}

/**
 * Writes several files as one: every target is checked first (refused when one exists, unless
 * `force`), each text goes to a temp file beside its target, and only then are they moved into
 * place. If one cannot be moved, the ones already placed are removed again (those that did not exist
 * before), so a failure leaves nothing half-written. Folders named in `mkdirs` (relative to nothing:
 * absolute) are created when missing and removed again on failure.
 */
export function writeConfigFiles(
  files: FileToWrite[],
  opts: { force?: boolean; mkdirs?: string[] } = {},
): string[] {
  const targets = files.map((f) => resolve(f.path))
  const existing = targets.filter((t) => existsSync(t) && !isDir(t))
  for (const t of targets)
    if (isDir(t)) throw new UserError(`Cannot write ${t}: it is a folder. Move it away first.`)
  if (!opts.force && existing.length > 0) {
    const list = existing.join(', ')
    throw new UserError(
      `${list} already ${existing.length === 1 ? 'exists' : 'exist'}; nothing was written. Pass --force to replace ${existing.length === 1 ? 'it' : 'them'}.`,
    )
  }
  const madeDirs: string[] = []
  const placed: string[] = []
  const temps: string[] = []
  try {
    for (const d of opts.mkdirs ?? []) {
      if (isDir(d)) continue
      try {
        mkdirSync(d)
      } catch (err) {
        throw new UserError(
          `Cannot create ${d}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Check the folder's permissions.`,
        )
      }
      madeDirs.push(d)
    }
    for (const [i, f] of files.entries()) {
      const target = targets[i]
      const dir = dirname(target)
      if (!isDir(dir))
        throw new UserError(`Cannot write ${target}: the folder ${dir} does not exist. Create it first.`)
      writeTempBeside(target, f.text, 'Check its permissions.', temps)
    }
    for (const [i, target] of targets.entries()) {
      const existed = existing.includes(target)
      if (opts.force) renameSync(temps[i], target)
      else {
        try {
          linkSync(temps[i], target)
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          if (code === 'EEXIST')
            throw new UserError(`${target} already exists; nothing was written. Pass --force to replace it.`)
          if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') renameSync(temps[i], target)
          else throw new UserError(`Cannot write ${target}: ${code ?? (err as Error).message}.`)
        }
      }
      if (!existed) placed.push(target)
    }
  } catch (err) {
    for (const p of placed) rmSync(p, { force: true })
    for (const d of madeDirs.reverse()) rmSync(d, { recursive: true, force: true })
    throw err
  } finally {
    for (const t of temps) rmSync(t, { force: true })
  }
  return targets
}
