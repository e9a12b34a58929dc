/**
 * `assist fetch --build`: clone allonet at the locked version's commit (with submodules), build the
 * shared library with CMake (Release), and install it atomically. Builds are cached outside the app
 * (`$XDG_CACHE_HOME/allo-assist` or `~/.cache/allo-assist`), keyed by source URL + commit, so the
 * second app on the machine installs instantly.
 */
import { createHash } from 'node:crypto'
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs'
import { availableParallelism, homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { isFile } from '../fsutil.js'
import { type CommandResult, LaunchError, runCommand } from '../launcher.js'
import { type LockEvents, withLock } from './fetch-lock.js'
import { assertLibrary, commitTemp, libraryTarget, type PlatformInfo, tempBeside } from './install.js'
import { interrupted, release, removeOnInterrupt } from './interrupt.js'
import { commitOfVersion, writeFileAtomic } from './lock.js'
import {
  checkoutSubmodules,
  describeSource,
  formatSource,
  KNOWN_GOOD,
  type KnownGood,
  readSourceRecord,
  SOURCE_RECORD,
  type SourceRecord,
} from './submodules.js'
import { buildTools, installHint } from './tools.js'

export const DEFAULT_ALLONET_URL = 'https://github.com/alloverse/allonet.git'
export const DEFAULT_TARGET = 'allonet'

export interface BuildOptions {
  version: string
  /** Git URL or local path of allonet (default the public repository). */
  sourceUrl?: string
  /** CMake target that builds the shared library (default `allonet`). */
  target?: string
  env?: NodeJS.ProcessEnv
  /** One line per step ("cloning …", "configuring …"). */
  onStep?: (message: string) => void
  /** Build progress in percent, from CMake's `[ NN%]` lines. */
  onPercent?: (percent: number) => void
  /** Waiting for (or taking over) the build-cache lock another assist holds. */
  lockEvents?: LockEvents
  /** One line when the build departs from what allonet pins (a submodule fallback). */
  onWarn?: (line: string) => void
  /** Known-good submodule commits per allonet commit (default KNOWN_GOOD). */
  knownGood?: KnownGood
}

export interface BuildOutcome {
  version: string
  commit: string
  target: string
  /** True when the library came from the build cache (no clone, no cmake). */
  cached: boolean
  cacheDir: string
  logPath: string
  /** What was built: allonet's commit and every submodule's (undefined for a cache made by an older assist). */
  source?: SourceRecord
}

/** `$XDG_CACHE_HOME/allo-assist`, else `~/.cache/allo-assist`. */
export function cacheHome(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache')
  return join(base, 'allo-assist')
}

/** A local path or file:// URL → absolute path; anything else undefined. */
export function localSource(url: string): string | undefined {
  if (url.startsWith('file://')) return new URL(url).pathname
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/]+@[^/]+:/.test(url)) return undefined
  return resolve(url)
}

/** The cache folder for one source URL + commit. */
export function buildCacheDir(
  sourceUrl: string,
  commit: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const key = createHash('sha256')
    .update(localSource(sourceUrl) ?? sourceUrl)
    .digest('hex')
    .slice(0, 16)
  return join(cacheHome(env), 'allonet', `${key}-${commit}`)
}

/** Parses CMake/Make/Ninja progress: `[ 42%] Building …` or `[3/10] …`. */
export function parseBuildPercent(line: string): number | undefined {
  const pct = /^\[\s*(\d{1,3})%\]/.exec(line)
  if (pct) return Math.min(100, Number(pct[1]))
  const frac = /^\[(\d+)\/(\d+)\]/.exec(line)
  if (frac && Number(frac[2]) > 0) return Math.round((100 * Number(frac[1])) / Number(frac[2]))
  return undefined
}

