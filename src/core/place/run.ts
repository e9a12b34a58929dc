/**
 * `assist place` and the place `assist run` starts when it has no URL: start a place with log lines
 * for people (one per agent event; interactions with --verbose), and turn bind errors into UserErrors.
 */
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import type { Reporter } from '../output.js'
import { isValidHost } from '../urls.js'
import { type ViewFlags, viewLine } from '../view/attach.js'
import { DEFAULT_PLACE_NAME, Place, type PlaceLog } from './place.js'

export interface PlaceRunOptions {
  host: string
  port: number
  name?: string
  publicHost?: string
  verbose?: boolean
  reporter: Reporter
  /** Prefix for each log line (e.g. "place" when it shares a terminal with an app). */
  tag?: string
  /** The web view (default: on, a free port); false: none. */
  view?: ViewFlags | false
  /** Drop an agent that stops acknowledging after this many ms (default 20 000, like allonet). */
  peerTimeoutMs?: number
  /** The flag that sets the port, named in errors (default --port; `assist run` has --place-port). */
  portFlag?: string
}

function clock(): string {
  return new Date().toTimeString().slice(0, 8)
}

/** Log lines for people: a time, then the event. Interaction detail only when verbose. */
export function placeLog(reporter: Reporter, verbose = false, tag?: string): PlaceLog {
  const prefix = tag ? `[${tag}] ` : ''
  return {
    info: (m) => reporter.info(`${prefix}${clock()} ${m}`),
    warn: (m) => reporter.warn(`${prefix}${clock()} ${m}`),
    debug: verbose ? (m) => reporter.info(`${prefix}${clock()} ${m}`) : undefined,
  }
}

/** Starts a place; bad flags and a busy port are UserErrors. */
export async function startPlace(opts: PlaceRunOptions): Promise<Place> {
  const portFlag = opts.portFlag ?? '--port'
  if (!isValidHost(opts.host))
    throw new UserError(
      `--host ${JSON.stringify(opts.host)} is not an IP address or host name, e.g. --host 127.0.0.1`,
    )
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    throw new UserError(`${portFlag} ${opts.port} is not a UDP port from 0 to 65535 (0 picks a free one)`)
  const name = opts.name ?? DEFAULT_PLACE_NAME
  if (name.trim() === '')
    throw new UserError('--name is empty: give the place a name, e.g. --name "My place"')
  try {
    return await Place.start({
      host: opts.host,
      port: opts.port,
      name,
      publicHost: opts.publicHost,
      log: placeLog(opts.reporter, opts.verbose, opts.tag),
      timeoutMs: opts.peerTimeoutMs,
    })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE')
      throw new UserError(
        `UDP port ${opts.port} on ${opts.host} is already in use (another place?): stop it, or pass ${portFlag} with another port (0 picks a free one).`,
        EXIT.network,
      )
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EINVAL')
      throw new UserError(
        `Cannot listen on ${opts.host}: it is not an address of this machine. Use e.g. --host 127.0.0.1 or --host 0.0.0.0.`,
        EXIT.network,
      )
    if (code === 'EACCES')
      throw new UserError(
        `Not allowed to listen on UDP port ${opts.port}: use a port above 1023, e.g. ${portFlag} 21337.`,
        EXIT.network,
      )
    throw err
  }
}

/** `assist place`: runs until SIGINT/SIGTERM; resolves with the exit status. */
export async function runPlace(opts: PlaceRunOptions): Promise<number> {
  const place = await startPlace(opts)
  const { reporter } = opts
  // The view starts first, so that once the place says it is listening, Ctrl-C is handled.
  const view = await startView(place, opts)
  reporter.info(`Place ${JSON.stringify(place.name)} is listening on ${place.url} (UDP).`)
  reporter.info(`Connect an app with: assist run ${place.url}   — Ctrl-C stops the place.`)
  if (view) reporter.info(viewLine(view.url))
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, stop)
      reporter.info(`${signal}: closing the place (${place.agentList().length} agents connected)…`)
      resolve()
    }
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop)
  })
  await view?.close()
  await place.close()
  reporter.info('Place closed.')
  return EXIT.ok
}

/** The web view beside a place (unless `view: false`); closes the place if the view cannot start. */
export async function startView(
  place: Place,
  opts: { view?: ViewFlags | false; reporter: Reporter },
): Promise<{ url: string; close(): Promise<void> } | null> {
  if (opts.view === false) return null
  const { attachView } = await import('../view/attach.js')
  try {
    return await attachView(place, opts.view ?? {}, opts.reporter)
  } catch (err) {
    await place.close()
    throw err
  }
}
