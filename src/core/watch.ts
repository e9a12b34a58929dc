/**
 * Watches an app's files and reports one change per burst of saves (trailing debounce).
 */
import { createHash } from 'node:crypto'
import { fstatSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { isAbsolute, join, relative, sep } from 'node:path'
import { type FSWatcher, watch } from 'chokidar'
import ignore from 'ignore'

/** Never worth a restart: VCS, dependencies, native libraries, logs, editor temp files. */
export const DEFAULT_IGNORES = [
  '.git',
  'node_modules',
  '/allo/deps',
  '/allo/lib',
  '*.log',
  // editor temporaries: vim swap/backup and its write test file, emacs locks and autosaves, JetBrains, macOS
  '*.swp',
  '*.swo',
  '*.swx',
  '*~',
  '4913',
  '.#*',
  '\\#*#', // emacs autosave (escaped: a leading # is a comment in gitignore syntax)
  '*.tmp',
  // save-through-a-temporary-file: many editors (main.lua.tmp.<pid>), sed -i (sedXXXXXX beside the file), gedit
  '*.tmp.*',
  'sed[a-zA-Z0-9][a-zA-Z0-9][a-zA-Z0-9][a-zA-Z0-9][a-zA-Z0-9][a-zA-Z0-9]', // GNU sed: sed + 6 letters/digits, no dot
  '.goutputstream-*',
  '*.kate-swp',
  '*___jb_tmp___',
  '*___jb_old___',
  '.DS_Store',
]

export interface IgnoreOptions {
  root: string
  /** Extra patterns (gitignore syntax). */
  extra?: string[]
  /** Also honour the app's own .gitignore (default true). */
  useGitignore?: boolean
  /** Absolute paths of single files never to watch (e.g. where assist's own output goes). */
  ignoreFiles?: string[]
}

/** A predicate that says whether an absolute path under `root` should be ignored. */
export function createIgnoreMatcher(
  opts: IgnoreOptions,
): (absPath: string, isDirectory?: boolean) => boolean {
  const ig = ignore().add(DEFAULT_IGNORES)
  if (opts.useGitignore !== false) {
    try {
      ig.add(readFileSync(join(opts.root, '.gitignore'), 'utf8'))
    } catch {
      // no .gitignore
    }
  }
  if (opts.extra?.length) ig.add(opts.extra)
  const files = filesUnder(opts.root, opts.ignoreFiles ?? [])
  return (absPath, isDirectory) => {
    const rel = relative(opts.root, absPath)
    if (rel === '') return false
    if (rel.startsWith('..') || isAbsolute(rel)) return true // outside the app
    const posix = sep === '/' ? rel : rel.split(sep).join('/')
    if (files.has(posix) || ig.ignores(posix)) return true
    let dir = isDirectory
    if (dir === undefined) {
      try {
        dir = lstatSync(absPath).isDirectory()
      } catch {
        dir = false
      }
    }
    return dir && ig.ignores(`${posix}/`)
  }
}

/** `paths` (absolute, maybe through symlinks) that lie under `root`, as root-relative posix paths. */
function filesUnder(root: string, paths: string[]): Set<string> {
  const out = new Set<string>()
  if (paths.length === 0) return out
  const roots = [root]
  try {
    roots.push(realpathSync(root))
  } catch {
    // root is checked elsewhere
  }
  for (const p of paths) {
    for (const r of roots) {
      const rel = relative(r, p)
      if (rel && !rel.startsWith('..') && !isAbsolute(rel))
        out.add(sep === '/' ? rel : rel.split(sep).join('/'))
    }
  }
  return out
}

/**
 * The regular files this process's stdout and stderr write to (`assist run > run.out`): watching
 * them would restart the app for every line it prints. Linux (through /proc); elsewhere none.
 */
export function ownOutputFiles(): string[] {
  const out: string[] = []
  for (const fd of [1, 2]) {
    try {
      if (fstatSync(fd).isFile()) out.push(realpathSync(`/proc/self/fd/${fd}`))
    } catch {
      // closed, not a file, or no /proc
    }
  }
  return out
}

/**
 * What a file looks like now, or 'missing': inode, size, mtime (so `touch` counts as a change) and,
 * for files up to 4 MiB, a hash of the content (so a same-size save within a coarse mtime's
 * granularity still counts as one).
 */
function signature(absPath: string): string {
  try {
    const st = statSync(absPath)
    const content =
      st.isFile() && st.size <= 4 * 1024 * 1024
        ? createHash('sha1').update(readFileSync(absPath)).digest('base64')
        : ''
    return `${st.ino}:${st.size}:${st.mtimeMs}:${content}`
  } catch {
    return 'missing'
  }
}

export interface WatchOptions extends IgnoreOptions {
  /** Paths to watch, relative to root (default: the whole root). */
  paths?: string[]
  /** Quiet time after the last event before a burst counts as done. */
  debounceMs: number
  /** First event of a burst (the app can start stopping right away). */
  onBurstStart?: (file: string) => void
  /**
   * A burst ended: the files that changed, relative to root, in order of first change. Files that
   * no longer exist are left out (a temporary file renamed over the real one), unless nothing else
   * changed (a deletion).
   */
  onChange: (files: string[]) => void
}

/**
 * How long to wait for more writes before a burst counts as done: the configured quiet time, or
 * twice the widest gap seen so far in this burst when that is longer (a tool saving every 30 ms is
 * still one burst), but never more than MAX_ADAPTIVE_QUIET_MS. A single save waits just `debounceMs`.
 */
export function quietTime(debounceMs: number, widestGapMs: number): number {
  return Math.max(debounceMs, Math.min(2 * widestGapMs, MAX_ADAPTIVE_QUIET_MS))
}

export const MAX_ADAPTIVE_QUIET_MS = 400

export interface AppWatcher {
  close(): Promise<void>
}

export async function watchApp(opts: WatchOptions): Promise<AppWatcher> {
  const isIgnored = createIgnoreMatcher(opts)
  const targets = (opts.paths?.length ? opts.paths : ['.']).map((p) => join(opts.root, p))
  const watcher: FSWatcher = watch(targets, {
    ignoreInitial: true,
    ignored: (path, stats) => isIgnored(path, stats ? stats.isDirectory() : undefined),
  })
  let burst: string[] = []
  let timer: NodeJS.Timeout | undefined
  let lastAt = 0
  let widestGap = 0
  // How each file looked when the last burst it was in settled. Watchers report one save more than
  // once (chokidar confirms a rename ~100 ms later, after its raw event): an event for a file that
  // still looks exactly like that is an echo, not a new save, and starts no burst.
  const settledAs = new Map<string, string>()
  const activity = (absPath: string) => {
    const rel = relative(opts.root, absPath) || '.'
    const now = performance.now()
    if (burst.length === 0) {
      if (settledAs.get(rel) === signature(absPath)) return
      widestGap = 0
      opts.onBurstStart?.(rel)
    } else widestGap = Math.max(widestGap, now - lastAt)
    lastAt = now
    if (!burst.includes(rel)) burst.push(rel)
    clearTimeout(timer)
    timer = setTimeout(
      () => {
        const files = burst
        burst = []
        const present: string[] = []
        for (const file of files) {
          const sig = signature(join(opts.root, file))
          settledAs.set(file, sig)
          if (sig !== 'missing') present.push(file)
        }
        opts.onChange(present.length > 0 ? present : files)
      },
      quietTime(opts.debounceMs, widestGap),
    )
  }
  // chokidar's own events are filtered and reliable, but it throttles 'change' to one per ~50 ms per
  // file, which would split a burst of quick saves into several. Its unthrottled 'raw' events (one per
  // write) extend the burst, so the quiet time is measured from the very last write.
  watcher.on('all', (event, path) => {
    if (event !== 'addDir') activity(path) // a new folder alone changes nothing; its files will
  })
  watcher.on('raw', (_event, name, details) => {
    const watched = (details as { watchedPath?: string }).watchedPath
    if (!watched || !name) return
    const full = watched === name || watched.endsWith(`${sep}${name}`) ? watched : join(watched, name)
    if (!isIgnored(full)) activity(full)
  })
  await new Promise<void>((resolve, reject) => {
    watcher.once('ready', () => resolve())
    watcher.once('error', reject)
  })
  return {
    async close() {
      clearTimeout(timer)
      await watcher.close()
    },
  }
}
