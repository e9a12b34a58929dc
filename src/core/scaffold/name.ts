/**
 * The app name and the other answers that end up inside the app's files.
 *
 * App name rule: `^[a-z][a-z0-9_-]{0,63}$` — 1 to 64 characters, lower-case ASCII letters, digits,
 * "-" and "_", starting with a letter. Such a name is a safe folder name on every platform, needs no
 * escaping inside a Lua or JSON string or a shell command, and reads well in a URL path
 * (`alloapp:http://host:8000/<name>`). Windows device names (con, nul, com1, …) are refused too.
 */
import { basename, resolve } from 'node:path'
import { UserError } from '../errors.js'
import type { Context, Prompter } from './context.js'

export const APP_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/
export const APP_NAME_RULE =
  '1–64 characters: lower-case letters, digits, "-" and "_", starting with a letter'
const RESERVED = new Set([
  'con',
  'prn',
  'aux',
  'nul',
  ...Array.from({ length: 9 }, (_, i) => `com${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `lpt${i + 1}`),
])

/** Why `name` is not a valid app name, or undefined when it is. */
export function appNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty'
  if (!APP_NAME_PATTERN.test(name)) return `use ${APP_NAME_RULE}`
  if (RESERVED.has(name)) return `"${name}" is a reserved device name on Windows`
  return undefined
}

/** A valid app name made from any text ("My Clock!" → "my-clock"); "my-app" when nothing is left. */
export function suggestAppName(text: string): string {
  let s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64)
    .replace(/-+$/, '')
  if (RESERVED.has(s)) s = `${s}-app`
  return s === '' ? 'my-app' : s
}

/** Throws a UserError saying what is wrong with `name` and showing a valid example. */
export function checkAppName(name: string, source: string): string {
  const problem = appNameProblem(name)
  if (problem) {
    const example = suggestAppName(name)
    throw new UserError(
      `${JSON.stringify(name)} (${source}) is not a valid app name: ${problem}. ` +
        `It becomes the folder name and goes into Lua code. Try e.g. --name ${example}`,
    )
  }
  return name
}

/** Display name and author: free text for info.json and README (escaped per file), one line, ≤ 80 characters. */
export function textProblem(text: string): string | undefined {
  if (text.trim() === '') return 'it is empty'
  if ([...text].length > 80) return 'it is longer than 80 characters'
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'it contains a line break or another control character'
  return undefined
}

export function checkText(text: string, flag: string, example: string): string {
  const problem = textProblem(text)
  if (problem)
    throw new UserError(
      `${flag} ${JSON.stringify(text)} is not usable: ${problem}. E.g. ${flag} "${example}"`,
    )
  return text.trim()
}

/** "my-clock_app" → "My Clock App". */
export function defaultDisplayName(name: string): string {
  return name
    .split(/[-_]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join(' ')
}

/** The default app name for a target folder: its name when valid, else a valid suggestion. */
export function defaultNameFor(targetDir: string): string {
  const base = basename(targetDir)
  return appNameProblem(base) === undefined ? base : suggestAppName(base)
}

async function ask(prompt: Prompter, message: string, def: string, check: (v: string) => string | undefined) {
  const answer = await prompt.input({
    message,
    default: def,
    validate: (v: string) => {
      const p = check(v.trim() === '' ? def : v.trim())
      return p === undefined ? true : `Not valid: ${p}.`
    },
  })
  return answer.trim() === '' ? def : answer.trim()
}

/**
 * Step "name", part 1: where the app goes and its name. `assist create DIR` names the app after the
 * folder (or --name); `assist create --name NAME` creates ./NAME; with neither, a TTY is asked.
 */
export async function nameStep(ctx: Context): Promise<void> {
  const o = ctx.options
  if (o.dir === undefined) {
    if (o.name !== undefined) ctx.name = checkAppName(o.name, '--name')
    else if (ctx.prompt) ctx.name = await ask(ctx.prompt, 'App name:', 'my-app', appNameProblem)
    else {
      throw new UserError(
        'Say where to create the app: assist create my-app (a new folder my-app), or pass --name my-app.',
      )
    }
    ctx.targetDir = resolve(ctx.cwd, ctx.name)
    return
  }
  ctx.targetDir = resolve(ctx.cwd, o.dir)
  if (o.name !== undefined) ctx.name = checkAppName(o.name, '--name')
  else if (ctx.prompt)
    ctx.name = await ask(ctx.prompt, 'App name:', defaultNameFor(ctx.targetDir), appNameProblem)
  else {
    const base = basename(ctx.targetDir)
    if (appNameProblem(base) !== undefined) {
      throw new UserError(
        `The folder name ${JSON.stringify(base)} is not a valid app name (${APP_NAME_RULE}): ` +
          `pass one with --name, e.g. --name ${suggestAppName(base)}`,
      )
    }
    ctx.name = base
  }
}

/**
 * Step "name", part 2: display name and author for info.json. Flags win; otherwise ask (TTY) or
 * take the defaults: the name in title case, and git's user.name (or the login name).
 */
export async function infoStep(ctx: Context): Promise<void> {
  const o = ctx.options
  const displayDefault = defaultDisplayName(ctx.name)
  if (o.displayName !== undefined)
    ctx.displayName = checkText(o.displayName, '--display-name', displayDefault)
  else if (ctx.prompt)
    ctx.displayName = await ask(
      ctx.prompt,
      'Display name (shown in the app market):',
      displayDefault,
      textProblem,
    )
  else ctx.displayName = displayDefault
  if (o.author !== undefined) ctx.author = checkText(o.author, '--author', 'Ada Lovelace')
  else {
    const def = await ctx.defaultAuthor()
    ctx.author = ctx.prompt ? await ask(ctx.prompt, 'Author:', def, textProblem) : def
  }
}