/** Finds the built library (by file name) under `dir`, following symlinks to the real file. */
function findBuilt(dir: string, file: string): string | undefined {
  const stack = [dir]
  while (stack.length) {
    const d = stack.pop() as string
    let entries: import('node:fs').Dirent[]
    try {
      entries = readdirSync(d, { withFileTypes: true })
    } catch {
      continue
    }
    for (const e of entries) {
      const p = join(d, e.name)
      if (e.name === file && (e.isFile() || e.isSymbolicLink())) return realpathSync(p)
      if (e.isDirectory() && e.name !== 'CMakeFiles') stack.push(p)
    }
  }
  return undefined
}

/** Checks git, cmake and a C compiler are installed; names the missing ones with their install line. */
export function assertBuildTools(env: NodeJS.ProcessEnv = process.env): void {
  const missing = buildTools(env).filter((t) => !t.path)
  if (missing.length)
    throw new UserError(
      `\`assist fetch --build\` needs ${missing.map((t) => t.name).join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed: ` +
        `${missing.map(installHint).join('; ')}. Nothing was changed.`,
      EXIT.missingDependency,
    )
}

export async function buildFromSource(
  root: string,
  p: PlatformInfo,
  opts: BuildOptions,
): Promise<BuildOutcome> {
  const env = { ...(opts.env ?? process.env), GIT_TERMINAL_PROMPT: '0' }
  const commit = commitOfVersion(opts.version)
  const sourceUrl = opts.sourceUrl ?? DEFAULT_ALLONET_URL
  // git would read it as an option (--upload-pack=… runs a program).
  if (sourceUrl.startsWith('-'))
    throw new UserError(
      `--allonet-url ${JSON.stringify(sourceUrl)} starts with "-": give a git URL or the path of an allonet clone (./-name for a folder really called that).`,
    )
  const cmakeTarget = opts.target ?? DEFAULT_TARGET
  const local = localSource(sourceUrl)
  const cacheDir = buildCacheDir(sourceUrl, commit, env)
  const cachedLib = join(cacheDir, 'lib', p.file)
  const logPath = join(cacheDir, 'build.log')
  const target = libraryTarget(root, p)
  const step = (m: string) => opts.onStep?.(m)

  const install = (from: string) => {
    const tmp = tempBeside(target)
    try {
      copyFileSync(from, tmp)
      assertLibrary(tmp, p, from)
      commitTemp(tmp, target)
    } catch (err) {
      rmSync(tmp, { force: true })
      throw err
    }
  }

  // Installs the cached build; `how` is added to the step line (e.g. that another fetch just made it).
  const useCached = (how = ''): BuildOutcome => {
    step(`using the cached build of allonet ${opts.version} (${cacheDir})${how}`)
    install(cachedLib)
    return {
      version: opts.version,
      commit,
      target,
      cached: true,
      cacheDir,
      logPath,
      source: readSourceRecord(cacheDir),
    }
  }

  if (isFile(cachedLib)) return useCached()

  // Only a real build needs the tools and the source; name what is missing before anything starts.
  assertBuildTools(env)
  if (local !== undefined && !existsSync(local))
    throw new UserError(
      `--allonet-url ${sourceUrl}: no such folder. Give a git URL or the path of an allonet clone.`,
    )
  // One build per cache entry at a time (two apps, or two terminals, building the same version).
  return withLock(
    join(cacheDir, '.lock'),
    { what: 'assist fetch --build', where: `the build cache for allonet ${opts.version}` },
    opts.lockEvents ?? {},
    async () => {
      if (isFile(cachedLib)) return useCached(', just made by another assist fetch')
      mkdirSync(cacheDir, { recursive: true })
      appendFileSync(
        logPath,
        `\n=== assist fetch --build ${opts.version} from ${sourceUrl} (${new Date().toISOString()})\n`,
      )
      const log = (line: string) => appendFileSync(logPath, `${line}\n`)
      const fail = (what: string, r?: CommandResult, extra = ''): never => {
        const how = r ? (r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`) : ''
        throw new UserError(
          `Building allonet ${opts.version} failed while ${what}${how ? ` (${how})` : ''}${extra}. The full log is in ${logPath}. ` +
            'The installed library was not changed.',
          EXIT.failure,
        )
      }
      const run = async (what: string, argv: string[], cwd?: string, onLine?: (l: string) => void) => {
        log(`$ ${argv.join(' ')}`)
        let r: CommandResult
        try {
          r = await runCommand(argv, {
            cwd,
            env,
            signal: interrupted,
            onLine: (l) => {
              log(l)
              onLine?.(l)
            },
          })
        } catch (err) {
          if (err instanceof LaunchError) return fail(what, undefined, `: ${err.message}`)
          throw err
        }
        if (r.code !== 0) return fail(what, r)
        return r
      }
      // A local mirror's submodules are local paths too; git refuses those by default, so allow them for it.
      const gitCfg = local !== undefined ? ['-c', 'protocol.file.allow=always'] : []

      const src = join(cacheDir, 'src')
      if (!existsSync(join(src, '.git'))) {
        const tmpSrc = `${src}.${process.pid}.tmp`
        rmSync(tmpSrc, { recursive: true, force: true })
        removeOnInterrupt(tmpSrc)
        step(`cloning ${sourceUrl}`)
        try {
          await run('cloning', ['git', ...gitCfg, 'clone', '--no-checkout', '--', local ?? sourceUrl, tmpSrc])
          const has = await runCommand(['git', 'cat-file', '-e', `${commit}^{commit}`], { cwd: tmpSrc, env })
          if (has.code !== 0)
            throw new UserError(
              `Commit ${commit} (from allonet version ${opts.version}) is not in ${sourceUrl}. Check the version in allo/allonet.lock ` +
                'or point --allonet-url at a repository that has it.',
            )
          step(`checking out ${commit} with submodules`)
          await run('checking out', ['git', 'checkout', '--detach', commit, '--'], tmpSrc)
          await checkoutSubmodules(tmpSrc, {
            gitCfg,
            env,
            allonetCommit: commit,
            version: opts.version,
            knownGood: opts.knownGood ?? KNOWN_GOOD,
            run,
            warn: (line) => {
              log(`! ${line}`)
              opts.onWarn?.(line)
            },
          })
          rmSync(src, { recursive: true, force: true })
          renameSync(tmpSrc, src)
          release(tmpSrc)
        } catch (err) {
          rmSync(tmpSrc, { recursive: true, force: true })
          throw err
        }
      }

      // What exactly is built: allonet's commit and every submodule's (recorded once per cache entry).
      let source = readSourceRecord(cacheDir)
      if (!source) {
        source = await describeSource(src, env)
        writeFileAtomic(join(cacheDir, SOURCE_RECORD), `${JSON.stringify(source, null, 2)}\n`)
      }
      log(`=== source: ${formatSource(source).join('; ')}`)

      const buildDir = join(cacheDir, 'build')
      step('configuring (cmake, Release)')
      await run('configuring', ['cmake', '-S', src, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release'])
      step(`building the ${cmakeTarget} target`)
      await run(
        'building',
        [
          'cmake',
          '--build',
          buildDir,
          '--target',
          cmakeTarget,
          '--config',
          'Release',
          '--parallel',
          String(availableParallelism()),
        ],
        undefined,
        (l) => {
          const pct = parseBuildPercent(l)
          if (pct !== undefined) opts.onPercent?.(pct)
        },
      )
      const built = findBuilt(buildDir, p.file)
      if (!built)
        fail(
          'collecting the result',
          undefined,
          `: the build finished but made no ${p.file} (is --target right?)`,
        )
      assertLibrary(built as string, p, `The built ${built}`)
      mkdirSync(join(cacheDir, 'lib'), { recursive: true })
      const tmpLib = tempBeside(cachedLib)
      copyFileSync(built as string, tmpLib)
      renameSync(tmpLib, cachedLib)
      install(cachedLib)
      log('=== done')
      return { version: opts.version, commit, target, cached: false, cacheDir, logPath, source }
    },
  )
}
