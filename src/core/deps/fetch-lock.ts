/**
 * One `assist fetch`/`upgrade` at a time per app folder and per build-cache entry, across processes.
 *
 * The lock is a folder made with an atomic `mkdir`, holding `owner.json` (pid, host, the process's
 * start time, a random token, what it is doing). Whether a lock is alive is decided by its owner, not
 * by a clock: on this host a lock is alive exactly as long as its owner's pid runs (and is the same
 * process: the start time must match, so a reused pid does not count). A busy machine can delay the
 * holder as long as it likes; nobody takes its lock over. Only a lock whose owner cannot be checked
 * (no owner.json, or a holder on another host sharing the folder) falls back to time: its holder
 * touches the folder every HEARTBEAT_MS, and one untouched for STALE_MS is taken over.
 *
 * No lock outlives its holder's exit: release() on success and failure, interrupt.ts on
 * Ctrl-C/SIGTERM/SIGHUP, and a process 'exit' hook for anything else (process.exit, a crash).
 * Only SIGKILL leaves it behind, and the next run takes that over at once (its pid is dead).
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { release as forget, removeOnInterrupt } from './interrupt.js'

/** A lock whose owner cannot be checked (none recorded, or another host) and untouched this long is dead. */
export const STALE_MS = 120_000
/** How often a holder touches its lock folder (only matters to waiters on other hosts). */
export const HEARTBEAT_MS = 10_000
const POLL_MS = 200
const OWNER = 'owner.json'

export interface LockOwner {
  pid: number
  host: string
  /** What the holder is doing, e.g. "assist fetch". */
  what: string
  since: string
  /** The process's start time (Linux: /proc/PID/stat field 22), to tell a reused pid apart. */
  start?: string
  /** Random: which acquisition this is (release removes only its own lock). */
  token?: string
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
  /** If our lock was removed or replaced while we held it (someone deleted it by hand, or another host took it over). */
  onCompromised?: (line: string) => void
}

export interface HeldLock {
  path: string
  release(): Promise<void>
}

export function readOwner(lockDir: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(join(lockDir, OWNER), 'utf8')) as LockOwner
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : undefined
  } catch {
    return undefined
  }
}

/** A process's start time as the kernel records it (Linux); undefined where there is no /proc. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 2 (comm) may hold spaces and parentheses: count fields after its closing ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
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

/** Whether the recorded owner, on this host, is still the same running process. */
export function ownerAlive(o: LockOwner): boolean {
  if (!pidAlive(o.pid)) return false
  if (o.start === undefined) return true
  const now = processStart(o.pid)
  return now === undefined || now === o.start
}

function describeOwner(o: LockOwner | undefined): string {
  if (!o) return 'another assist fetch'
  return `another ${o.what} (pid ${o.pid}${o.host === hostname() ? '' : ` on ${o.host}`})`
}

function ageMs(lockDir: string): number | undefined {
  try {
    return Date.now() - statSync(lockDir).mtimeMs
  } catch {
    return undefined
  }
}

/** Locks this process holds, removed by the 'exit' hook if nothing else did. */
const held = new Map<string, string>()
let exitHooked = false
function hookExit(): void {
  if (exitHooked) return
  exitHooked = true
  process.on('exit', () => {
    for (const [dir, token] of held)
      if (readOwner(dir)?.token === token) rmSync(dir, { recursive: true, force: true })
  })
}

