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
import { libraryAdvice, mirrorConfigured, missingToolsText } from '../deps/advice.js'
import { buildTools } from '../deps/tools.js'
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

/** Whether the chosen template uses the native library (it ships allo/allonet.lock). */
function usesAllonet(ctx: Context): boolean {
  const t = ctx.template
  if (!t) return true
  return [t.dir, ...t.include].some((d) => existsSync(join(d, 'allo', 'allonet.lock')))
}

/**
 * Decides whether to build allonet now: --build/--no-build; else, in a terminal with the build tools
 * present and no mirror to download from, ask (default yes). --yes and scripts build only with
 * --build (a first build takes minutes and needs the network). --build without the tools is refused
 * here, before anything is written, naming what to install.
 */
export async function buildDecision(ctx: Context): Promise<void> {
  const o = ctx.options
  ctx.build = false
  if (o.allonetUrl !== undefined && (o.build === false || o.install === false))
    throw new UserError(
      `--allonet-url only applies when allonet is built (it names the source to build); drop it or ${o.build === false ? '--no-build' : '--no-install'}.`,
    )
  if (o.build === false || !ctx.install) {
    if (o.build === true)
      throw new UserError(
        '--build needs the dependencies installed: drop --no-install, or build later with `assist fetch --build`.',
      )
    return
  }
  if (o.build === true) {
    const missing = buildTools(ctx.env).filter((t) => !t.path)
    if (missing.length > 0)
      throw new UserError(
        `--build needs ${missing.map((t) => t.name).join(' and ')}: ${missingToolsText(missing)}. Nothing was written.`,
      )
    ctx.build = true
    return
  }
  if (!ctx.prompt || mirrorConfigured(ctx.env) || !usesAllonet(ctx)) return
  if (buildTools(ctx.env).some((t) => !t.path)) return // next steps say what to install
  ctx.build = await ctx.prompt.confirm({
    message:
      'Build the native allonet library now? (git + cmake: a few minutes the first time, then cached for every app)',
    default: true,
  })
}

/**
 * The native allonet library (allo/lib/liballonet.*), through `assist fetch`'s core: built from source
 * when decided (buildDecision), downloaded when a mirror is configured (ALLONET_BASE_URL); otherwise
 * the next steps name the one way that works on this machine. A failure keeps the app and says how
 * to finish, like alloui's.
 */
export async function installNativeLibrary(ctx: Context): Promise<void> {
  const root = ctx.targetDir
  if (!usesAllonet(ctx) || !existsSync(join(root, 'allo', 'allonet.lock'))) return // a template without native code
  const advice = libraryAdvice(ctx.env)
  const buildCmd = `assist fetch --build${ctx.options.allonetUrl ? ` --allonet-url ${shellQuote(ctx.options.allonetUrl)}` : ''}`
  if (!ctx.install || (!ctx.build && advice.how !== 'download')) {
    ctx.nextSteps.push([
      advice.command,
      advice.how === 'build'
        ? 'once: build the native allonet library into allo/lib (cached: instant for the next app)'
        : advice.how === 'download'
          ? 'once: download the native allonet library from your mirror into allo/lib'
          : `once, after you ${missingToolsText(advice.missing)}: build the native allonet library into allo/lib`,
    ])
    return
  }
  const { fetchApp } = await import('../deps/app.js')
  const dir = displayDir(ctx)
  const followUp = inDir(dir, [ctx.build ? buildCmd : 'assist fetch'])
  ctx.cancelNote = `the app in ${dir ?? '.'} was kept; get the library later with: ${followUp}`
  try {
    await fetchApp({
      cwd: root,
      env: ctx.env,
      timeoutMs: 30_000,
      build: ctx.build,
      allonetUrl: ctx.options.allonetUrl,
      say: (line) => ctx.log(`• ${line}`),
      warn: (line) => ctx.log(`! ${line}`),
    })
    ctx.log(`✔ allonet library installed in allo/lib`)
  } catch (err) {
    if (ctx.signal.aborted) throw err
    ctx.failures.push({
      what: ctx.build
        ? 'building the allonet library (assist fetch --build)'
        : 'installing the allonet library (assist fetch)',
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
