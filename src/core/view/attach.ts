/**
 * The web view beside a running place (`assist place`, `assist run` with the built-in place):
 * start it, print its URL, optionally open the browser. Heavy parts load lazily.
 */
import { UserError } from '../errors.js'
import { normalizeAllowedHost } from '../host-check.js'
import type { Reporter } from '../output.js'
import type { Place } from '../place/place.js'

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
  if (flags.open) {
    const { openInBrowser } = await import('../launcher.js')
    const cannot = (why: string) =>
      reporter.warn(`Could not open a browser (${why}): visit ${view.url} yourself.`)
    await openInBrowser(view.url, cannot).catch((err: Error) => cannot(err.message))
  }
  return view
}

/** The line that tells people where the view is. */
export function viewLine(url: string): string {
  return `Web view: ${url} (see and poke the place's entities in a browser)`
}
