/**
 * The web view beside a running place (`assist place`, `assist run` with the built-in place):
 * start it, print its URL, optionally open the browser. Heavy parts load lazily.
 */
import { UserError } from '../errors.js'
import { normalizeAllowedHost } from '../host-check.js'
import type { Reporter } from '../output.js'
import type { Place } from '../place/place.js'
import type { PlaceUrl } from '../urls.js'

export interface ViewFlags {
  /** HTTP port on 127.0.0.1 (0 or undefined: a free one). */
  port?: number
  /** Open the page in the default browser. */
  open?: boolean
  /** Host names besides localhost and IP addresses the view answers to (--allowed-host). */
  allowedHosts?: string[]
}

export interface AttachedView {
  url: string
  close(): Promise<void>
}

export function checkViewPort(port: number | undefined): void {
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new UserError(`--view-port ${port} is not a TCP port from 0 to 65535 (0 picks a free one).`)
  }
}

export async function attachView(place: Place, flags: ViewFlags, reporter: Reporter): Promise<AttachedView> {
  checkViewPort(flags.port)
  const { startPlaceView } = await import('./live.js')
  const view = await startPlaceView({
    place,
    port: flags.port ?? 0,
    allowedHosts: (flags.allowedHosts ?? []).map((h) => normalizeAllowedHost(h)),
    onError: (m) => reporter.warn(m),
  })
  if (flags.open) await openViewInBrowser(view.url, reporter)
  return view
}

/** --open: the view in the default browser, or one line saying where to go when none opens. */
async function openViewInBrowser(url: string, reporter: Reporter): Promise<void> {
  const { openInBrowser } = await import('../launcher.js')
  const cannot = (why: string) => reporter.warn(`Could not open a browser (${why}): visit ${url} yourself.`)
  await openInBrowser(url, cannot).catch((err: Error) => cannot(err.message))
}

/** The line that tells people where the view is. */
export function viewLine(url: string): string {
  return `Web view: ${url} (see and poke the place's entities in a browser)`
}

export interface RemoteViewFlags extends ViewFlags {
  /** Display name of the view's agent (default "web view"). */
  name?: string
  /** The announce identity object (its display_name wins over `name`). */
  identity?: Record<string, unknown>
}

/** Checks `--identity` text: a JSON object. */
export function parseIdentity(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new UserError(`--identity is not valid JSON: pass e.g. --identity '{"display_name":"me"}'.`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UserError(`--identity must be a JSON object, e.g. --identity '{"display_name":"me"}'.`)
  }
  return value as Record<string, unknown>
}

/**
 * The web view of a place anywhere (a client of it): start it, print its URL, optionally open the
 * browser. `onFatal` hears when the place refuses the view for good.
 */
export async function attachRemoteView(
  place: PlaceUrl,
  flags: RemoteViewFlags,
  reporter: Reporter,
  onFatal: (err: Error) => void,
  tag?: string,
): Promise<AttachedView> {
  checkViewPort(flags.port)
  const { resolvePlaceHost, startRemoteView } = await import('./remote.js')
  // An unknown host is a mistake in the URL: say so before anything starts.
  await resolvePlaceHost(place.host, true)
  const prefix = tag ? `[${tag}] ` : ''
  const view = await startRemoteView({
    place,
    name: flags.name,
    identity: flags.identity,
    port: flags.port ?? 0,
    allowedHosts: (flags.allowedHosts ?? []).map((h) => normalizeAllowedHost(h)),
    onError: (m) => reporter.warn(m),
    onInfo: (m) => reporter.info(`${prefix}${m}`),
    onFatal,
  })
  if (flags.open) await openViewInBrowser(view.url, reporter)
  return view
}

/** `assist view URL`: the view of a remote place until Ctrl-C (or a refusal); resolves with the exit status. */
export async function runView(opts: {
  place: PlaceUrl
  flags: RemoteViewFlags
  reporter: Reporter
}): Promise<number> {
  const { reporter } = opts
  let fatal: Error | null = null
  let stop: () => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    stop = resolve
  })
  const view = await attachRemoteView(opts.place, opts.flags, reporter, (err) => {
    fatal = err
    stop()
  })
  reporter.info(`${viewLine(view.url)} — joining ${opts.place.href}; Ctrl-C leaves.`)
  const onSignal = (signal: NodeJS.Signals) => {
    reporter.info(`${signal}: leaving ${opts.place.href}…`)
    stop()
  }
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal)
  await stopped
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal)
  await view.close()
  if (fatal) {
    const err = fatal as Error
    throw err instanceof UserError
      ? err
      : new UserError(
          `${opts.place.href} refused the web view (${err.message}): is it an allonet protocol 4 place?`,
          1,
        )
  }
  reporter.info('Left the place.')
  return 0
}
