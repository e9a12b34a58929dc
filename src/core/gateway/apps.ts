/**
 * Which app a request launches. In apps-root mode the app is a direct child folder of the root,
 * discovered at request time, that really lives inside the root (symlinks leading out are refused).
 */
import { readdirSync, realpathSync } from 'node:fs'
import { join, sep } from 'node:path'
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
  if (!inside(base, real) || !isAppDir(real))
    throw new HttpError(404, `There is no app called "${name}" here.`)
  return { name, dir: real }
}

export interface AppListing {
  name: string
  /** The request path that launches it. */
  path: string
  /** Its info.json (display_name, author, …); {} when absent or malformed. */
  info: AppInfo
}

export function readInfo(dir: string): AppInfo {
  try {
    const raw = readJsonFile(join(dir, 'info.json'))
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
      apps.push({ name, path: `/${encodeURIComponent(name)}`, info: readInfo(dir) })
    } catch {
      // not an app
    }
  }
  return apps
}
