/**
 * `assist doctor`: every check is data — `{name, ok, detail, fix}` — gathered by `runDoctor` and
 * rendered by the pure `formatDoctor`. Nothing here changes the app.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { libraryAdvice } from './deps/advice.js'
import { allouiStatus, SUBMODULE_UPDATE } from './deps/alloui.js'
import { checkLibraryHeader, PLATFORM_WORDS, readHeader } from './deps/header.js'
import { DEFAULT_ALLONET_VERSION, isVersion, LOCK_FILE, readCache, readLock } from './deps/lock.js'
import { buildTools } from './deps/tools.js'
import { isUserError } from './errors.js'
import { isFile } from './fsutil.js'
import { runCommand } from './launcher.js'
import { c } from './output.js'
import {
  ALLOUI_APP_BOOT,
  ALLOUI_DIR,
  type AppProject,
  allonetPlatform,
  findAppRoot,
  loadProject,
} from './project.js'
import {
  LUAJIT_INSTALL_HINT,
  POLL_FIX_ENV,
  pollFixSetting,
  resolveBootScript,
  resolveLuajit,
} from './runtimes/lua.js'
import { parsePlaceUrl } from './urls.js'

export interface Check {
  name: string
  ok: boolean
  /** Passed, but worth knowing (printed with "!"; not counted as a failure). */
  warning?: boolean
  detail: string
  /** What to do about it; set when `ok` is false. */
  fix?: string
}

export interface DoctorOptions {
  cwd: string
  env?: NodeJS.ProcessEnv
  /** --luajit */
  luajit?: string
  /** --place: a place URL to parse and resolve. */
  place?: string
  /** The gateway port that must be free (default 8000). */
  port?: number
  /** For tests: the Node version to judge (default this process's). */
  nodeVersion?: string
}

/**
 * How the app's alloui calls liballonet's alloclient_poll(client, int timeout_ms): 'seconds' when
 * Client:poll hands its timeout over unchanged (alloui's run loop passes 1/hz seconds, which C
 * truncates to 0 ms: an idle app spins), 'milliseconds' when it converts, undefined when unknown.
 */
export function allouiPollUnits(clientLua: string): 'seconds' | 'milliseconds' | undefined {
  const m = /function\s+Client[:.]poll\s*\(([^)]*)\)([\s\S]*?)\n\s*end\b/.exec(clientLua)
  const body = m?.[2]
  if (!body?.includes('alloclient_poll')) return undefined
  return /1000|1e3|_ms\b/.test(body) ? 'milliseconds' : 'seconds'
}

function allouiPollCheck(root: string, env: NodeJS.ProcessEnv): Check | undefined {
  let source: string
  try {
    source = readFileSync(join(root, ALLOUI_DIR, 'lua', 'alloui', 'client.lua'), 'utf8')
  } catch {
    return undefined
  }
  const units = allouiPollUnits(source)
  if (units === undefined) return undefined
  if (units === 'milliseconds') return ok('alloui poll', 'Client:poll passes milliseconds to liballonet')
  let project: AppProject | undefined
  try {
    project = loadProject(root)
  } catch {
    project = undefined
  }
  const setting = project ? pollFixSetting(project, { env }) : { on: true, source: 'default' }
  const bug =
    'Client:poll passes seconds to alloclient_poll, which takes milliseconds (an idle app would spin a core)'
  return setting.on
    ? ok('alloui poll', `${bug}; assist converts them to milliseconds for every app it starts`)
    : bad(
        'alloui poll',
        `${bug}, and the poll fix is off (${setting.source})`,
        `turn it back on: drop ${setting.source === `${POLL_FIX_ENV}=0` ? `${POLL_FIX_ENV}=0 from the environment` : '"pollFix": false from alloapp.json'}`,
      )
}

export const MIN_NODE = '20.19.0'
export const DEFAULT_GATEWAY_PORT = 8000

