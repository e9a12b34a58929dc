/**
 * The status every `assist` command exits with. Scripts branch on these, so they are part of the
 * interface: never renumber one (docs/commands.md, "Exit codes", lists them).
 *
 * Small numbers for assist's own outcomes, so that a script can tell "you called it wrong" from
 * "something is not installed" from "the network/place is not there" from "your app failed"
 * without parsing messages; 2 for usage follows getopt, bash builtins and oclif; 1 is what node
 * itself exits with on an uncaught error; 128 + N for a run ended by signal N, as a shell reports it.
 */
export const EXIT = {
  /** Done; for `run --no-watch`: the app exited 0. */
  ok: 0,
  /** Something failed that is none of the below; an unexpected error (a bug: it prints its stack). */
  failure: 1,
  /** The command line or a file it names is wrong: unknown command or flag, bad value, wrong folder. */
  usage: 2,
  /** Something the app or assist needs is missing: LuaJIT, alloui, the allonet library, git, a build of assist itself. */
  missingDependency: 3,
  /** A network problem: a port is taken, nothing answers at a place URL, a download failed. */
  network: 4,
  /** The app itself failed: it exited non-zero or was killed (`run --no-watch`). */
  appFailed: 5,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }

/** 128 + the signal's number: what a shell reports for a process ended by that signal. */
export function signalExit(signal: NodeJS.Signals): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 1)
}
