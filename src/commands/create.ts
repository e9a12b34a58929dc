import { writeSync } from 'node:fs'
import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { UserError } from '../core/errors.js'
import { signalExit } from '../core/exit-codes.js'
import { c } from '../core/output.js'
import {
  buildContext,
  createApp,
  DEFAULT_ALLOUI_URL,
  inquirerPrompter,
  isPromptCancel,
} from '../core/scaffold/index.js'

export default class Create extends BaseCommand {
  static override summary = 'Create a new Alloverse app from a template'
  static override description =
    `Creates the app in DIR (a new or empty folder), asking for whatever the flags leave open when run in a terminal; without a terminal, or with --yes, it never asks and uses the flags and the defaults.

The files are written into a temporary folder beside DIR and moved into place only when complete: on an error or Ctrl-C nothing is left behind. With --force, DIR may already hold files; they are never overwritten (create refuses and lists them instead).

Then, by default, it runs git init and installs alloui-lua into allo/deps/alloui (a git submodule, or a clone with --no-git). If that install fails, the app is kept and create prints the exact command that finishes the job.

The native allonet library: with a download mirror configured (ALLONET_BASE_URL) it is downloaded; otherwise, in a terminal with git, cmake and a C compiler installed, create offers to build it from source (--build does so without asking, --no-build never). Builds are cached in ~/.cache/allo-assist, so the next app gets the library at once. When it is not installed now, the next steps name the command that works on this machine (or what to install first).

The app name must be 1–64 characters: lower-case letters, digits, "-" and "_", starting with a letter (it becomes the folder name and goes into Lua code).`

  static override examples = [
    '<%= config.bin %> create my-app',
    '<%= config.bin %> create my-app --yes --no-install',
    '<%= config.bin %> create my-app --yes --build',
    '<%= config.bin %> create apps/clock --name clock --display-name "Clock" --author "Ada" --template minimal',
    '<%= config.bin %> create . --force --no-git',
    '<%= config.bin %> create my-app --alloui-url https://github.com/me/alloui-lua.git --alloui-ref my-branch',
  ]

  static override args = {
    dir: Args.string({
      description: 'Folder to create the app in (default: ./NAME)',
    }),
  }

  static override flags = {
    name: Flags.string({ description: 'App name (default: the folder name), e.g. my-app' }),
    'display-name': Flags.string({
      description: 'Name shown in the app market, written to info.json (default: the name in title case)',
    }),
    author: Flags.string({
      description: "Author for info.json (default: git's user.name, or your login name)",
    }),
    template: Flags.string({
      char: 't',
      description: 'Template: lua (default) or minimal — or a path to a template folder of your own',
    }),
    git: Flags.boolean({
      allowNo: true,
      description: 'Run git init (skipped inside an existing repository); --no-git to skip. Default: yes',
    }),
    install: Flags.boolean({
      allowNo: true,
      description: 'Install alloui-lua into allo/deps/alloui; --no-install to skip. Default: yes',
    }),
    commit: Flags.boolean({ description: 'Make an initial git commit of the new app' }),
    yes: Flags.boolean({
      char: 'y',
      description: 'Do not ask: use the defaults for everything the flags leave open',
    }),
    force: Flags.boolean({
      description: 'Allow a folder that is not empty (existing files are kept; none is overwritten)',
    }),
    'alloui-url': Flags.string({ description: 'Git URL of alloui-lua', default: DEFAULT_ALLOUI_URL }),
    build: Flags.boolean({
      allowNo: true,
      description:
        'Build the native allonet library from source now (assist fetch --build: git, cmake and a C compiler; cached, so the next app gets it at once). In a terminal create offers it; --no-build to skip',
    }),
    'allonet-url': Flags.string({
      description:
        'With --build: allonet git URL or local clone to build from (default https://github.com/alloverse/allonet.git)',
    }),
    'alloui-ref': Flags.string({
      description:
        "Branch, tag or commit of alloui-lua to check out (default: the repository's default branch)",
    }),
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Create)
    const controller = new AbortController()
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY)
    const ctx = buildContext({
      cwd: process.cwd(),
      tty,
      prompter: inquirerPrompter,
      signal: controller.signal,
      log: (line) => process.stdout.write(`${line.replace(/^✔/, c.green('✔')).replace(/^•/, c.dim('•'))}\n`),
      options: {
        dir: args.dir,
        name: flags.name,
        displayName: flags['display-name'],
        author: flags.author,
        template: flags.template,
        git: flags.git,
        install: flags.install,
        commit: flags.commit,
        yes: flags.yes,
        force: flags.force,
        allouiUrl: flags['alloui-url'],
        allouiRef: flags['alloui-ref'],
        build: flags.build,
        allonetUrl: flags['allonet-url'],
      },
    })
    // Ctrl-C: the steps undo their part synchronously (abort listeners), then we die by SIGINT as
    // Unix programs should (a blocked file read cannot hold us up, and shells see the interrupt).
    const onSigint = () => {
      controller.abort()
      // Straight to fd 2: listr2 buffers process.stderr writes while it draws.
      writeSync(2, `\n${c.yellow('Cancelled')}: ${ctx.cancelNote}.\n`)
      process.off('SIGINT', onSigint)
      setTimeout(() => process.exit(signalExit('SIGINT')), 1000).unref() // in case someone else still handles SIGINT
      process.kill(process.pid, 'SIGINT')
    }
    process.on('SIGINT', onSigint)
    try {
      const result = await createApp(ctx)
      process.stdout.write(`\n${result.summary}\n`)
      if (result.exitCode !== 0) process.exitCode = result.exitCode
    } catch (err) {
      if (isPromptCancel(err)) throw new UserError(`Cancelled: ${ctx.cancelNote}.`, signalExit('SIGINT'))
      throw err
    } finally {
      process.off('SIGINT', onSigint)
    }
  }
}
