/**
 * Step "git": `git init` when the app is not already inside a git work tree; an initial commit only
 * with --commit. Every git call goes through the launcher's runCommand.
 */
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { findExecutable } from '../fsutil.js'
import { runCommand } from '../launcher.js'
import type { Context } from './context.js'
import { displayDir, inDir, shellQuote } from './shell.js'

export function hasGit(env: NodeJS.ProcessEnv): boolean {
  return findExecutable('git', env.PATH) !== undefined
}

/** Runs git; returns the result, or throws an Error carrying git's own message. */
export async function git(
  args: string[],
  cwd: string,
  ctx: Pick<Context, 'env' | 'signal'>,
  onLine?: (l: string) => void,
) {
  const r = await runCommand(['git', ...args], { cwd, env: ctx.env, signal: ctx.signal, onLine })
  if (r.code !== 0) {
    const msg = (r.stderr.trim() || r.stdout.trim()).split('\n').filter(Boolean).slice(-3).join(' / ')
    throw new Error(
      `git ${args.join(' ')} failed: ${msg || (r.signal ? `killed by ${r.signal}` : `exit ${r.code}`)}`,
    )
  }
  return r
}

/** Whether `dir` (or its nearest existing ancestor) is inside a git work tree. */
export async function insideWorkTree(dir: string, ctx: Pick<Context, 'env' | 'signal'>): Promise<boolean> {
  let probe = dir
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe)
  try {
    const r = await runCommand(['git', 'rev-parse', '--is-inside-work-tree'], { cwd: probe, env: ctx.env })
    return r.code === 0 && r.stdout.trim() === 'true'
  } catch {
    return false
  }
}

/** Decides: --git/--no-git, else ask (TTY, not already in a repository), else yes. Checks git is there. */
export async function gitDecision(ctx: Context): Promise<void> {
  const o = ctx.options
  const gitThere = hasGit(ctx.env)
  ctx.insideWorkTree = gitThere && (await insideWorkTree(ctx.targetDir, ctx))
  if (o.git !== undefined) ctx.git = o.git
  else if (ctx.prompt && gitThere && !ctx.insideWorkTree)
    ctx.git = await ctx.prompt.confirm({ message: 'Initialise a git repository?', default: true })
  else ctx.git = gitThere
  if (ctx.git && !gitThere) {
    throw new UserError(
      'git is not installed: install it (e.g. sudo apt install git), or pass --no-git.',
      EXIT.missingDependency,
    )
  }
  ctx.commit = o.commit === true
  if (ctx.commit && !ctx.git) throw new UserError('--commit needs git: drop --no-git, or drop --commit.')
}

/** After rendering: `git init` (unless inside a work tree). */
export async function gitInit(ctx: Context): Promise<void> {
  if (!ctx.git) return
  if (ctx.insideWorkTree) {
    ctx.log('• Inside an existing git repository: no new repository created')
    return
  }
  await git(['init', '--quiet'], ctx.targetDir, ctx)
  ctx.log('✔ Initialised a git repository')
}

/** With --commit: commit everything in the app folder (and only that). */
export async function gitCommit(ctx: Context): Promise<void> {
  if (!ctx.git || !ctx.commit) return
  const message = `Create ${ctx.name} with assist create`
  try {
    await git(['add', '--all', '--', '.'], ctx.targetDir, ctx)
    await git(['commit', '--quiet', '-m', message, '--', '.'], ctx.targetDir, ctx)
    ctx.log('✔ Made the initial commit')
  } catch (err) {
    ctx.failures.push({
      what: 'the initial commit',
      detail: (err as Error).message,
      followUp: inDir(displayDir(ctx), ['git add --all -- .', `git commit -m ${shellQuote(message)} -- .`]),
    })
  }
}
