/**
 * Which app a request launches. In apps-root mode the app is a direct child folder of the root,
 * discovered at request time, that really lives inside the root (symlinks leading out are refused),
 * and so must every file of it the gateway reads or runs (`checkInsideRoot`).
 */
import { existsSync, readdirSync, realpathSync } from 'node:fs'
import { isAbsolute, join, relative, sep } from 'node:path'
import { readJsonFile } from '../fsutil.js'
import { type AppInfo, isAppDir } from '../project.js'
import { HttpError, isAppName } from './validate.js'

export interface AppEntry {
  name: string
  /** Real path of the app folder. */
  dir: string
}

function realRoot(root: string): string {
  try {
    return realpathSync(root)
  } catch {
    throw new HttpError(503, 'The apps folder of this gateway is missing; tell its operator.')
  }
}

/** True when `real` is inside `root` (both real paths). */
function inside(root: string, real: string): boolean {
  return real.startsWith(root.endsWith(sep) ? root : root + sep)
}

/** The app called `name` (already a checked folder name) under `root`, or a 404. */
export function resolveApp(root: string, name: string): AppEntry {
  const base = realRoot(root)
  let real: string
  try {
    real = realpathSync(join(base, name))
  } catch {
    throw new HttpError(404, `There is no app called "${name}" here.`)
  }
  if (!inside(base, real))
    throw new HttpError(
      404,
      `There is no app called "${name}" here.`,
      {},
      `${join(base, name)} is a symlink leading outside the apps root (to ${real}); refused`,
    )
  if (!isAppDir(real)) throw new HttpError(404, `There is no app called "${name}" here.`)
  return { name, dir: real }
}

/**
 * Refuses (502, with the reason for the log) when one of `paths` — files of the app at `dir` that the
 * gateway reads or runs — resolves, through symlinks, to somewhere outside the apps root. Paths that
 * do not exist are skipped (whoever needs them reports that), and so are paths outside the app folder
 * itself (the operator's system: /usr/bin/luajit).
 */
export function checkInsideRoot(root: string, app: AppEntry, paths: Array<string | undefined>): void {
  for (const path of paths) {
    if (path === undefined) continue
    const abs = isAbsolute(path) ? path : join(app.dir, path)
    if (!inside(app.dir, abs) || !existsSync(abs)) continue
    let real: string
    try {
      real = realpathSync(abs)
    } catch {
      continue
    }
    if (!inside(root, real))
      throw new HttpError(
        502,
        `The app "${app.name}" could not be started: its setup is broken.`,
        {},
        `${relative(app.dir, abs)} in ${app.dir} leads outside the apps root (to ${real}); refused`,
      )
  }
}

export interface AppListing {
  name: string
  /** The request path that launches it. */
  path: string
  /** Its info.json (display_name, author, …); {} when absent or malformed. */
  info: AppInfo
}

/** An app's info.json; with `root`, only when it really lives inside that root. */
export function readInfo(dir: string, root?: string): AppInfo {
  try {
    const path = join(dir, 'info.json')
    if (root !== undefined && !inside(root, realpathSync(path))) return {}
    const raw = readJsonFile(path)
    return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as AppInfo) : {}
  } catch {
    return {}
  }
}

/** Every app directly under `root`, sorted by name (dotfiles and symlinks leading out skipped). */
export function listApps(root: string): AppListing[] {
  const base = realRoot(root)
  const apps: AppListing[] = []
  for (const name of readdirSync(base).sort()) {
    if (!isAppName(name)) continue
    try {
      const { dir } = resolveApp(base, name)
      apps.push({ name, path: `/${encodeURIComponent(name)}`, info: readInfo(dir, base) })
    } catch {
      // not an app
    }
  }
  return apps
}
