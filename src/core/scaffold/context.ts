/**
 * One `Context` for a whole `assist create` run (the create-astro shape): the flags as given, the
 * prompt function (only when questions may be asked), where output goes, and the answers the steps
 * fill in. Steps are small functions taking the context, testable with a scripted prompter.
 */
import { userInfo } from 'node:os'
import { fileURLToPath } from 'node:url'
import { findExecutable } from '../fsutil.js'
import { runCommand } from '../launcher.js'
import { assistVersion } from '../version.js'
import type { TemplateInfo } from './templates.js'

export const DEFAULT_ALLOUI_URL = 'https://github.com/alloverse/alloui-lua.git'

/** The flags of `assist create`, unparsed answers: undefined means "not given". */
export interface CreateOptions {
  dir?: string
  name?: string
  displayName?: string
  author?: string
  template?: string
  git?: boolean
  install?: boolean
  commit?: boolean
  /** Accept the defaults for every question that has no flag. */
  yes?: boolean
  /** Allow a non-empty target folder (files are added; none is ever overwritten). */
  force?: boolean
  allouiUrl?: string
  allouiRef?: string
  /** Build the native allonet library from source now (`assist fetch --build`); false: never. */
  build?: boolean
  /** With build: allonet git URL or local clone to build from. */
  allonetUrl?: string
}

/** The subset of @inquirer/prompts that create uses; tests pass a scripted one. */
export interface Prompter {
  input(q: { message: string; default?: string; validate?: (v: string) => true | string }): Promise<string>
  select<T extends string>(q: {
    message: string
    choices: Array<{ value: T; name: string; description?: string }>
    default?: T
  }): Promise<T>
  confirm(q: { message: string; default?: boolean }): Promise<boolean>
}

export interface Context {
  cwd: string
  options: CreateOptions
  /** Present only when questions may be asked (a TTY, and no --yes). */
  prompt?: Prompter
  /** Whether stdout is a terminal (progress display, colours). */
  tty: boolean
  env: NodeJS.ProcessEnv
  /** Folder holding the templates (templates/ in the package). */
  templatesDir: string
  /** Aborted on Ctrl-C: steps clean up what they started, synchronously, from their abort listeners. */
  signal: AbortSignal
  /** A line of human output. */
  log: (line: string) => void
  /** git's user.name, else the login name. */
  defaultAuthor: () => Promise<string>

  // Filled in by the steps.
  targetDir: string
  name: string
  displayName: string
  author: string
  /** The allo-assist version creating the app (__ASSIST_VERSION__ in templates). */
  assistVersion: string
  template?: TemplateInfo
  git: boolean
  /** The target is inside an existing git work tree (no `git init`; submodules go to that repository). */
  insideWorkTree: boolean
  install: boolean
  /** Build allonet from source after installing alloui (decided with the other questions). */
  build: boolean
  commit: boolean
  /** Commands for the "next steps" message, added by the steps: [command, what it does]. */
  nextSteps: Array<[string, string]>
  /** What to tell the user when Ctrl-C stops the run now (set by the steps as they go). */
  cancelNote: string
  /** Set when a step after rendering failed: what failed and the exact command that finishes the job. */
  failures: Array<{ what: string; detail: string; followUp: string }>
}

export function defaultTemplatesDir(): string {
  // dist/core/scaffold/ and src/core/scaffold/ are both three levels below the package root.
  return fileURLToPath(new URL('../../../templates/', import.meta.url))
}

export async function gitUserName(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (!findExecutable('git', env.PATH)) return undefined
  try {
    const r = await runCommand(['git', 'config', '--get', 'user.name'], { env, timeoutMs: 5000 })
    const name = r.stdout.trim()
    return r.code === 0 && name ? name : undefined
  } catch {
    return undefined
  }
}

export interface ContextInit {
  cwd: string
  options: CreateOptions
  /** Whether stdin and stdout are terminals. */
  tty: boolean
  /** Loads the prompter; called only when questions may be asked. */
  prompter?: () => Prompter
  env?: NodeJS.ProcessEnv
  templatesDir?: string
  signal?: AbortSignal
  log?: (line: string) => void
}

/** Builds the context from the flags. Questions are asked only with a TTY and without --yes. */
export function buildContext(init: ContextInit): Context {
  const env = init.env ?? process.env
  const interactive = init.tty && !init.options.yes && init.prompter !== undefined
  return {
    cwd: init.cwd,
    options: init.options,
    prompt: interactive ? init.prompter?.() : undefined,
    tty: init.tty,
    env,
    templatesDir: init.templatesDir ?? defaultTemplatesDir(),
    signal: init.signal ?? new AbortController().signal,
    log: init.log ?? ((line) => process.stdout.write(`${line}\n`)),
    defaultAuthor: async () => {
      const fromGit = await gitUserName(env)
      if (fromGit) return fromGit
      try {
        return userInfo().username || 'me'
      } catch {
        return 'me'
      }
    },
    targetDir: '',
    name: '',
    displayName: '',
    author: '',
    assistVersion: assistVersion(),
    git: true,
    insideWorkTree: false,
    install: true,
    build: false,
    commit: false,
    nextSteps: [],
    failures: [],
    cancelNote: 'nothing was written',
  }
}