function versionAtLeast(v: string, min: string): boolean {
  const a = v.replace(/^v/, '').split('.').map(Number)
  const b = min.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

const ok = (name: string, detail: string): Check => ({ name, ok: true, detail })
const bad = (name: string, detail: string, fix: string): Check => ({ name, ok: false, detail, fix })

export function nodeCheck(version: string): Check {
  return versionAtLeast(version, MIN_NODE)
    ? ok('Node.js', `v${version.replace(/^v/, '')} (needs ≥ ${MIN_NODE})`)
    : bad(
        'Node.js',
        `v${version.replace(/^v/, '')} is too old (needs ≥ ${MIN_NODE})`,
        'install Node.js 20.19 or newer (e.g. nvm install 22)',
      )
}

/** The LuaJIT FFI load test: the real luajit `ffi.load`s the library. */
export const FFI_LOAD_LUA =
  "local ffi = require('ffi') local ok, err = pcall(ffi.load, os.getenv('ASSIST_DOCTOR_LIB')) " +
  "if not ok then io.stderr:write(tostring(err), '\\n') os.exit(1) end io.write('loaded\\n')"

async function luaChecks(root: string, opts: DoctorOptions, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const project = loadProject(root)
  const checks: Check[] = []
  // LuaJIT
  let luajit: string | undefined
  try {
    const found = resolveLuajit(project, { luajit: opts.luajit, env })
    if (!found.path) checks.push(bad('LuaJIT', 'not found on PATH', LUAJIT_INSTALL_HINT))
    else {
      const r = await runCommand([found.path, '-v'], { env, timeoutMs: 10_000 }).catch((e: Error) => e)
      if (r instanceof Error || r.code !== 0) {
        const why = r instanceof Error ? r.message : (r.stderr || r.stdout).trim() || `exit code ${r.code}`
        checks.push(
          bad('LuaJIT', `${found.path} does not run: ${why}`, `reinstall it: ${LUAJIT_INSTALL_HINT}`),
        )
      } else {
        luajit = found.path
        const v = (r.stdout || r.stderr).trim().split('\n')[0].split(' -- ')[0]
        checks.push(ok('LuaJIT', `${v} at ${found.path} (from ${found.source})`))
      }
    }
  } catch (err) {
    if (!isUserError(err)) throw err
    checks.push(bad('LuaJIT', err.message, 'fix --luajit / ALLO_LUAJIT, or unset it to use luajit on PATH'))
  }
  // Boot script
  const boot = resolveBootScript(project)
  checks.push(
    boot
      ? ok('boot script', boot.slice(root.length + 1))
      : bad(
          'boot script',
          `neither allo/boot.lua nor ${ALLOUI_APP_BOOT} exists`,
          `restore allo/boot.lua from git (git checkout -- allo/boot.lua), or check out alloui, which has app_boot.lua: ${SUBMODULE_UPDATE}`,
        ),
  )
  // alloui
  const ui = await allouiStatus(root, env)
  if (!ui.present)
    checks.push(
      bad(
        'alloui',
        `${ALLOUI_DIR} is missing or empty`,
        ui.recorded
          ? `run ${SUBMODULE_UPDATE}`
          : `add it: git submodule add https://github.com/alloverse/alloui-lua ${ALLOUI_DIR} && ${SUBMODULE_UPDATE}`,
      ),
    )
  else if (ui.recorded && ui.checkedOut && ui.recorded !== ui.checkedOut)
    checks.push(
      bad(
        'alloui',
        `checked out at ${ui.checkedOut.slice(0, 10)}, but the app records ${ui.recorded.slice(0, 10)}`,
        `run ${SUBMODULE_UPDATE} (or commit the new submodule commit if you meant to move it)`,
      ),
    )
  else if (ui.recorded && ui.checkedOut)
    checks.push(ok('alloui', `at the recorded commit ${ui.recorded.slice(0, 10)}`))
  else checks.push(ok('alloui', 'present (not a git submodule of the app, so its commit is not checked)'))
  if (ui.present) {
    const poll = allouiPollCheck(root, env)
    if (poll) checks.push(poll)
  }
  // allonet
  const p = allonetPlatform()
  if (!p) {
    checks.push(
      bad(
        'allonet library',
        `no allonet builds exist for ${process.platform}-${process.arch}`,
        'build it and use `assist fetch --from FILE`',
      ),
    )
    return checks
  }
  const lib = join(root, 'allo', 'lib', p.file)
  const lock = readLock(root)
  const cache = readCache(root)
  const advice = libraryAdvice(env, project.config.allonet?.baseUrl)
  // Reinstalling: from the mirror with --force, else the same build (a cached build is reused).
  const reinstall = advice.how === 'download' ? 'run `assist fetch --force` to reinstall it' : advice.text
  // Locking a version: `assist upgrade` asks the mirror for the newest; without one, lock the version
  // the templates ship (the one KNOWN to build) and get it the way this machine can.
  const relock =
    advice.how === 'download'
      ? 'run `assist upgrade` to lock the newest build'
      : `lock the version new apps use: echo ${DEFAULT_ALLONET_VERSION} > ${LOCK_FILE}; then ${advice.text.replace(/^run /, '')}`
  if (!lock) checks.push(bad('allonet version', `no ${LOCK_FILE}`, relock))
  else if (!isVersion(lock))
    checks.push(bad('allonet version', `${LOCK_FILE} holds "${lock}", not a version`, relock))
  if (!isFile(lib)) {
    // One failure for one missing library: its version (or the missing lock, whose fix installs it
    // too) is not a second problem.
    if (lock && isVersion(lock))
      checks.push(
        bad('allonet library', `missing: allo/lib/${p.file} (${LOCK_FILE} wants ${lock})`, advice.text),
      )
    return checks
  }
  checks.push(ok('allonet library', `allo/lib/${p.file}`))
  if (lock && isVersion(lock)) {
    if (cache !== lock)
      checks.push(
        bad(
          'allonet version',
          cache
            ? `installed ${cache}, but ${LOCK_FILE} wants ${lock}`
            : `${LOCK_FILE} wants ${lock}; the installed version is unknown`,
          advice.text,
        ),
      )
    else checks.push(ok('allonet version', `${lock} (matches the lock)`))
  }
  if (isFile(lib)) {
    const verdict = checkLibraryHeader(readHeader(lib), p.platform)
    if (!verdict.ok) {
      checks.push(
        bad(
          'allonet architecture',
          `allo/lib/${p.file} is ${verdict.kind}, not ${PLATFORM_WORDS[p.platform]}`,
          reinstall,
        ),
      )
    } else {
      checks.push(ok('allonet architecture', verdict.kind))
      if (luajit) {
        const r = await runCommand([luajit, '-e', FFI_LOAD_LUA], {
          env: { ...env, ASSIST_DOCTOR_LIB: lib },
          timeoutMs: 15_000,
        }).catch((e: Error) => e)
        if (!(r instanceof Error) && r.code === 0 && r.stdout.includes('loaded'))
          checks.push(ok('allonet loads in LuaJIT', 'ffi.load succeeded'))
        else {
          const why =
            r instanceof Error ? r.message : r.stderr.trim().split('\n').pop() || `exit code ${r.code}`
          checks.push(bad('allonet loads in LuaJIT', `ffi.load failed: ${why}`, reinstall))
        }
      }
    }
  }
  return checks
}

async function placeCheck(raw: string): Promise<Check> {
  let place: ReturnType<typeof parsePlaceUrl>
  try {
    place = parsePlaceUrl(raw)
  } catch (err) {
    if (!isUserError(err)) throw err
    return bad('place URL', err.message, 'give --place alloplace://HOST[:PORT]')
  }
  const { lookup } = await import('node:dns/promises')
  try {
    const addr = await Promise.race([
      lookup(place.host),
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error('DNS lookup timed out after 5 s')), 5000).unref(),
      ),
    ])
    return ok('place URL', `${place.href} → ${addr.address}`)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    return bad(
      'place URL',
      `${place.host} does not resolve (${e.code ?? e.message})`,
      'check the host name for typos and your network/DNS',
    )
  }
}

