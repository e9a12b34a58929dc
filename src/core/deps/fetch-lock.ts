/**
 * One `assist fetch`/`upgrade` at a time per app folder and per build-cache entry, across processes.
 *
 * The lock itself is proper-lockfile's: an atomic `mkdir` of a `.lock` folder whose mtime the holder
 * refreshes every STALE_MS/2, so a lock whose holder died without cleaning up (SIGKILL, power cut)
 * goes stale after STALE_MS and the next waiter takes it over. On top of that we record the holder
 * (`owner.json` inside the lock folder: pid, host, what it is doing) so a waiter can say whom it is
 * waiting for, and take a lock over at once when its holder's pid is no longer running on this host.
 * Ctrl-C/SIGTERM remove the lock through interrupt.ts, like our temp files.
 */
import * as nodeFs from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { release as forget, removeOnInterrupt } from './interrupt.js'

/** A holder that stops refreshing its lock for this long is presumed dead. */
export const STALE_MS = 30_000
const POLL_MS = 200
const OWNER = 'owner.json'

export interface LockOwner {
  pid: number
  host: string
  /** What the holder is doing, e.g. "assist fetch". */
  what: string
  since: string
}

export interface LockSpec {
  /** What the holder is doing, recorded for waiters: "assist fetch". */
  what: string
  /** What the lock guards, for messages: "allo/lib", a cache folder. */
  where: string
}

export interface LockEvents {
  /** Once, when the lock is held by someone else and we start waiting. */
  onWait?: (line: string) => void
  /** When we take over a lock whose holder is gone. */
  onTakeover?: (line: string) => void
  /** If another process took our lock over while we held it (we were suspended past STALE_MS). */
  onCompromised?: (line: string) => void
}

export interface HeldLock {
  path: string
  release(): Promise<void>
}

/** proper-lockfile removes its lock with rmdir; ours holds owner.json, so remove the folder whole. */
const lockFs = {
  ...nodeFs,
  rmdir: (p: string, cb: (err: NodeJS.ErrnoException | null) => void) =>
    nodeFs.rm(p, { recursive: true }, cb),
  rmdirSync: (p: string) => nodeFs.rmSync(p, { recursive: true }),
}

export function readOwner(lockDir: string): LockOwner | undefined {
  try {
    const o = JSON.parse(nodeFs.readFileSync(join(lockDir, OWNER), 'utf8')) as LockOwner
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : undefined
  } catch {
    return undefined
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function describeOwner(o: LockOwner | undefined): string {
  if (!o) return 'another assist fetch'
  return `another ${o.what} (pid ${o.pid}${o.host === hostname() ? '' : ` on ${o.host}`})`
}

/**
 * Takes the lock folder `lockDir` (its parent is created), waiting as long as a live holder keeps it.
 */
export async function acquireLock(lockDir: string, spec: LockSpec, ev: LockEvents = {}): Promise<HeldLock> {
  const { what, where } = spec
  const { lock } = await import('proper-lockfile')
  nodeFs.mkdirSync(join(lockDir, '..'), { recursive: true })
  let waiting = false
  let waitSaid = false
  for (;;) {
    try {
      const unlock = await lock(lockDir, {
        lockfilePath: lockDir,
        realpath: false,
        stale: STALE_MS,
        fs: lockFs,
        onCompromised: (err) =>
          ev.onCompromised?.(
            `the lock on ${where} (${lockDir}) was taken over by another process (${err.message}); carrying on: installs are atomic, so the worst case is the same work done twice.`,
          ),
      })
      const owner: LockOwner = { pid: process.pid, host: hostname(), what, since: new Date().toISOString() }
      nodeFs.writeFileSync(join(lockDir, OWNER), `${JSON.stringify(owner)}\n`)
      removeOnInterrupt(lockDir)
      return {
        path: lockDir,
        release: async () => {
          forget(lockDir)
          try {
            await unlock()
          } catch (err) {
            // Already released or taken over: nothing of ours is left to remove.
            if (
              !['ERELEASED', 'ENOTACQUIRED', 'ECOMPROMISED'].includes(
                (err as NodeJS.ErrnoException).code ?? '',
              )
            )
              throw err
          }
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err
    }
    const owner = readOwner(lockDir)
    if (owner && owner.host === hostname() && owner.pid !== process.pid && !pidAlive(owner.pid)) {
      // Its holder is gone: make the lock look stale, so the next attempt removes and takes it.
      ev.onTakeover?.(
        `taking over the lock on ${where} left by ${owner.what} (pid ${owner.pid}), which is no longer running`,
      )
      try {
        nodeFs.utimesSync(lockDir, 0, 0)
      } catch {
        // removed meanwhile: the next attempt simply takes it
      }
      continue
    }
    // Say whom we wait for; the holder writes owner.json a moment after taking the lock, so give it a few polls.
    if (!waitSaid && (owner || waiting)) {
      waitSaid = true
      ev.onWait?.(
        `waiting for ${describeOwner(owner)} to finish with ${where} … (a lock left by a killed process is taken over after ${STALE_MS / 1000} s)`,
      )
    }
    waiting = true
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

/** Runs `fn` holding the lock, releasing it however `fn` ends. */
export async function withLock<T>(
  lockDir: string,
  spec: LockSpec,
  ev: LockEvents,
  fn: () => Promise<T>,
): Promise<T> {
  const held = await acquireLock(lockDir, spec, ev)
  try {
    return await fn()
  } finally {
    await held.release()
  }
}
