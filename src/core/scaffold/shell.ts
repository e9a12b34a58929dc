/** Small helpers for the commands create prints for the user to type. */
import type { Context } from './context.js'

/** Quotes one shell word when it needs it (POSIX sh). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/** The app folder as the user should type it after `cd` (undefined when it is the current folder). */
export function displayDir(ctx: Pick<Context, 'cwd' | 'targetDir'>): string | undefined {
  if (ctx.targetDir === ctx.cwd) return undefined
  return ctx.targetDir.startsWith(`${ctx.cwd}/`) ? ctx.targetDir.slice(ctx.cwd.length + 1) : ctx.targetDir
}

/** `cd DIR && cmd1 && cmd2` (no cd when DIR is undefined). */
export function inDir(dir: string | undefined, commands: string[]): string {
  return [...(dir ? [`cd ${shellQuote(dir)}`] : []), ...commands].join(' && ')
}
