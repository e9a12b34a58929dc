/**
 * Templates are the folders under templates/; adding one is adding a folder. A folder may hold a
 * `template.json` (not copied): `{"description": "...", "order": 1, "executable": ["allo/assist"],
 * "include": ["../_shared"]}` — `include` names folders (relative to the template) whose files are
 * laid under the template's own, so templates can share files; a template's own file wins. Folders
 * whose names start with "_" or "." are not templates.
 * `--template` also accepts a path to a template folder of your own (anything with a "/" or
 * starting with ".").
 */
import { readdirSync, readFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { isDir } from '../fsutil.js'
import type { Context } from './context.js'

export const DEFAULT_TEMPLATE = 'lua'
export const TEMPLATE_META = 'template.json'

export interface TemplateInfo {
  name: string
  dir: string
  description: string
  /** Sort key in the list (lower first), then the name. */
  order: number
  /** Paths (relative, with "/") made executable in the app. */
  executable: string[]
  /** Absolute folders whose files are laid under this template's own. */
  include: string[]
}

export function readTemplate(dir: string): TemplateInfo {
  let meta: Record<string, unknown> = {}
  const metaPath = join(dir, TEMPLATE_META)
  let text: string | undefined
  try {
    text = readFileSync(metaPath, 'utf8')
  } catch {
    text = undefined
  }
  if (text !== undefined) {
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object')
      meta = parsed as Record<string, unknown>
    } catch (err) {
      throw new UserError(
        `${metaPath} is not a valid template description (${(err as Error).message}): fix its JSON.`,
      )
    }
  }
  const executable = Array.isArray(meta.executable)
    ? meta.executable.filter((x) => typeof x === 'string')
    : []
  const include = Array.isArray(meta.include)
    ? meta.include.filter((x): x is string => typeof x === 'string').map((rel) => resolve(dir, rel))
    : []
  for (const folder of include)
    if (!isDir(folder))
      throw new UserError(`${metaPath}: "include" names ${folder}, which is not a folder: fix the template.`)
  return {
    name: basename(dir),
    dir,
    description: typeof meta.description === 'string' ? meta.description : '',
    order: typeof meta.order === 'number' ? meta.order : 100,
    executable,
    include,
  }
}

/** Every template folder under `root`, in display order. */
export function listTemplates(root: string): TemplateInfo[] {
  let entries: string[]
  try {
    entries = readdirSync(root)
  } catch {
    return []
  }
  return entries
    .filter((e) => !e.startsWith('.') && !e.startsWith('_') && isDir(join(root, e)))
    .map((e) => readTemplate(join(root, e)))
    .sort((a, b) => a.order - b.order || a.name.localeCompare(b.name))
}

export function isTemplatePath(value: string): boolean {
  return value.includes('/') || value.includes('\\') || value.startsWith('.')
}

/** The template named `value` (or at the path `value`); a UserError listing the choices otherwise. */
export function findTemplate(value: string, templates: TemplateInfo[], cwd: string): TemplateInfo {
  if (isTemplatePath(value)) {
    const dir = resolve(cwd, value)
    if (!isDir(dir))
      throw new UserError(`--template ${value}: no such folder (${dir}). Pass a template name or a folder.`)
    return readTemplate(dir)
  }
  const found = templates.find((t) => t.name === value)
  if (found) return found
  const names = templates.map((t) => t.name).join(', ')
  throw new UserError(
    `Unknown template ${JSON.stringify(value)}: choose one of ${names || '(none installed)'}, e.g. --template ${DEFAULT_TEMPLATE}.`,
  )
}

/** Step "template": --template, else ask (TTY, more than one template), else the default. */
export async function templateStep(ctx: Context): Promise<void> {
  const templates = listTemplates(ctx.templatesDir)
  if (ctx.options.template !== undefined) {
    ctx.template = findTemplate(ctx.options.template, templates, ctx.cwd)
    return
  }
  const def = templates.find((t) => t.name === DEFAULT_TEMPLATE) ?? templates[0]
  if (!def)
    throw new UserError(
      `No templates found in ${ctx.templatesDir}: reinstall allo-assist.`,
      EXIT.missingDependency,
    )
  if (ctx.prompt && templates.length > 1) {
    const chosen = await ctx.prompt.select({
      message: 'Template:',
      choices: templates.map((t) => ({ value: t.name, name: t.name, description: t.description })),
      default: def.name,
    })
    ctx.template = findTemplate(chosen, templates, ctx.cwd)
    return
  }
  ctx.template = def
}
