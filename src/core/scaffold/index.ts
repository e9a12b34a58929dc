/**
 * `assist create`: the steps in order. Questions first (nothing is written while asking), then the
 * checks that can refuse (still nothing written), then the atomic render, git, dependencies.
 */
import { resolve } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import type { Context } from './context.js'
import { buildDecision, dependenciesStep, installDecision } from './dependencies.js'
import { gitCommit, gitDecision, gitInit } from './git.js'
import { infoStep, nameStep } from './name.js'
import { nextStepsText } from './next-steps.js'
import { findConflicts, folderEntries, planFiles, RenderTransaction, writeFiles } from './render.js'
import { displayDir, inDir } from './shell.js'
import { templateStep } from './templates.js'

export type { Context, CreateOptions, Prompter } from './context.js'
export { buildContext, DEFAULT_ALLOUI_URL } from './context.js'
export { inquirerPrompter, isPromptCancel } from './prompts.js'

export interface CreateResult {
  targetDir: string
  /** The message to end with. */
  summary: string
  /** 0 when everything worked; 1 when the app was created but a later step failed. */
  exitCode: number
}

/** Refuses a target that is a file, or a non-empty folder without --force. */
export function checkTarget(ctx: Context): number {
  const entries = folderEntries(ctx.targetDir)
  if (entries && entries.length > 0 && !ctx.options.force) {
    throw new UserError(
      `${ctx.targetDir} is not empty (${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}): ` +
        'choose a new folder, or pass --force to add the app there (existing files are never overwritten).',
    )
  }
  return entries?.length ?? 0
}

export async function createApp(ctx: Context): Promise<CreateResult> {
  // 1. Questions (and flag checks). Nothing is written. A DIR that cannot be used is refused first.
  if (ctx.options.dir !== undefined) {
    ctx.targetDir = resolve(ctx.cwd, ctx.options.dir)
    checkTarget(ctx)
  }
  await nameStep(ctx)
  checkTarget(ctx)
  await infoStep(ctx)
  await templateStep(ctx)
  await gitDecision(ctx)
  await installDecision(ctx)
  await buildDecision(ctx)
  const template = ctx.template
  if (!template) throw new Error('no template chosen')

  // 2. Checks that refuse: still nothing written.
  const files = await planFiles(template)
  const conflicts = findConflicts(files, ctx.targetDir)
  if (conflicts.length > 0) {
    const shown =
      conflicts.slice(0, 10).join(', ') + (conflicts.length > 10 ? `, … (${conflicts.length} in all)` : '')
    throw new UserError(
      `Refusing to overwrite existing files in ${ctx.targetDir}: ${shown}. Move them away, or create the app in a new folder.`,
    )
  }

  const existing = checkTarget(ctx) // again: the folder may have changed while we asked
  // 3. Render atomically. Ctrl-C (ctx.signal) removes the temporary folder.
  const tx = new RenderTransaction(ctx.targetDir)
  const onAbort = () => tx.rollback()
  ctx.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const temp = await tx.begin()
    await writeFiles(files, temp, ctx, ctx.signal)
    tx.commit()
  } catch (err) {
    tx.rollback()
    throw err
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
  }
  ctx.log(
    `✔ Wrote ${files.length} files to ${ctx.targetDir}` +
      (existing > 0 ? ` (its ${existing} existing entries were left as they were)` : ''),
  )
  const dir = displayDir(ctx)
  ctx.cancelNote = `the app in ${dir ?? '.'} was kept`

  // 4. git and dependencies: failures keep the app and say how to finish.
  try {
    await gitInit(ctx)
  } catch (err) {
    if (ctx.signal.aborted) throw err
    ctx.failures.push({
      what: 'git init',
      detail: (err as Error).message,
      followUp: inDir(dir, ['git init']),
    })
    ctx.git = false
  }
  await dependenciesStep(ctx)
  await gitCommit(ctx)

  const summary = nextStepsText({
    name: ctx.name,
    template: template.name,
    dir,
    steps: ctx.nextSteps,
    failures: ctx.failures,
  })
  return { targetDir: ctx.targetDir, summary, exitCode: ctx.failures.length > 0 ? EXIT.failure : EXIT.ok }
}
