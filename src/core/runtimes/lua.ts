import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { findExecutable, isExecutable, isFile } from '../fsutil.js'
import {
  ALLOUI_APP_BOOT,
  ALLOUI_DIR,
  type AppProject,
  allonetLibraryPath,
  BUNDLED_LUAJIT,
} from '../project.js'
import type { LaunchSpec, RuntimeOptions } from './types.js'

export const LUAJIT_INSTALL_HINT =
  'install it (Debian/Ubuntu: sudo apt install luajit; macOS: brew install luajit)'

/** Which LuaJIT a Lua app runs with: --luajit, ALLO_LUAJIT, the app's bundled binary, then PATH. */
export function resolveLuajit(
  project: AppProject,
  opts: RuntimeOptions = {},
): { path?: string; source: string } {
  const env = opts.env ?? process.env
  const explicit = opts.luajit ?? env.ALLO_LUAJIT
  if (explicit) {
    const source = opts.luajit ? '--luajit' : 'ALLO_LUAJIT'
    const found = findExecutable(explicit.includes('/') ? resolve(explicit) : explicit, env.PATH)
    if (!found)
      throw new UserError(
        `${source} ${explicit} is not an executable file: fix the path or ${LUAJIT_INSTALL_HINT}.`,
        EXIT.missingDependency,
      )
    return { path: found, source }
  }
  const bundled = join(project.root, BUNDLED_LUAJIT)
  if (isExecutable(bundled)) return { path: bundled, source: BUNDLED_LUAJIT }
  return { path: findExecutable('luajit', env.PATH), source: 'PATH' }
}

export function resolveBootScript(project: AppProject): string | undefined {
  if (project.luaLayout === 'boot') return join(project.root, 'allo', 'boot.lua')
  if (project.luaLayout === 'alloui-app-boot') return join(project.root, ALLOUI_APP_BOOT)
  return undefined
}

/**
 * assist's own boot script (beside this module: src/ under tsx, dist/ once built). Every Lua app is
 * started through it; it runs the app's boot script unchanged (see the comment at its top).
 */
export const ASSIST_BOOT = fileURLToPath(new URL('./assist-boot.lua', import.meta.url))

/** The environment variable that turns the poll fix off ("0"), and what else can. */
export const POLL_FIX_ENV = 'ALLO_ASSIST_POLL_FIX'

/** Whether alloui's poll timeout is converted to milliseconds for this app, and what decided it. */
export function pollFixSetting(
  project: AppProject,
  opts: RuntimeOptions = {},
): { on: boolean; source: string } {
  const env = opts.env ?? process.env
  if (opts.pollFix === false) return { on: false, source: '--no-poll-fix' }
  if (env[POLL_FIX_ENV] === '0') return { on: false, source: `${POLL_FIX_ENV}=0` }
  if (project.config.pollFix === false) return { on: false, source: '"pollFix": false in alloapp.json' }
  return { on: true, source: 'default' }
}

/** The one line `--verbose` prints about the poll fix. */
export function pollFixNote(project: AppProject, opts: RuntimeOptions = {}): string {
  const s = pollFixSetting(project, opts)
  return s.on
    ? "poll fix on: alloui's Client:poll timeout reaches liballonet in milliseconds (--no-poll-fix turns it off)"
    : `poll fix off (${s.source}): alloui's Client:poll timeout is passed unchanged`
}

/**
 * `<luajit> <assist-boot.lua> <boot> <app root> <place url>`, after checking every part of the
 * runtime is there.
 */
export function luaLaunchSpec(project: AppProject, placeUrl: string, opts: RuntimeOptions = {}): LaunchSpec {
  const luajit = resolveLuajit(project, opts).path
  if (!luajit) {
    throw new UserError(
      `LuaJIT not found on PATH: ${LUAJIT_INSTALL_HINT}, or pass --luajit PATH (or set ALLO_LUAJIT).`,
      EXIT.missingDependency,
    )
  }
  const boot = resolveBootScript(project)
  if (!boot) {
    throw new UserError(
      `No boot script in ${project.root}: expected allo/boot.lua or ${ALLOUI_APP_BOOT}. ` +
        'Run `assist fetch` to check out alloui.',
      EXIT.missingDependency,
    )
  }
  checkAlloui(project, boot)
  const lib = allonetLibraryPath(project.root)
  if (!isFile(lib)) {
    throw new UserError(
      `The allonet library is missing (${lib}). Run \`assist fetch\` to install it.`,
      EXIT.missingDependency,
    )
  }
  const env: Record<string, string> = { ...project.config.env }
  if (!pollFixSetting(project, opts).on) env[POLL_FIX_ENV] = '0'
  return { argv: [luajit, ASSIST_BOOT, boot, project.root, placeUrl], cwd: project.root, env }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/**
 * An app whose boot script loads alloui from allo/deps/alloui (every app made from alloapp-assist
 * or `assist create`), or whose .gitmodules records it there, cannot start without it: say so in one
 * line, with the command that brings it, instead of LuaJIT's 25-line "module 'alloui.client' not found".
 */
export function checkAlloui(project: AppProject, boot: string): void {
  const dir = join(project.root, ALLOUI_DIR)
  let state = 'not there'
  try {
    if (readdirSync(dir).length > 0) return
    state = 'empty'
  } catch {
    // missing
  }
  const submodule = /^\s*path\s*=\s*allo\/deps\/alloui\s*$/m.test(readText(join(project.root, '.gitmodules')))
  if (!submodule && !readText(boot).includes('alloui')) return
  const fix = submodule
    ? 'Run `assist fetch` to check it out'
    : `Add it: git submodule add https://github.com/alloverse/alloui-lua ${ALLOUI_DIR} && git submodule update --init --recursive ${ALLOUI_DIR}`
  throw new UserError(
    `alloui is missing (${dir} is ${state}), and the app cannot start without it. ${fix}.`,
    EXIT.missingDependency,
  )
}
