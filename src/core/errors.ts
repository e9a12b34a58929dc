/**
 * An error the user caused and can fix. Commands print its message on one line, without a stack,
 * and exit with `exitCode`. Anything else that is thrown is a bug and keeps its stack.
 */
import { EXIT } from './exit-codes.js'

export class UserError extends Error {
  readonly exitCode: number

  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message)
    this.name = 'UserError'
    this.exitCode = exitCode
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError
}
