/**
 * `assist run`: one app connected to a place, restarted on every burst of saves, on `rs`, and
 * (optionally) after a crash. Resolves with the status `run` should exit with.
 */
import { createInterface } from 'node:readline'
import { ConnectFailureFilter, connectFailureMessage } from './app-output.js'
import { UserError } from './errors.js'
import { EXIT, signalExit } from './exit-codes.js'
import { APP_EXIT, describeExit, type ExitInfo, type Instance, startInstance } from './launcher.js'
import type { Reporter } from './output.js'
import { type AppProject, findProject } from './project.js'
import { launchSpecFor } from './runtimes/index.js'
import { pollFixNote } from './runtimes/lua.js'
import { isCrash, Supervisor } from './supervisor.js'
import { type ViewFlags, viewLine } from './view/attach.js'
import { ownOutputFiles, watchApp } from './watch.js'

export interface RunOptions {
  cwd: string
  /** Canonical alloplace:// URL. */
  placeUrl: string
  luajit?: string
  watch: boolean
  watchPaths?: string[]
  ignore?: string[]
  debounceMs: number
  graceMs: number
  restartOnCrash: boolean
  /** JSON object text for ALLO_APP_BOOT_ARGS. */
  launchArgs?: string
  /** JSON text for ALLO_APP_BOOTED_BY_IDENTITY. */
  identity?: string
  /** Where `rs` + Enter is read from (null: no manual restarts). */
  stdin?: NodeJS.ReadableStream | null
  reporter: Reporter
  /** Resolves once the app has been started the first time (for callers that wait on it). */
  onFirstStart?: () => void
  /** false: --no-poll-fix. */
  pollFix?: boolean
  /** Print the one-line notes of --verbose. */
  verbose?: boolean
  /** Called when an instance's process has exited (the built-in place drops what it left). */
  onInstanceExit?: (instance: Instance) => void
  /** The place is the one runWithBuiltInPlace started (changes what a connect failure says). */
  builtInPlace?: boolean
  /** The web view of the (remote) place beside the app (`--view`); off by default. */
  view?: ViewFlags | false
}

/** A working example value for each JSON flag, shown when the given one is wrong. */
const JSON_FLAG_EXAMPLES: Record<string, string> = {
  '--launch-args': '{"initialLocation":[1,0,0,0,0,1,0,0,0,0,1,0,0,0,-2,1]}',
  '--identity': '{"display_name":"me"}',
}

/** Checks a flag value is a JSON object (or any JSON when `objectOnly` is false). */
export function parseJsonFlag(flag: string, text: string, objectOnly: boolean): string {
  const example = `${flag} '${JSON_FLAG_EXAMPLES[flag] ?? '{}'}'`
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new UserError(`${flag} is not valid JSON: pass e.g. ${example}.`)
  }
  if (objectOnly && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new UserError(`${flag} must be a JSON object, e.g. ${example}.`)
  }
  return text
}

function summarise(files: string[]): string {
  return files.length === 1 ? files[0] : `${files[0]} and ${files.length - 1} more`
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

export async function runApp(opts: RunOptions): Promise<number> {
  const { reporter } = opts
  const project: AppProject = findProject(opts.cwd)
  const runtime = { luajit: opts.luajit, pollFix: opts.pollFix }
  const spec = launchSpecFor(project, opts.placeUrl, runtime)
  if (opts.verbose && project.kind === 'lua') reporter.info(pollFixNote(project, runtime))
  const tag = project.name
  const view = opts.view ? await startRemoteView(opts.placeUrl, opts.view, reporter) : null
  // Plain run (--no-watch, no --restart-on-crash): nothing brings the app back, so run ends with it.
  const plain = !opts.watch && !opts.restartOnCrash
  const waitHint = opts.stdin ? ' (or type rs + Enter)' : ''
  let firstStart = true
  // Each instance's output goes through its own filter (a connect failure is held back, then said in one line).
  const filters = new WeakMap<Instance, ConnectFailureFilter>()
  let connectFailed = false

  const supervisor = new Supervisor({
    restartOnCrash: opts.restartOnCrash,
    graceMs: opts.graceMs,
    start: async () => {
      const filter = new ConnectFailureFilter((line, stream) => reporter.appLine(tag, line, stream))
      const instance = await startInstance({
        spec,
        tag,
        bootArgs: opts.launchArgs,
        identity: opts.identity,
        onLine: (line, stream) => filter.line(line, stream),
      })
      filters.set(instance, filter)
      if (opts.onInstanceExit) void instance.exited.then(() => opts.onInstanceExit?.(instance))
      return instance
    },
    events: {
      started(instance, reason) {
        reporter.info(`${reason}: ${tag} (pid ${instance.pid}) → ${opts.placeUrl}`)
        if (firstStart) {
          firstStart = false
          opts.onFirstStart?.()
        }
      },
      exited(instance, exit, next) {
        const filter = filters.get(instance)
        connectFailed = (filter?.sawConnectFailure ?? false) && isCrash(exit)
        filter?.settle(connectFailed)
        const how = `${tag} ${describeExit(exit)} after ${formatSeconds(exit.lifetimeMs)}`
        if (next.action === 'wait' && !next.crashed) {
          reporter.info(plain ? `${how}.` : `${how}. Waiting for a change${waitHint}.`)
          return
        }
        // Its output was shown live, line by line: not again here.
        reporter.error(
          connectFailed
            ? `✖ ${connectFailureMessage(opts.placeUrl, opts.builtInPlace === true)}`
            : `✖ ${how}.`,
        )
        if (next.action === 'restart')
          reporter.warn(`Restarting in ${formatSeconds(next.delayMs)} (--restart-on-crash).`)
        else if (!plain) reporter.info(`Waiting for a change to restart${waitHint}.`)
      },
      startFailed(err) {
        reporter.error(`✖ ${err.message}. Waiting for a change.`)
      },
    },
  })

  const watcher = opts.watch
    ? await watchApp({
        root: project.root,
        paths: opts.watchPaths ?? project.config.watch,
        extra: [...(project.config.ignore ?? []), ...(opts.ignore ?? [])],
        // `assist run > run.out` in the app folder: what we print must not restart the app.
        ignoreFiles: ownOutputFiles(),
        debounceMs: opts.debounceMs,
        onBurstStart: () => supervisor.prepareRestart(),
        onChange: (files) => {
          supervisor.resetBackoff()
          void supervisor.restart(`↻ ${summarise(files)} changed, restarted`)
        },
      })
    : undefined

  const rl = opts.stdin ? createInterface({ input: opts.stdin, terminal: false }) : undefined
  rl?.on('line', (line) => {
    if (line.trim() === 'rs') {
      supervisor.resetBackoff()
      void supervisor.restart('↻ restarted by hand')
    }
  })

  await supervisor.restart('▶ started')

  let stoppedBy: NodeJS.Signals | undefined
  const exit = await new Promise<ExitInfo | undefined>((resolve) => {
    let signalled = false
    const onSignal = (signal: NodeJS.Signals) => {
      stoppedBy ??= signal
      if (signalled) {
        reporter.warn(`${signal} again: killing ${tag} now.`)
        void supervisor.close(true).then(resolve)
        return
      }
      signalled = true
      reporter.info(`${signal}: stopping ${tag}…`)
      void supervisor.close().then(resolve)
    }
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal)
    if (plain) {
      const followUntilExit = async () => {
        for (;;) {
          const inst = supervisor.instance
          if (!inst) return resolve(supervisor.lastExitInfo)
          const e = await inst.exited
          if (!e.stopped) return resolve(e)
          await supervisor.restarting // replaced by `rs`: follow the new instance
          if (supervisor.instance === inst) return resolve(e)
        }
      }
      void followUntilExit()
    }
  })
  rl?.close()
  await watcher?.close()
  await view?.close()
  return runStatus(exit, stoppedBy, connectFailed)
}

