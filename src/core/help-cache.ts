/**
 * The root help (`assist`, `assist --help`, `assist -h`, `assist help`) without loading oclif.
 *
 * Loading oclif costs a bare Node start several times over, and the root help only depends on a
 * few inputs. The first time the root help is asked for, bin/run.js lets oclif render it and keeps
 * the text here; later requests with the same inputs print the kept text. The inputs, all part of
 * the cache file's name: the package version and its command manifest (size and mtime, so a rebuild
 * counts), Node's version and platform (both printed in the help), the width oclif wraps to
 * (OCLIF_COLUMNS, or the terminal's columns, or "not a terminal"), and whether oclif would colour
 * it (the same two checks oclif makes: supports-color for stdout and stderr, and ansis).
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

/** How many kept help texts (one per terminal width, colour, version…) before the oldest go. */
const KEEP = 16

/** True when these CLI arguments ask for the root help and nothing else. */
export function isRootHelpRequest(args: readonly string[]): boolean {
  if (args.length === 0) return true
  return args.length === 1 && (args[0] === '--help' || args[0] === '-h' || args[0] === 'help')
}

/** What the root help text depends on, besides the code itself. */
export interface HelpInputs {
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
    inputs.version,
    inputs.manifest,
    inputs.node,
    inputs.platform,
    inputs.width,
    inputs.color ? 'color' : 'plain',
  ]
  return `root-${parts.join('_').replace(/[^A-Za-z0-9._-]/g, '-')}.txt`
}

/** The folder help texts are kept in, or null when caching is switched off. */
export function helpCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.ASSIST_NO_HELP_CACHE && env.ASSIST_NO_HELP_CACHE !== '0') return null
  const base =
    env.XDG_CACHE_HOME ||
    (process.platform === 'darwin' ? join(homedir(), 'Library', 'Caches') : join(homedir(), '.cache'))
  return join(base, 'allo-assist', 'help')
}

/** The inputs for this process, given the package root (where package.json and the manifest are). */
export async function currentHelpInputs(packageRoot: string): Promise<HelpInputs> {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
  const manifest = statSync(join(packageRoot, 'oclif.manifest.json'))
  const { stdout } = process
  const width = process.env.OCLIF_COLUMNS || (stdout.isTTY ? String(stdout.columns) : 'pipe')
  // oclif colours help only when both of these say so (see @oclif/core's ux/theme colorize).
  const [{ default: supportsColor }, { default: ansis }] = await Promise.all([
    import('supports-color'),
    import('ansis'),
  ])
  const color = Boolean(supportsColor.stdout) && Boolean(supportsColor.stderr) && ansis.isSupported()
  return {
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
      .filter((f) => f.startsWith('root-') && f.endsWith('.txt'))
      .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t)
    for (const { f } of kept.slice(KEEP)) unlinkSync(join(dir, f))
  } catch {
    // A cache that cannot be written only means the next help is rendered by oclif again.
  }
}
