/**
 * Help without loading oclif: the root help (`assist`, `assist --help`, `assist -h`, `assist help`)
 * and a command's or topic's help (`assist run --help`, `assist run -h`, `assist help run`).
 *
 * Loading oclif costs a bare Node start several times over, and help text only depends on a few
 * inputs. The first time a help is asked for, bin/run.js lets oclif render it and keeps the text
 * here; later requests with the same inputs print the kept text. The inputs, all part of the cache
 * file's name: which help (root, or the command id), the package version and its command manifest
 * (size and mtime, so a rebuild counts), Node's version and platform (both printed in the root
 * help), the width oclif wraps to (OCLIF_COLUMNS, or the terminal's columns, or "not a terminal"),
 * and whether oclif would colour it (the same two checks oclif makes: supports-color for stdout
 * and stderr, and ansis). Only commands and topics of this package are kept (the manifest and
 * package.json name them); anything else, a typo included, goes to oclif every time.
 *
 * Kept in `$XDG_CACHE_HOME/allo-assist/help` (or `~/.cache/…`); set ASSIST_NO_HELP_CACHE=1 to
 * neither read nor write it. Any failure to read or write the cache falls back to oclif silently.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** How many kept help texts (one per help, terminal width, colour, version…) before the oldest go. */
const KEEP = 32

const HELP_FLAGS = new Set(['--help', '-h'])
const WORD = /^[a-z][a-z0-9-]*$/

/**
 * Which help these CLI arguments ask for and nothing else: 'root', `help:<id>` for `assist help
 * <words>`, `<id>` for `assist <words> --help|-h` (id = the words joined by ':'), or null. `isKnown`
 * says which ids are this package's commands and topics; other words are not answered from the cache.
 */
export function helpRequestKey(args: readonly string[], isKnown: (id: string) => boolean): string | null {
  if (args.length === 0) return 'root'
  if (args.length === 1 && (HELP_FLAGS.has(args[0]) || args[0] === 'help')) return 'root'
  const [first, ...rest] = args
  const last = args[args.length - 1]
  const words = first === 'help' ? rest : HELP_FLAGS.has(last) ? args.slice(0, -1) : null
  if (!words || words.length === 0 || !words.every((w) => WORD.test(w))) return null
  const id = words.join(':')
  if (!isKnown(id)) return null
  return first === 'help' ? `help:${id}` : id
}

/** What a help text depends on, besides the code itself. */
export interface HelpInputs {
  /** Which help: see helpRequestKey. */
  key: string
  version: string
  /** Size and mtime of oclif.manifest.json. */
  manifest: string
  node: string
  platform: string
  /** OCLIF_COLUMNS, the terminal's columns, or 'pipe'. */
  width: string
  color: boolean
}

/** The cache file's name for these inputs (only safe characters). */
export function helpCacheName(inputs: HelpInputs): string {
  const parts = [
    inputs.key,
    inputs.version,
    inputs.manifest,
    inputs.node,
    inputs.platform,
    inputs.width,
    inputs.color ? 'color' : 'plain',
  ]
  return `help-${parts.join('_').replace(/[^A-Za-z0-9._-]/g, '-')}.txt`
}

/** The folder help texts are kept in, or null when caching is switched off. */
export function helpCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.ASSIST_NO_HELP_CACHE && env.ASSIST_NO_HELP_CACHE !== '0') return null
  const base =
    env.XDG_CACHE_HOME ||
    (process.platform === 'darwin' ? join(homedir(), 'Library', 'Caches') : join(homedir(), '.cache'))
  return join(base, 'allo-assist', 'help')
}

/**
 * The inputs for these arguments in this process, given the package root (where package.json and
 * the manifest are), or null when they do not ask for a help this cache answers.
 */
export async function currentHelpInputs(
  packageRoot: string,
  args: readonly string[],
): Promise<HelpInputs | null> {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
    version: string
    oclif?: { topics?: Record<string, unknown> }
  }
  const manifestPath = join(packageRoot, 'oclif.manifest.json')
  const manifest = statSync(manifestPath)
  // The shape first (cheap); the manifest only when a command's words must be checked.
  let key = helpRequestKey(args, () => true)
  if (key === null) return null
  if (key !== 'root') {
    const { commands } = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      commands: Record<string, unknown>
    }
    const topics = pkg.oclif?.topics ?? {}
    key = helpRequestKey(args, (id) => id in commands || id in topics)
    if (key === null) return null
  }
  const { stdout } = process
  const width = process.env.OCLIF_COLUMNS || (stdout.isTTY ? String(stdout.columns) : 'pipe')
  // oclif colours help only when both of these say so (see @oclif/core's ux/theme colorize).
  const [{ default: supportsColor }, { default: ansis }] = await Promise.all([
    import('supports-color'),
    import('ansis'),
  ])
  const color = Boolean(supportsColor.stdout) && Boolean(supportsColor.stderr) && ansis.isSupported()
  return {
    key,
    version: pkg.version,
    manifest: `${manifest.size}-${Math.round(manifest.mtimeMs)}`,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    width,
    color,
  }
}

/** The kept text, or null. */
export function readCachedHelp(dir: string, name: string): string | null {
  try {
    const text = readFileSync(join(dir, name), 'utf8')
    return text.length > 0 ? text : null
  } catch {
    return null
  }
}

/** Keeps `text` under `name` (written aside, then renamed), dropping the oldest beyond KEEP. */
export function writeCachedHelp(dir: string, name: string, text: string): void {
  try {
    mkdirSync(dir, { recursive: true })
    const tmp = join(dir, `.${name}.${process.pid}.tmp`)
    writeFileSync(tmp, text)
    renameSync(tmp, join(dir, name))
    const kept = readdirSync(dir)
      .filter((f) => f.startsWith('help-') && f.endsWith('.txt'))
      .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t)
    for (const { f } of kept.slice(KEEP)) unlinkSync(join(dir, f))
  } catch {
    // A cache that cannot be written only means the next help is rendered by oclif again.
  }
}