/**
 * What `run` exits with (see exit-codes.ts): 128 + N when a signal N stopped it; otherwise (the app
 * ended a plain run) 0 when it exited 0, EXIT.network when it could not reach the place, else EXIT.appFailed.
 */
export function runStatus(
  exit: Pick<ExitInfo, 'code' | 'signal'> | undefined,
  stoppedBy: NodeJS.Signals | undefined,
  connectFailed: boolean,
): number {
  if (stoppedBy) return signalExit(stoppedBy)
  if (!exit || !isCrash(exit)) return EXIT.ok
  // The app lost its place (assist-boot.lua's exit 81), or never reached it: a network failure.
  return connectFailed || exit.code === APP_EXIT.lostPlace ? EXIT.network : EXIT.appFailed
}

/** `assist run alloplace://… --view`: the web view of that place, as a client of it. */
async function startRemoteView(
  placeUrl: string,
  flags: ViewFlags,
  reporter: Reporter,
): Promise<{ close(): Promise<void> }> {
  const [{ attachRemoteView }, { parsePlaceUrl }] = await Promise.all([
    import('./view/attach.js'),
    import('./urls.js'),
  ])
  const view = await attachRemoteView(
    parsePlaceUrl(placeUrl),
    flags,
    reporter,
    (err) => reporter.error(`✖ The web view stopped: ${err.message}`),
    'view',
  )
  reporter.info(viewLine(view.url))
  return view
}

export interface BuiltInPlaceOptions {
  /** UDP port (default 0: a free one). */
  port?: number
  name?: string
  /** Log every interaction. */
  verbose?: boolean
  /** The web view (default: on, a free port); false: none. */
  view?: ViewFlags | false
}

/**
 * `assist run` without a URL (or with --place): starts a development place in this process on
 * 127.0.0.1, connects the app to it, and closes the place when run ends.
 */
export async function runWithBuiltInPlace(
  opts: Omit<RunOptions, 'placeUrl'> & { place: BuiltInPlaceOptions },
): Promise<number> {
  // Fail on a missing app or runtime before a place is started.
  const project = findProject(opts.cwd)
  launchSpecFor(project, 'alloplace://127.0.0.1:21337', { luajit: opts.luajit, pollFix: opts.pollFix })
  const { startPlace, startView } = await import('./place/run.js')
  const place = await startPlace({
    host: '127.0.0.1',
    port: opts.place.port ?? 0,
    name: opts.place.name,
    publicHost: '127.0.0.1',
    verbose: opts.place.verbose,
    reporter: opts.reporter,
    tag: 'place',
    // An app that could not say goodbye (killed, or not started through assist-boot.lua) is
    // forgotten within seconds rather than allonet's 20.
    peerTimeoutMs: 5000,
    portFlag: '--place-port',
  })
  opts.reporter.info(`Built-in place ${JSON.stringify(place.name)} is listening on ${place.url}`)
  const view = await startView(place, { view: opts.place.view, reporter: opts.reporter })
  if (view) opts.reporter.info(viewLine(view.url))
  try {
    // The moment an instance's process is gone, so is what it left in the place (a crash included).
    return await runApp({
      ...opts,
      placeUrl: place.url,
      builtInPlace: true,
      onInstanceExit: (i) => void place.dropLaunch(i.token),
    })
  } finally {
    await view?.close()
    await place.close()
  }
}