/** Tries once to make the lock folder; true when it is ours. */
function tryCreate(lockDir: string, owner: LockOwner): boolean {
  try {
    mkdirSync(lockDir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  // Written beside and renamed in, so a waiter never reads half an owner.json.
  const tmp = join(lockDir, `.${OWNER}.tmp`)
  writeFileSync(tmp, `${JSON.stringify(owner)}\n`)
  renameSync(tmp, join(lockDir, OWNER))
  return true
}

/**
 * Removes a dead lock — unless it changed hands since we judged it: it is renamed aside first (only
 * one waiter can win that rename), then checked to be the lock we judged, and put back if not.
 */
function removeDead(lockDir: string, judged: LockOwner | undefined): void {
  const aside = `${lockDir}.dead-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    renameSync(lockDir, aside)
  } catch {
    return // gone or taken meanwhile: the next attempt sees
  }
  const found = readOwner(aside)
  if (found?.token !== judged?.token || found?.pid !== judged?.pid) {
    try {
      renameSync(aside, lockDir) // a fresh lock slipped in between: give it back
      return
    } catch {
      // someone made another lock meanwhile; the one we hold aside is removed below
    }
  }
  rmSync(aside, { recursive: true, force: true })
}

/**
 * Takes the lock folder `lockDir` (its parent is created), waiting as long as its holder is alive.
 */
export async function acquireLock(lockDir: string, spec: LockSpec, ev: LockEvents = {}): Promise<HeldLock> {
  const { what, where } = spec
  mkdirSync(dirname(lockDir), { recursive: true })
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    what,
    since: new Date().toISOString(),
    start: processStart(process.pid),
    token: randomBytes(8).toString('hex'),
  }
  let waitSaid = false
  for (let polls = 0; ; polls++) {
    // Registered before the mkdir: a signal between the two still removes the new folder.
    removeOnInterrupt(lockDir)
    if (tryCreate(lockDir, me)) break
    forget(lockDir)
    const owner = readOwner(lockDir)
    const here = owner?.host === hostname()
    // Our own pid: ours only if this process holds it now (a container often reuses the pid of a
    // killed predecessor, whose lock must not be mistaken for ours).
    const dead =
      owner && here && (owner.pid === process.pid ? held.get(lockDir) !== owner.token : !ownerAlive(owner))
    if (owner && dead) {
      ev.onTakeover?.(
        `taking over the lock on ${where} left by ${owner.what} (pid ${owner.pid}), which is no longer running`,
      )
      removeDead(lockDir, owner)
      continue
    }
    // An owner we cannot check (not written yet, unreadable, or on another host): its heartbeat decides.
    if (!(owner && here)) {
      const age = ageMs(lockDir)
      if (age !== undefined && age > STALE_MS) {
        ev.onTakeover?.(
          `taking over the lock on ${where} left by ${describeOwner(owner)}: untouched for ${Math.round(age / 1000)} s`,
        )
        removeDead(lockDir, owner)
        continue
      }
    }
    // Say whom we wait for; the holder writes owner.json a moment after making the folder, so give it a few polls.
    if (!waitSaid && (owner || polls >= 3)) {
      waitSaid = true
      ev.onWait?.(
        `waiting for ${describeOwner(owner)} to finish with ${where} … (as long as it runs; a lock left by a process that died is reclaimed at once)`,
      )
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }

  const token = me.token as string
  held.set(lockDir, token)
  hookExit()
  let compromisedSaid = false
  const heartbeat = setInterval(() => {
    if (readOwner(lockDir)?.token !== token) {
      if (!compromisedSaid)
        ev.onCompromised?.(
          `the lock on ${where} (${lockDir}) was removed or taken over by another process; carrying on: installs are atomic, so the worst case is the same work done twice.`,
        )
      compromisedSaid = true
      return
    }
    const now = new Date()
    try {
      utimesSync(lockDir, now, now)
    } catch {
      // removed meanwhile: reported at the next beat
    }
  }, HEARTBEAT_MS)
  heartbeat.unref()
  return {
    path: lockDir,
    release: async () => {
      clearInterval(heartbeat)
      held.delete(lockDir)
      forget(lockDir)
      // Only our own lock: if someone took it over, theirs stays.
      if (readOwner(lockDir)?.token === token) rmSync(lockDir, { recursive: true, force: true })
    },
  }
}

/** Runs `fn` holding the lock, releasing it however `fn` ends. */
export async function withLock<T>(
  lockDir: string,
  spec: LockSpec,
  ev: LockEvents,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = await acquireLock(lockDir, spec, ev)
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}
