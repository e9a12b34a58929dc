/**
 * Ctrl-C (or SIGTERM/SIGHUP) during a download or build: remove the temp files and folders we made,
 * kill the git/cmake process groups we started, then die of the same signal. The installed library
 * is never touched by an interrupted operation — only renamed over once complete.
 */
import { rmSync } from 'node:fs'

const paths = new Set<string>()
const controller = new AbortController()
let hooked = false

/** Aborted when assist is interrupted; pass it to runCommand so child process groups die too. */
export const interrupted: AbortSignal = controller.signal

function hook(): void {
  if (hooked) return
  hooked = true
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      controller.abort()
      for (const p of paths) rmSync(p, { recursive: true, force: true })
      process.kill(process.pid, sig) // our handler is gone now: the default action ends the process
    })
  }
}

/** Removes `path` if assist is interrupted before `release(path)`. */
export function removeOnInterrupt(path: string): void {
  hook()
  paths.add(path)
}

export function release(path: string): void {
  paths.delete(path)
}
