/**
 * Rendering a template into the target folder, atomically.
 *
 * Placeholders (in text files; files with a NUL byte are copied as they are):
 *   __PROJNAME__      the app name (see name.ts: safe everywhere as is)
 *   __DISPLAY_NAME__  the display name, from --display-name
 *   __AUTHOR__        the author, from --author
 *   __ASSIST_VERSION__  the version of allo-assist creating the app (the Dockerfile installs it)
 * Values are escaped for the file they land in: JSON string escapes in *.json, Lua string escapes
 * in *.lua, as is elsewhere. A file named `_gitignore` becomes `.gitignore` (npm drops .gitignore
 * files from published packages), and `_dockerignore` `.dockerignore` (likewise kept out of npm's way). `template.json` is not copied.
 *
 * Atomicity: every file is written into a temporary folder beside the target
 * (`.<name>.assist-XXXXXX`, same file system), which is renamed into place only when complete.
 * When the target folder already exists (empty, or non-empty with --force) the finished files are
 * moved in one by one with a journal, and rolled back on failure. Any failure or Ctrl-C before that
 * point removes the temporary folder and any parent folders it created: nothing is left behind.
 * Existing files are never overwritten: `findConflicts` lists them and create refuses.
 */
import { chmodSync, existsSync, lstatSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { basename, dirname, extname, join, relative, sep } from 'node:path'
import { UserError } from '../errors.js'
import { assistVersion } from '../version.js'
import { TEMPLATE_META, type TemplateInfo } from './templates.js'

export interface TemplateValues {
  name: string
  displayName: string
  author: string
  /** The allo-assist version creating the app (the one its Dockerfile installs); default: this one. */
  assistVersion?: string
}

export const PLACEHOLDERS: Record<string, keyof TemplateValues> = {
  __PROJNAME__: 'name',
  __DISPLAY_NAME__: 'displayName',
  __AUTHOR__: 'author',
  __ASSIST_VERSION__: 'assistVersion',
}

/** Renamed on output: template file name → app file name. */
export const RENAMES: Record<string, string> = { _gitignore: '.gitignore', _dockerignore: '.dockerignore' }

function luaEscape(value: string): string {
  return value.replace(/[\\"'\n\r\0]/g, (ch) =>
    ch === '\n' ? '\\n' : ch === '\r' ? '\\r' : ch === '\0' ? '\\0' : `\\${ch}`,
  )
}

/** `value` escaped for where it is substituted: inside a string literal in .json/.lua, as is elsewhere. */
export function escapeFor(path: string, value: string): string {
  const ext = extname(path).toLowerCase()
  if (ext === '.json') return JSON.stringify(value).slice(1, -1)
  if (ext === '.lua') return luaEscape(value)
  return value
}

/** Replaces every placeholder in a text file's content (pure). */
export function renderText(path: string, text: string, values: TemplateValues): string {
  return text.replace(/__(PROJNAME|DISPLAY_NAME|AUTHOR|ASSIST_VERSION)__/g, (ph) =>
    escapeFor(path, values[PLACEHOLDERS[ph]] ?? assistVersion()),
  )
}

/** The app-relative output path (with "/") of a template-relative path. */
export function outputPath(templateRel: string): string {
  return templateRel
    .split('/')
    .map((part) => RENAMES[part] ?? part)
    .join('/')
}

export interface PlannedFile {
  /** Absolute source path in the template. */
  src: string
  /** Output path relative to the app root, with "/". */
  rel: string
  mode: number
}

/** Every file the template writes (its own, then what it includes), sorted by output path. */
export async function planFiles(template: TemplateInfo): Promise<PlannedFile[]> {
  const files = new Map<string, PlannedFile>()
  const walk = async (root: string, dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const src = join(dir, entry.name)
      const rel = relative(root, src).split(sep).join('/')
      if (entry.isDirectory()) await walk(root, src)
      else if (rel !== TEMPLATE_META) {
        const out = outputPath(rel)
        if (files.has(out)) continue // the template's own file wins over an included one
        const executable = template.executable.includes(out) || template.executable.includes(rel)
        files.set(out, { src, rel: out, mode: executable ? 0o755 : 0o644 })
      }
    }
  }
  for (const root of [template.dir, ...template.include]) await walk(root, root)
  return [...files.values()].sort((a, b) => a.rel.localeCompare(b.rel))
}

/** Paths (relative) in `targetDir` that the plan would overwrite or collide with. */
export function findConflicts(files: PlannedFile[], targetDir: string): string[] {
  const conflicts = new Set<string>()
  for (const f of files) {
    const parts = f.rel.split('/')
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join('/')
      let st: ReturnType<typeof lstatSync>
      try {
        st = lstatSync(join(targetDir, rel))
      } catch {
        break // absent: nothing below it can collide
      }
      const wantDir = i < parts.length
      if (!wantDir || !st.isDirectory()) {
        conflicts.add(rel)
        break
      }
    }
  }
  return [...conflicts].sort()
}

