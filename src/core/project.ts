import { basename, dirname, join, resolve } from 'node:path'
import { UserError } from './errors.js'
import { isDir, isFile, readJsonFile } from './fsutil.js'

/** The per-app config file, in the app root. Documented in README.md ("Configuration"). */
export const CONFIG_FILE = 'alloapp.json'

export interface AppConfig {
  /** Start command for non-Lua apps, as an argv array; `{url}` is replaced by the place URL. */
  start?: string[]
  /** Extra environment for the app. */
  env?: Record<string, string>
  /** Paths (relative to the app root) to watch instead of the whole root. */
  watch?: string[]
  /** Extra ignore patterns, gitignore syntax, relative to the app root. */
  ignore?: string[]
  /** false: alloui's poll timeout is passed unchanged (see `--no-poll-fix`). */
  pollFix?: boolean
  /** Settings for `assist fetch`/`upgrade`. */
  allonet?: { baseUrl?: string; branch?: string }
}

export interface AppInfo {
  display_name?: string
  author?: string
  [key: string]: unknown
}

export type LuaLayout = 'boot' | 'alloui-app-boot' | 'none'

export interface AppProject {
  root: string
  /** Folder name of the app root. */
  name: string
  kind: 'lua' | 'command'
  config: AppConfig
  info: AppInfo
  /** For Lua apps: which boot script layout is present. */
  luaLayout: LuaLayout
}

const LUA_MARKER = join('lua', 'main.lua')

export function isAppDir(dir: string): boolean {
  return isFile(join(dir, LUA_MARKER)) || isFile(join(dir, CONFIG_FILE))
}

/** Walks up from `start` (like git) to the nearest folder that is an app. */
export function findAppRoot(start: string): string | undefined {
  let dir = resolve(start)
  for (;;) {
    if (isAppDir(dir)) return dir
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

function validateConfig(raw: unknown, path: string): AppConfig {
  const bad = (why: string): never => {
    throw new UserError(`${path}: ${why}. See "Configuration" in the allo-assist README.`)
  }
  if (raw === undefined) return {}
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('must be a JSON object')
  const c = raw as Record<string, unknown>
  const isStrArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string')
  if (c.start !== undefined && (!isStrArray(c.start) || (c.start as string[]).length === 0))
    bad('"start" must be a non-empty array of strings, e.g. ["python3", "app.py", "{url}"]')
  if (c.watch !== undefined && !isStrArray(c.watch)) bad('"watch" must be an array of paths')
  if (c.ignore !== undefined && !isStrArray(c.ignore)) bad('"ignore" must be an array of patterns')
  if (c.env !== undefined) {
    const env = c.env as Record<string, unknown>
    if (typeof env !== 'object' || env === null || Object.values(env).some((v) => typeof v !== 'string'))
      bad('"env" must be an object of strings')
  }
  if (c.pollFix !== undefined && typeof c.pollFix !== 'boolean') bad('"pollFix" must be true or false')
  if (c.allonet !== undefined && (typeof c.allonet !== 'object' || c.allonet === null))
    bad('"allonet" must be an object')
  return c as AppConfig
}

function loadJson(path: string): unknown {
  try {
    return readJsonFile(path)
  } catch (err) {
    throw new UserError(`${(err as Error).message}. Fix the JSON syntax and try again.`)
  }
}

/** Describes the app at exactly `root` (no walking). Throws a UserError when it is no app. */
export function loadProject(root: string): AppProject {
  const dir = resolve(root)
  if (!isAppDir(dir)) {
    throw new UserError(
      `${dir} is not an Alloverse app: looked for ${LUA_MARKER} (a Lua app) or ${CONFIG_FILE} (any other language). ` +
        'Create one with `assist create`.',
    )
  }
  const config = validateConfig(loadJson(join(dir, CONFIG_FILE)), join(dir, CONFIG_FILE))
  const infoRaw = loadJson(join(dir, 'info.json'))
  const info =
    typeof infoRaw === 'object' && infoRaw !== null && !Array.isArray(infoRaw) ? (infoRaw as AppInfo) : {}
  const isLua = isFile(join(dir, LUA_MARKER))
  let luaLayout: LuaLayout = 'none'
  if (isFile(join(dir, 'allo', 'boot.lua'))) luaLayout = 'boot'
  else if (isFile(join(dir, ALLOUI_APP_BOOT))) luaLayout = 'alloui-app-boot'
  const kind = config.start ? 'command' : isLua ? 'lua' : 'command'
  return { root: dir, name: basename(dir), kind, config, info, luaLayout }
}

/** Finds the app containing `start` (walking up) and describes it. */
export function findProject(start: string): AppProject {
  const root = findAppRoot(start)
  if (!root) {
    throw new UserError(
      `No Alloverse app in ${resolve(start)} or any folder above it: looked for ${LUA_MARKER} (a Lua app) or ` +
        `${CONFIG_FILE} (any other language). Run this inside an app, or create one with \`assist create\`.`,
    )
  }
  return loadProject(root)
}

export const ALLOUI_DIR = join('allo', 'deps', 'alloui')
export const ALLOUI_APP_BOOT = join(ALLOUI_DIR, 'lua', 'alloui', 'app_boot.lua')
export const BUNDLED_LUAJIT = join('allo', 'deps', 'luajit-bin', 'luajit')

export type Platform = 'linux-x64' | 'mac-universal' | 'windows-x64'

/** The allonet platform name and library file for this machine (or the given os/arch). */
export function allonetPlatform(
  os: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): { platform: Platform; file: string } | undefined {
  if (os === 'linux' && arch === 'x64') return { platform: 'linux-x64', file: 'liballonet.so' }
  if (os === 'darwin') return { platform: 'mac-universal', file: 'liballonet.dylib' }
  if (os === 'win32' && arch === 'x64') return { platform: 'windows-x64', file: 'allonet.dll' }
  return undefined
}

/** Path of the allonet library inside an app, for this machine (the Linux name on unknown platforms). */
export function allonetLibraryPath(root: string): string {
  return join(root, 'allo', 'lib', allonetPlatform()?.file ?? 'liballonet.so')
}

export function hasDir(root: string, rel: string): boolean {
  return isDir(join(root, rel))
}
