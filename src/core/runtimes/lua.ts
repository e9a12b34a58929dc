import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
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

/** `<luajit> <boot> <app root> <place url>`, after checking every part of the runtime is there. */
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
  return { argv: [luajit, boot, project.root, placeUrl], cwd: project.root, env: { ...project.config.env } }
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