/** Entries of a folder, or undefined when it does not exist. Throws a UserError when it is a file. */
export function folderEntries(dir: string): string[] | undefined {
  let st: ReturnType<typeof lstatSync>
  try {
    st = lstatSync(dir)
  } catch {
    return undefined
  }
  if (!st.isDirectory())
    throw new UserError(`${dir} exists and is not a folder: choose another place for the app.`)
  return readdirSync(dir)
}

/**
 * A render in progress. `rollback()` is synchronous so that a Ctrl-C handler can call it and exit.
 */
export class RenderTransaction {
  private tempDir?: string
  /** The outermost parent folder this render created (removed on rollback). */
  private createdParent?: string
  /** Moves into an existing target, newest last: [from, to]. */
  private moved: Array<[string, string]> = []
  private committed = false

  constructor(readonly targetDir: string) {}

  /** Undoes everything this render did. Safe to call twice, and after commit() (then it does nothing). */
  rollback(): void {
    if (this.committed) return
    for (const [from, to] of this.moved.reverse()) {
      try {
        renameSync(to, from)
      } catch {
        rmSync(to, { recursive: true, force: true })
      }
    }
    this.moved = []
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true })
    if (this.createdParent) rmSync(this.createdParent, { recursive: true, force: true })
    this.tempDir = undefined
    this.createdParent = undefined
  }

  /** Creates the temporary folder beside the target (and missing parent folders). */
  async begin(): Promise<string> {
    const parent = dirname(this.targetDir)
    try {
      this.createdParent = (await mkdir(parent, { recursive: true })) ?? undefined
      this.tempDir = await mkdtemp(join(parent, `.${basename(this.targetDir)}.assist-`))
    } catch (err) {
      this.rollback()
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR') {
        throw new UserError(
          `Cannot create the app in ${parent}: ${code === 'ENOTDIR' ? 'a part of that path is a file' : 'no permission to write there'}. ` +
            'Choose another folder, or fix its permissions.',
        )
      }
      throw err
    }
    return this.tempDir
  }

  /** Moves the finished temporary folder into place. Synchronous: a Ctrl-C cannot land halfway. */
  commit(): void {
    const temp = this.tempDir
    if (!temp) throw new Error('commit() before begin()')
    try {
      if (!existsSync(this.targetDir)) {
        // mkdtemp made it 0700; the app folder gets what mkdir would give it (0755 under umask 022),
        // or a gateway running as another user could not read the app.
        chmodSync(temp, 0o777 & ~process.umask())
        renameSync(temp, this.targetDir)
        this.tempDir = undefined
      } else {
        this.mergeInto(temp, this.targetDir)
        rmSync(temp, { recursive: true, force: true })
        this.tempDir = undefined
      }
    } catch (err) {
      this.rollback()
      throw err
    }
    this.committed = true
  }

  private mergeInto(from: string, to: string): void {
    for (const entry of readdirSync(from)) {
      const src = join(from, entry)
      const dst = join(to, entry)
      if (existsSync(dst)) {
        if (!lstatSync(src).isDirectory() || !lstatSync(dst).isDirectory()) {
          throw new UserError(
            `${dst} appeared while creating the app; nothing was changed. Run create again.`,
          )
        }
        this.mergeInto(src, dst)
      } else {
        renameSync(src, dst)
        this.moved.push([src, dst])
      }
    }
  }
}

/** Writes the planned files into the transaction's temporary folder (placeholders substituted). */
export async function writeFiles(
  files: PlannedFile[],
  tempDir: string,
  values: TemplateValues,
  signal?: AbortSignal,
): Promise<void> {
  for (const f of files) {
    if (signal?.aborted) throw new Error('cancelled')
    const dest = join(tempDir, ...f.rel.split('/'))
    await mkdir(dirname(dest), { recursive: true })
    const bytes = await readFile(f.src)
    const content = bytes.includes(0) ? bytes : renderText(f.rel, bytes.toString('utf8'), values)
    await writeFile(dest, content, { mode: f.mode })
    await chmod(dest, f.mode) // the umask may have removed bits
  }
}
