/**
 * The real prompter: @inquirer/prompts, imported only when a question is actually asked, so
 * scripted runs never load it. Ctrl-C in a prompt rejects with an error named ExitPromptError.
 */
import type { Prompter } from './context.js'

type Inquirer = typeof import('@inquirer/prompts')

export function inquirerPrompter(): Prompter {
  let loaded: Promise<Inquirer> | undefined
  const load = () => {
    loaded ??= import('@inquirer/prompts')
    return loaded
  }
  return {
    input: async (q) => (await load()).input(q),
    select: async (q) => (await load()).select(q),
    confirm: async (q) => (await load()).confirm(q),
  }
}

/** True for the error inquirer throws when the user presses Ctrl-C (or the prompt is aborted). */
export function isPromptCancel(err: unknown): boolean {
  const name = (err as Error | undefined)?.name
  return name === 'ExitPromptError' || name === 'AbortPromptError'
}
