import { Command } from '@oclif/core'
import { isUserError } from './core/errors.js'
import { c } from './core/output.js'

/** Every assist command: a UserError prints one line (no stack) and exits with its code. */
export abstract class BaseCommand extends Command {
  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (isUserError(err)) {
      process.stderr.write(`${c.red('✖')} ${err.message}\n`)
      process.exitCode = err.exitCode
      return
    }
    return super.catch(err)
  }
}
