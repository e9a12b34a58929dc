/**
 * What `assist run` makes of an app's output: alloui's "Failed to connect" (nothing answers at the
 * place URL) becomes one line of ours instead of a Lua stack trace.
 */

/** The error alloui's App:connect raises when the place does not answer (alloui/app.lua). */
export const CONNECT_FAILURE = /\bFailed to connect\b/

/** How long held-back lines wait for the app to exit before they are shown after all. */
export const HOLD_MS = 3000

export type Stream = 'stdout' | 'stderr'

/**
 * Passes an instance's lines through, except that from a stderr line saying "Failed to connect" on,
 * its stderr lines (the Lua stack trace) are held back; stdout goes on (allonet logs why there): if the app then dies of it, `settle(true)` drops them (the caller says
 * what happened in one line); if it exits cleanly, keeps running past HOLD_MS, or is stopped, they
 * are shown after all. One per instance.
 */
export class ConnectFailureFilter {
  private held: Array<[string, Stream]> = []
  private holding = false
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly show: (line: string, stream: Stream) => void,
    private readonly holdMs = HOLD_MS,
  ) {}

  /** True while lines are held back: the app said it could not connect and has not gone on since. */
  get sawConnectFailure(): boolean {
    return this.holding
  }

  line(line: string, stream: Stream): void {
    if (this.holding && stream === 'stderr') {
      this.held.push([line, stream])
      return
    }
    if (stream === 'stderr' && CONNECT_FAILURE.test(line)) {
      this.holding = true
      this.held = [[line, stream]]
      this.timer = setTimeout(() => this.release(), this.holdMs)
      this.timer.unref()
      return
    }
    this.show(line, stream)
  }

  /** The instance ended: drop the held lines when it died of the connect failure, else show them. */
  settle(diedOfIt: boolean): void {
    clearTimeout(this.timer)
    if (diedOfIt) this.held = []
    this.release()
  }

  /** Stop holding and show what was held. */
  private release(): void {
    const lines = this.held
    this.held = []
    this.holding = false
    for (const [line, stream] of lines) this.show(line, stream)
  }
}

/** The one line for an app that could not reach its place. */
export function connectFailureMessage(placeUrl: string, builtIn: boolean): string {
  return builtIn
    ? `The app could not connect to the built-in place at ${placeUrl}. Run with --place-verbose to see what the place received.`
    : `Nothing answers at ${placeUrl}: check that the place is running there (\`assist place\` starts one), or use plain \`assist run\` for a built-in place.`
}
