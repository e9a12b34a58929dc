import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { upgradeApp } from '../core/deps/app.js'
import { c } from '../core/output.js'
import { downloadLimitFlags, downloadLimits } from '../download-flags.js'

export default class Upgrade extends BaseCommand {
  static override summary = 'Lock and install a newer allonet: the newest of a branch, or a given version'
  static override description =
    `With no argument, reads <base>/latest_<branch>_<platform>.json (branch "main", or "allonet": {"branch": "…"} in alloapp.json) and, when it names a different version than allo/allonet.lock, downloads and verifies it, writes the lock and installs it. A version argument (like 4.0.54.g53838b4) pins that version; any other argument is a branch name. Prints old → new.

The lock is only rewritten once the new library has been downloaded and verified, so a failed upgrade changes nothing. The base URL is configured as for \`assist fetch\`.`

  static override examples = [
    '<%= config.bin %> upgrade',
    '<%= config.bin %> upgrade 4.0.54.g53838b4',
    '<%= config.bin %> upgrade develop',
    '<%= config.bin %> upgrade --base-url https://mirror.example.com/allonet',
  ]

  static override args = {
    target: Args.string({
      description:
        'A version (MAJOR.MINOR.PATCH.g<commit>) to pin, or a branch whose newest build to use (default main)',
    }),
  }

  static override flags = {
    'base-url': Flags.string({
      description: 'Download base URL; overrides ALLONET_BASE_URL and alloapp.json',
    }),
    timeout: Flags.integer({
      description: 'Give up when the server sends nothing for this many seconds',
      default: 30,
      min: 1,
    }),
    ...downloadLimitFlags,
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Upgrade)
    await upgradeApp({
      cwd: process.cwd(),
      spec: args.target,
      baseUrl: flags['base-url'],
      timeoutMs: flags.timeout * 1000,
      ...downloadLimits(flags),
      say: (line) => this.log(line),
      warn: (line) => process.stderr.write(`${c.yellow('!')} ${line}\n`),
    })
  }
}
