import { join, resolve } from 'node:path'
import { UserError } from '../errors.js'
import { findExecutable, isExecutable, isFile } from '../fsutil.js'
import { ALLOUI_APP_BOOT, type AppProject, allonetLibraryPath, BUNDLED_LUAJIT } from '../project.js'
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
    )
  }
  const boot = resolveBootScript(project)
  if (!boot) {
    throw new UserError(
      `No boot script in ${project.root}: expected allo/boot.lua or ${ALLOUI_APP_BOOT}. ` +
        'Run `assist fetch` to check out alloui.',
    )
  }
  const lib = allonetLibraryPath(project.root)
  if (!isFile(lib)) {
    throw new UserError(`The allonet library is missing (${lib}). Run \`assist fetch\` to install it.`)
  }
  return { argv: [luajit, boot, project.root, placeUrl], cwd: project.root, env: { ...project.config.env } }
}
