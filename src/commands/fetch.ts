import { Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { fetchApp } from '../core/deps/app.js'
import { c } from '../core/output.js'
import { downloadLimitFlags, downloadLimits } from '../download-flags.js'

export default class Fetch extends BaseCommand {
  static override summary = "Install this app's native dependencies: the locked allonet library and alloui"
  static override description =
    `Installs the allonet version locked in allo/allonet.lock for this platform into allo/lib/ (and records it in allo/lib/allonet.cache), and checks out alloui (allo/deps/alloui) when it is missing. Does nothing when the installed version already matches the lock.

Downloads come from <base>/<version>/<platform>/<file>. The public bucket the old assist used is gone, so the base must be configured: --base-url, the ALLONET_BASE_URL environment variable, or "allonet": {"baseUrl": "…"} in alloapp.json (in that order). Downloads are verified (size, the mirror's <file>.sha256, and the library header) and moved into place atomically: a failed download leaves the previous library untouched. A mirror that publishes no <file>.sha256 is refused unless you pass --allow-no-checksum (or set ALLONET_ALLOW_NO_CHECKSUM=1). A redirect from https to plain http is never followed; a download is capped in size (--max-size) and in total time (--deadline), and the success line names the URL the bytes really came from.

Without a mirror, install a library you have with --from FILE, or build it from source with --build (needs git, cmake and a C compiler; builds are cached in ~/.cache/allo-assist, so the next app is instant).

With --build, a submodule commit allonet pins that its repository no longer has (allonet 4.0.79.g30c6901's lib/cJSON 19dfb5b) is replaced by a known-good commit kept for that allonet version, or else by the submodule's branch carrying allonet's changes; one warning line says so. allo/lib/allonet.cache then records, after the version, the allonet commit and every submodule commit that was built (also in the build log).

One fetch per app and one build per cached version run at a time; a second one waits for the first for as long as that process runs, and takes over at once the lock of a process that died.`

  static override examples = [
    '<%= config.bin %> fetch --base-url https://mirror.example.com/allonet',
    'ALLONET_BASE_URL=https://mirror.example.com/allonet <%= config.bin %> fetch',
    '<%= config.bin %> fetch --from ~/src/allonet/build/liballonet.so --version 4.0.54.g53838b4',
    '<%= config.bin %> fetch --build',
    '<%= config.bin %> fetch --build --allonet-url ~/src/allonet',
    '<%= config.bin %> fetch --force --timeout 120',
  ]

  static override flags = {
    'base-url': Flags.string({
      description:
        'Download base URL (<base>/<version>/<platform>/<file>); overrides ALLONET_BASE_URL and alloapp.json',
    }),
    timeout: Flags.integer({
      description: 'Give up when the server sends nothing for this many seconds',
      default: 30,
      min: 1,
    }),
    force: Flags.boolean({ description: 'Download again even when the installed version matches the lock' }),
    ...downloadLimitFlags,
    from: Flags.string({
      description: 'Install this locally built library file instead of downloading (checked by its header)',
      exclusive: ['build', 'base-url', 'force'],
    }),
    version: Flags.string({
      description: 'With --from: the allonet version of that file, recorded in allo/lib/allonet.cache',
      dependsOn: ['from'],
    }),
    build: Flags.boolean({
      description: 'Build the locked version from source (git + cmake) instead of downloading',
      exclusive: ['from', 'base-url'],
    }),
    'allonet-url': Flags.string({
      description:
        'With --build: allonet git URL or local clone to build from (default https://github.com/alloverse/allonet.git)',
      dependsOn: ['build'],
    }),
    target: Flags.string({
      description: 'With --build: the CMake target that builds the shared library (default allonet)',
      dependsOn: ['build'],
    }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Fetch)
    await fetchApp({
      cwd: process.cwd(),
      baseUrl: flags['base-url'],
      timeoutMs: flags.timeout * 1000,
      ...downloadLimits(flags),
      force: flags.force,
      from: flags.from,
      version: flags.version,
      build: flags.build,
      allonetUrl: flags['allonet-url'],
      target: flags.target,
      say: (line) => this.log(line),
      warn: (line) => process.stderr.write(`${c.yellow('!')} ${line}\n`),
    })
  }
}
