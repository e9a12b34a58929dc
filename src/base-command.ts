import { Command } from '@oclif/core'
import { isUserError } from './core/errors.js'
import { EXIT } from './core/exit-codes.js'
import { c } from './core/output.js'
import { closest } from './core/suggest.js'

/**
 * Every assist command: a UserError prints one line (no stack) and exits with its code; oclif's own
 * flag and argument errors are printed the same way and exit with EXIT.usage.
 */
export abstract class BaseCommand extends Command {
  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (isUserError(err)) {
      process.stderr.write(`${c.red('✖')} ${err.message}\n`)
      process.exitCode = err.exitCode
      return
    }
    // Whatever oclif throws before the flags are parsed (bad flag, missing value, extra argument).
    if (!this.parsed && isCliError(err)) {
      process.stderr.write(`${c.red('✖')} ${this.describeParseError(err)}\n`)
      process.exitCode = EXIT.usage
      return
    }
    return super.catch(err)
  }

  /** One line for an oclif parse error, naming the command and where its flags are listed. */
  private describeParseError(err: ParseError): string {
    const command = `${this.config.bin} ${this.id ?? ''}`.trim().replaceAll(':', ' ')
    const help = `See \`${command} --help\`.`
    if (Array.isArray(err.flags) && err.flags.length > 0) {
      const known = Object.entries(this.ctor.flags ?? {}).flatMap(([name, f]) => [
        `--${name}`,
        ...((f as { allowNo?: boolean }).allowNo ? [`--no-${name}`] : []),
      ])
      const guesses = err.flags.map((f) => closest(f.replace(/=.*$/, ''), known)).filter(Boolean)
      const guess = err.flags.length === 1 && guesses.length === 1 ? ` Did you mean ${guesses[0]}?` : ''
      return `Unknown flag${err.flags.length > 1 ? 's' : ''} ${err.flags.join(', ')} for \`${command}\`.${guess} ${help}`
    }
    if (Array.isArray(err.args) && err.constructor.name === 'UnexpectedArgsError') {
      const takes = Object.keys(this.ctor.args ?? {})
      const expected = takes.length
        ? `it takes ${takes.map((a) => a.toUpperCase()).join(' ')}`
        : 'it takes none'
      return `Unexpected argument${err.args.length > 1 ? 's' : ''} ${err.args.map((a) => JSON.stringify(String(a))).join(', ')} for \`${command}\` (${expected}). ${help}`
    }
    return `${oneLine(err.message)} ${help}`
  }
}

interface ParseError extends Error {
  flags?: string[]
  args?: unknown[]
}

/** oclif's own errors (CLIError and the parser's subclasses) carry an `oclif` record. */
function isCliError(err: unknown): err is ParseError {
  return err instanceof Error && typeof (err as { oclif?: unknown }).oclif === 'object'
}

/** oclif's multi-line parse message as one sentence. */
export function oneLine(message: string): string {
  const text = message
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing colour codes
    .replace(/\u001b\[[0-9;]*m/g, '')
    .replace(/\n?See more help with --help\s*$/, '')
    .replace(/^The following errors? occurred:\s*/, '')
    .replace(/^Parsing (--[\w-]+)\s*\n\s*/, '$1: ')
    .replace(/^Missing (\d+) required args?:\s*\n/, 'Missing $1 required argument: ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ')
  return /[.!?]$/.test(text) ? text : `${text}.`
}
