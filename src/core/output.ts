/** Terminal output helpers shared by commands: colour only on a TTY and never with NO_COLOR. */
import chalk, { type ChalkInstance } from 'chalk'

if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') chalk.level = 0

export const c: ChalkInstance = chalk

export interface Reporter {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
  /** One line of an app instance's output. */
  appLine(tag: string, line: string, stream: 'stdout' | 'stderr'): void
}

/** A reporter writing human lines: assist's own lines marked, app lines tagged with the instance. */
export function consoleReporter(
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Reporter {
  const mark = c.dim('[assist]')
  return {
    info: (m) => out.write(`${mark} ${m}\n`),
    warn: (m) => err.write(`${mark} ${c.yellow(m)}\n`),
    error: (m) => err.write(`${mark} ${c.red(m)}\n`),
    appLine: (tag, line, stream) =>
      (stream === 'stdout' ? out : err).write(`${c.cyan(`[${tag}]`)} ${line}\n`),
  }
}
