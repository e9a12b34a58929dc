/**
 * Step "dependencies": alloui-lua into allo/deps/alloui — a git submodule when the app uses git, a
 * plain clone otherwise — at --alloui-ref, with its own submodules (Penlight, cpml); then the
 * native allonet library (see installNativeLibrary).
 *
 * The install is a list of git commands (a pure plan). When one fails, what it half-did is removed
 * and the remaining commands are printed as one line that finishes the job; the app stays.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { ALLOUI_DIR } from '../project.js'
import { type Context, DEFAULT_ALLOUI_URL } from './context.js'
import { git, hasGit } from './git.js'
import { runTasks } from './progress.js'
import { displayDir, inDir, shellQuote } from './shell.js'

/** App-relative path of alloui, with "/" (also what goes into .gitmodules). */
export const ALLOUI_PATH = ALLOUI_DIR.split(/[\\/]/).join('/')

export interface InstallStep {
  title: string
  /** git arguments (without "git"), run in the app root. */
  args: string[]
}

/** The git commands that install alloui (pure). */
export function allouiInstallPlan(o: { url: string; ref?: string; submodule: boolean }): InstallStep[] {
  const steps: InstallStep[] = [
    o.submodule
      ? {
          title: `Add alloui-lua as a git submodule (${o.url})`,
          args: ['submodule', 'add', '--', o.url, ALLOUI_PATH],
        }
      : { title: `Clone alloui-lua (${o.url})`, args: ['clone', '--', o.url, ALLOUI_PATH] },
  ]
  if (o.ref) {
    steps.push({ title: `Check out ${o.ref}`, args: ['-C', ALLOUI_PATH, 'checkout', '--quiet', o.ref] })
    if (o.submodule) steps.push({ title: 'Record the alloui version', args: ['add', '--', ALLOUI_PATH] })
  }
  steps.push(
    o.submodule
      ? { title: "Fetch alloui's submodules", args: ['submodule', 'update', '--init', '--recursive'] }
      : {
          title: "Fetch alloui's submodules",
          args: ['-C', ALLOUI_PATH, 'submodule', 'update', '--init', '--recursive'],
        },
  )
  return steps
}

/** `cd DIR && git … && git …`: the exact command line that runs `steps` for the app in `dir`. */
export function followUpCommand(steps: InstallStep[], dir: string | undefined): string {
  return inDir(
    dir,
    steps.map((s) => ['git', ...s.args].map(shellQuote).join(' ')),
  )
}

/** Decides: --install/--no-install, else ask (TTY), else yes. */
export async function installDecision(ctx: Context): Promise<void> {
  const o = ctx.options
  if (o.install !== undefined) ctx.install = o.install
  else if (ctx.prompt)
    ctx.install = await ctx.prompt.confirm({
      message: 'Install dependencies (alloui-lua, with git)?',
      default: true,
    })
  else ctx.install = true
  if (ctx.install && !hasGit(ctx.env)) {
    throw new UserError(
      'Installing alloui-lua needs git, which is not installed: install git (e.g. sudo apt install git), or pass --no-install.',
      EXIT.missingDependency,
    )
  }
}

/** Removes `path` and then each parent up to (not including) `stop` that is left empty. */
function removeUpTo(path: string, stop: string): void {
  rmSync(path, { recursive: true, force: true })
  for (let dir = dirname(path); dir.startsWith(`${stop}/`); dir = dirname(dir)) {
    if (!existsSync(dir) || readdirSync(dir).length > 0) break
    rmSync(dir, { recursive: true })
  }
}

/** Removes what a failed first step (submodule add / clone) left, so that re-running it works. */
function cleanPartialClone(root: string, submodule: boolean): void {
  // allo/deps is in no template: remove it again when it is left empty.
  removeUpTo(join(root, ALLOUI_DIR), join(root, 'allo'))
  if (submodule) removeUpTo(join(root, '.git', 'modules', ALLOUI_DIR), join(root, '.git'))
}

/** Installs alloui; on failure records it in ctx.failures (the scaffold stays). */
export async function installAlloui(ctx: Context): Promise<void> {
  if (!ctx.install) return
  const submodule = ctx.git
  const root = ctx.targetDir
  if (existsSync(join(root, ALLOUI_DIR))) {
    ctx.log(`• ${ALLOUI_PATH} already exists: alloui-lua not installed again`)
    return
  }
  const url = ctx.options.allouiUrl ?? DEFAULT_ALLOUI_URL
  const plan = allouiInstallPlan({ url, ref: ctx.options.allouiRef, submodule })
  let failedAt = -1 // the step running now (-1: none)
  const onAbort = () => {
    // Ctrl-C while the first git command runs: drop the half-made clone.
    if (failedAt === 0) cleanPartialClone(root, submodule)
  }
  try {
    await runTasks(
      plan.map((step, i) => ({
        title: step.title,
        run: async (report: (line: string) => void) => {
          failedAt = i
          ctx.cancelNote = `finish the install with: ${followUpCommand(plan.slice(i), displayDir(ctx))}`
          const running = git(step.args, root, ctx, report)
          // Registered after git's own abort listener (runCommand's SIGKILL), so on Ctrl-C git is
          // killed before its clone is removed, not left writing into a folder being deleted.
          if (i === 0) ctx.signal.addEventListener('abort', onAbort, { once: true })
          await running
        },
      })),
      ctx,
    )
    failedAt = -1
  } catch (err) {
    if (ctx.signal.aborted) throw err
    if (failedAt === 0) cleanPartialClone(root, submodule)
    ctx.failures.push({
      what: `installing alloui-lua (${plan[failedAt]?.title ?? 'git'})`,
      detail: (err as Error).message,
      followUp: followUpCommand(plan.slice(Math.max(failedAt, 0)), displayDir(ctx)),
    })
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
  }
}

/**
 * The native allonet library (allo/lib/liballonet.*), through `assist fetch`'s core. The public bucket is
 * gone, so this downloads only when a mirror is configured (ALLONET_BASE_URL); otherwise, and when the
 * download fails, it adds `assist fetch` to the next steps (a failure is reported like alloui's).
 */
export async function installNativeLibrary(ctx: Context): Promise<void> {
  const root = ctx.targetDir
  const followUp = `cd ${displayDir(ctx)} && assist fetch`
  if (!ctx.install || !ctx.env.ALLONET_BASE_URL) {
    ctx.nextSteps.push([
      'assist fetch',
      'install the native allonet library into allo/lib (needs a mirror: --base-url, or --from FILE / --build)',
    ])
    return
  }
  if (!existsSync(join(root, 'allo', 'allonet.lock'))) return // a template without native code
  const { fetchApp } = await import('../deps/app.js')
  try {
    await fetchApp({ cwd: root, env: ctx.env, timeoutMs: 30_000, say: ctx.log })
  } catch (err) {
    if (ctx.signal.aborted) throw err
    ctx.failures.push({
      what: 'installing the allonet library (assist fetch)',
      detail: (err as Error).message,
      followUp,
    })
  }
}

/** Step "dependencies": alloui, then the native library. */
export async function dependenciesStep(ctx: Context): Promise<void> {
  if (!ctx.install) {
    const plan = allouiInstallPlan({
      url: ctx.options.allouiUrl ?? DEFAULT_ALLOUI_URL,
      ref: ctx.options.allouiRef,
      submodule: ctx.git,
    })
    ctx.nextSteps.push([followUpCommand(plan, undefined), 'install alloui-lua (skipped this time)'])
  } else await installAlloui(ctx)
  await installNativeLibrary(ctx)
}