async function portCheck(port: number): Promise<Check> {
  const net = await import('node:net')
  const name = 'gateway port'
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        resolve(
          bad(
            name,
            `port ${port} is already in use`,
            `stop what listens there (see: ss -ltnp 'sport = :${port}'), or serve on another port with --port`,
          ),
        )
      else if (err.code === 'EACCES')
        resolve(
          bad(
            name,
            `port ${port} needs root to listen on`,
            'use a port above 1023, with nginx in front for 80/443',
          ),
        )
      else resolve(bad(name, `cannot listen on port ${port}: ${err.message}`, 'use another port with --port'))
    })
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => {
      server.close(() => resolve(ok(name, `port ${port} is free`)))
    })
  })
}

/** Runs every check for the app at (or above) `cwd`. Order is the order printed. */
export async function runDoctor(opts: DoctorOptions): Promise<Check[]> {
  const env = opts.env ?? process.env
  const checks: Check[] = [nodeCheck(opts.nodeVersion ?? process.versions.node)]
  const root = findAppRoot(opts.cwd)
  if (!root) {
    checks.push(
      bad(
        'app folder',
        `no app in ${opts.cwd} or above (looked for lua/main.lua or alloapp.json)`,
        'cd into your app, or create one with `assist create`',
      ),
    )
  } else {
    let project: ReturnType<typeof loadProject> | undefined
    try {
      project = loadProject(root)
    } catch (err) {
      if (!isUserError(err)) throw err
      checks.push(bad('app folder', err.message, 'fix alloapp.json / info.json'))
    }
    if (project) {
      const layout =
        project.kind === 'command'
          ? `command app: ${(project.config.start ?? []).join(' ')}`
          : project.luaLayout === 'boot'
            ? 'Lua app, allo/boot.lua layout'
            : project.luaLayout === 'alloui-app-boot'
              ? 'Lua app, alloui app_boot.lua layout'
              : 'Lua app, no boot script'
      checks.push(ok('app folder', `${root} (${layout})`))
      if (project.kind === 'lua') checks.push(...(await luaChecks(root, opts, env)))
    }
  }
  // Build tools only matter for building allonet: a missing one is a warning, and a missing library's
  // own fix line already says what to install.
  for (const t of buildTools(env)) {
    checks.push(
      t.path
        ? ok(t.name, `${t.path} (for \`assist fetch --build\`)`)
        : {
            name: t.name,
            ok: true,
            warning: true,
            detail: `not installed (only \`assist fetch --build\` needs it: ${t.install})`,
          },
    )
  }
  if (opts.place !== undefined) checks.push(await placeCheck(opts.place))
  checks.push(await portCheck(opts.port ?? DEFAULT_GATEWAY_PORT))
  return checks
}

/** The ✓/✗ table, with a "fix:" line under each ✗ and a summary line. Pure. */
export function formatDoctor(checks: Check[], color = c): string {
  const width = Math.max(...checks.map((ch) => ch.name.length))
  const lines: string[] = []
  for (const ch of checks) {
    const mark = !ch.ok ? color.red('✗') : ch.warning ? color.yellow('!') : color.green('✓')
    lines.push(`${mark} ${ch.name.padEnd(width)}  ${ch.detail}`)
    if (!ch.ok && ch.fix) lines.push(`  ${' '.repeat(width)}  ${color.yellow('fix:')} ${ch.fix}`)
  }
  const failed = checks.filter((ch) => !ch.ok).length
  const warned = checks.filter((ch) => ch.ok && ch.warning).length
  const warnings = warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''
  lines.push('')
  lines.push(
    failed === 0
      ? color.green(`All ${checks.length} checks passed${warnings}.`)
      : color.red(`${failed} of ${checks.length} checks failed${warnings}.`),
  )
  return `${lines.join('\n')}\n`
}
