/**
 * Gateway logs: one line per event. Human lines by default; `json` writes pino's structured lines
 * (for journald/ELK/Loki). Every event carries an `event` name plus its fields.
 */
import { c } from '../output.js'

export type LogFormat = 'human' | 'json'
export type LogFields = Record<string, unknown>

export interface GatewayLog {
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

/** One human log line (pure): `HH:MM:SS.mmm msg`, warnings and errors marked. */
export function formatHumanLine(level: 'info' | 'warn' | 'error', msg: string, time = new Date()): string {
  const stamp = c.dim(time.toISOString().slice(11, 23))
  const text = level === 'error' ? c.red(msg) : level === 'warn' ? c.yellow(msg) : msg
  return `${stamp} ${text}\n`
}

export function humanLog(
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): GatewayLog {
  return {
    info: (msg) => out.write(formatHumanLine('info', msg)),
    warn: (msg) => err.write(formatHumanLine('warn', msg)),
    error: (msg) => err.write(formatHumanLine('error', msg)),
  }
}

/** Structured JSON lines through pino (loaded only when asked for). */
export async function jsonLog(out: NodeJS.WritableStream = process.stdout): Promise<GatewayLog> {
  const { pino } = await import('pino')
  const logger = pino(
    {
      base: { service: 'assist-serve' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    out === process.stdout ? pino.destination({ dest: 1, sync: true }) : out,
  )
  return {
    info: (msg, fields) => logger.info(fields ?? {}, msg),
    warn: (msg, fields) => logger.warn(fields ?? {}, msg),
    error: (msg, fields) => logger.error(fields ?? {}, msg),
  }
}

/** A log that drops everything (benchmarks, quiet embedding). */
export const silentLog: GatewayLog = { info() {}, warn() {}, error() {} }

export async function createLog(format: LogFormat, out?: NodeJS.WritableStream): Promise<GatewayLog> {
  return format === 'json' ? jsonLog(out) : humanLog(out, out)
}
