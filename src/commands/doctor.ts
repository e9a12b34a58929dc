import { Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { DEFAULT_GATEWAY_PORT, formatDoctor, runDoctor } from '../core/doctor.js'
import { EXIT } from '../core/exit-codes.js'

export default class Doctor extends BaseCommand {
  static override summary =
    'Check this machine and app: Node, LuaJIT, boot script, alloui, allonet, build tools, place, port'
  static override description =
    `Prints a ✓/✗ table with a fix for every ✗ — a step that works on this machine: \`assist fetch\` only when a download mirror is configured, else \`assist fetch --build\`, else what to install first — and exits non-zero when anything failed. A missing library counts once. Checks: the Node.js version; that this is an app folder (and which layout); LuaJIT found, its version, and that it runs; the boot script; alloui present and at the commit the app's git records; the allonet library present, matching allo/allonet.lock, built for this platform and architecture, and loadable by LuaJIT's FFI; whether the app's alloui hands liballonet its poll timeout in seconds and assist converts it (alloui poll); git, cmake and a C compiler (for \`assist fetch --build\`; a missing one is a warning "!", not a failure); with --place, that the place URL parses and its host resolves; that the gateway port is free. Changes nothing.`

  static override examples = [
    '<%= config.bin %> doctor',
    '<%= config.bin %> doctor --place alloplace://place.example.com',
    '<%= config.bin %> doctor --port 8080',
    '<%= config.bin %> doctor --json',
  ]

  static override flags = {
    json: Flags.boolean({
      description: 'Print the checks as JSON: {"ok": bool, "checks": [{name, ok, detail, fix}]}',
    }),
    place: Flags.string({ description: 'Also check this place URL parses and its host resolves' }),
    port: Flags.integer({
      description: 'Gateway port that must be free',
      default: DEFAULT_GATEWAY_PORT,
      min: 1,
      max: 65535,
    }),
    luajit: Flags.string({
      description:
        'LuaJIT binary to check (default: ALLO_LUAJIT, allo/deps/luajit-bin/luajit, then luajit on PATH)',
    }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Doctor)
    const checks = await runDoctor({
      cwd: process.cwd(),
      place: flags.place,
      port: flags.port,
      luajit: flags.luajit,
    })
    const ok = checks.every((ch) => ch.ok)
    if (flags.json) this.log(JSON.stringify({ ok, checks }, null, 2))
    else process.stdout.write(formatDoctor(checks))
    if (!ok) process.exitCode = EXIT.failure
  }
}
