/**
 * Restart policy for `assist run`: restart on change (or `rs`), and on a crash either wait for the
 * next change or, with restartOnCrash, restart after an exponential backoff.
 */
import type { ExitInfo, Instance } from './launcher.js'

export interface BackoffPolicy {
  initialMs: number
  maxMs: number
  /** An instance that lived this long resets the backoff. */
  resetAfterMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 10_000, resetAfterMs: 10_000 }

export type AfterExit = { action: 'restart'; delayMs: number } | { action: 'wait'; crashed: boolean }

export function isCrash(exit: Pick<ExitInfo, 'code' | 'signal'>): boolean {
  return exit.signal !== null || (exit.code ?? 0) !== 0
}

/** What to do when an instance ended on its own (not stopped by us). Pure. */
export function decideAfterExit(
  exit: Pick<ExitInfo, 'code' | 'signal' | 'lifetimeMs'>,
  restartOnCrash: boolean,
  consecutiveCrashes: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): AfterExit {
  const crashed = isCrash(exit)
  if (!crashed || !restartOnCrash) return { action: 'wait', crashed }
  const n = exit.lifetimeMs >= policy.resetAfterMs ? 0 : consecutiveCrashes
  return { action: 'restart', delayMs: Math.min(policy.initialMs * 2 ** n, policy.maxMs) }
}

export interface SupervisorEvents {
  started(instance: Instance, reason: string): void
  /** The instance ended on its own; `next` says what the supervisor does about it. */
  exited(instance: Instance, exit: ExitInfo, next: AfterExit): void
  startFailed(err: Error): void
}

export interface SupervisorOptions {
  start: () => Promise<Instance>
  restartOnCrash: boolean
  graceMs: number
  backoff?: BackoffPolicy
  events: SupervisorEvents
}

export class Supervisor {
  private current?: Instance
  private stopping?: Promise<ExitInfo>
  private lastExit?: ExitInfo
  private crashes = 0
  private backoffTimer?: NodeJS.Timeout
  private closed = false
  private chain: Promise<void> = Promise.resolve()

  constructor(private readonly opts: SupervisorOptions) {}

  /** The exit of the most recent instance, if one has ended. */
  get lastExitInfo(): ExitInfo | undefined {
    return this.lastExit
  }

  /** Settles when every restart asked for so far has been carried out. */
  get restarting(): Promise<void> {
    return this.chain
  }

  get instance(): Instance | undefined {
    return this.current
  }

  /** Begin stopping the running instance now (a restart is coming); safe to call repeatedly. */
  prepareRestart(): void {
    if (this.current?.running && !this.stopping) this.stopping = this.current.stop(this.opts.graceMs)
  }

  /** Stop the current instance (if any) and start a fresh one. Calls are serialised. */
  restart(reason: string): Promise<void> {
    this.chain = this.chain.then(() => this.doRestart(reason))
    return this.chain
  }

  private async doRestart(reason: string): Promise<void> {
    if (this.closed) return
    clearTimeout(this.backoffTimer)
    if (this.current?.running) {
      this.stopping ??= this.current.stop(this.opts.graceMs)
      this.lastExit = await this.stopping
    }
    this.stopping = undefined
    if (this.closed) return
    let instance: Instance
    try {
      instance = await this.opts.start()
    } catch (err) {
      this.opts.events.startFailed(err as Error)
      return
    }
    if (this.closed) {
      this.lastExit = await instance.stop(this.opts.graceMs)
      return
    }
    this.current = instance
    this.opts.events.started(instance, reason)
    instance.exited.then((exit) => this.onExit(instance, exit))
  }

  private onExit(instance: Instance, exit: ExitInfo): void {
    this.lastExit = exit
    if (exit.stopped || this.closed || instance !== this.current) return
    const next = decideAfterExit(exit, this.opts.restartOnCrash, this.crashes, this.opts.backoff)
    if (isCrash(exit))
      this.crashes =
        exit.lifetimeMs >= (this.opts.backoff ?? DEFAULT_BACKOFF).resetAfterMs ? 1 : this.crashes + 1
    else this.crashes = 0
    this.opts.events.exited(instance, exit, next)
    if (next.action === 'restart') {
      this.backoffTimer = setTimeout(() => void this.restart('restart after crash'), next.delayMs)
    }
  }

  /** A change (file save or `rs`) also resets the crash backoff. */
  resetBackoff(): void {
    this.crashes = 0
  }

  /** Stop for good; resolves with the last instance's exit, if there was one. */
  async close(force = false): Promise<ExitInfo | undefined> {
    this.closed = true
    clearTimeout(this.backoffTimer)
    if (force) await this.current?.kill()
    await this.chain
    const inst = this.current
    if (inst?.running)
      this.lastExit = force ? await inst.kill() : await (this.stopping ?? inst.stop(this.opts.graceMs))
    return this.lastExit
  }
}
