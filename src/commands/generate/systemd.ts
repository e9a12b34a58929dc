import { Flags } from '@oclif/core'
import { BaseCommand } from '../../base-command.js'
import { c } from '../../core/output.js'

export default class GenerateSystemd extends BaseCommand {
  // Both spellings work; help lists the command once, under the generate topic.
  static override hiddenAliases = ['generate-systemd']
  static override summary =
    'Write a hardened systemd unit that runs "assist serve" for this app (or apps root) on boot'
  static override description =
    `Renders a systemd service unit with absolute paths (this node, this assist, the app folder), the user to run as, the gateway's environment, restart and stop settings that match the gateway's drain, and sandboxing that "systemd-analyze security" rates OK while apps still run.

Run it inside an app folder (the unit serves that app) or in a folder of app folders / with --apps-root (the unit serves every app under it, POST /<folder>). Prints to stdout unless --output or --install is given; never runs systemctl.`

  static override examples = [
    '<%= config.bin %> generate systemd --user allo',
    '<%= config.bin %> generate systemd --user allo --apps-root /srv/allo/apps --host 127.0.0.1 --output allo-gateway.service',
    'sudo <%= config.bin %> generate systemd --user allo --install',
    '<%= config.bin %> generate systemd --user allo --instances 4 --port 8000 --max-instances 20',
    '<%= config.bin %> generate systemd --user allo --env LOG_LEVEL=debug --environment-file /etc/allo/gateway.env',
  ]

  static override flags = {
    user: Flags.string({
      description: 'User the gateway runs as (default: the invoking user; SUDO_USER under sudo)',
    }),
    group: Flags.string({
      description:
        "Group the gateway runs as (default: the user's primary group on this machine); root (or 0) is refused like --user",
    }),
    'allow-root': Flags.boolean({ description: 'Allow running the gateway as root (not recommended)' }),
    name: Flags.string({ description: 'Unit name without .service (default: allo-gateway-<folder>)' }),
    'apps-root': Flags.string({
      description: 'Serve every app in this folder (sets APPS_ROOT) instead of the app found from here',
    }),
    port: Flags.integer({
      description: 'Gateway port (PORT); with --instances, the first port',
      default: 8000,
    }),
    instances: Flags.integer({
      description:
        'Write a template unit NAME@.service: N gateways on consecutive ports, the instance name being the port',
    }),
    host: Flags.string({
      description: 'Address the gateway binds (serve --host); use 127.0.0.1 behind nginx (generate nginx)',
    }),
    'max-instances': Flags.integer({ description: 'Passed to serve --max-instances' }),
    'max-per-place': Flags.integer({ description: 'Passed to serve --max-per-place' }),
    'max-lifetime': Flags.string({
      description: 'Stop each app instance after this long: seconds, or 30m, 12h, 1d (serve --max-lifetime)',
    }),
    luajit: Flags.string({
      description: 'Absolute path of LuaJIT for Lua apps (serve --luajit); default: found by serve',
    }),
    'log-format': Flags.string({ description: 'Passed to serve --log-format', options: ['human', 'json'] }),
    'max-body': Flags.integer({ description: 'Passed to serve --max-body (bytes)' }),
    grace: Flags.integer({
      description: 'Ms each app instance gets between SIGTERM and SIGKILL on stop; TimeoutStopSec follows it',
      default: 5000,
    }),
    env: Flags.string({
      description:
        'Extra environment KEY=VALUE for the gateway (repeatable). Apps do not inherit it (they get PATH, HOME, LANG … only; see serve --env). LD_*, PATH, NODE_OPTIONS and the like get a warning',
      multiple: true,
    }),
    'environment-file': Flags.string({
      description: 'Absolute path of an EnvironmentFile= (for secrets such as ASSIST_ADMIN_TOKEN)',
    }),
    output: Flags.string({ char: 'o', description: 'Write to this file (atomically) instead of stdout' }),
    install: Flags.boolean({
      description: 'Write to /etc/systemd/system/NAME.service and print the systemctl line to run',
    }),
    force: Flags.boolean({ description: 'Overwrite an existing file with --output/--install' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(GenerateSystemd)
    const { generateSystemd } = await import('../../core/deploy/index.js')
    const result = generateSystemd(
      {
        cwd: process.cwd(),
        appsRoot: flags['apps-root'],
        user: flags.user,
        group: flags.group,
        allowRoot: flags['allow-root'],
        name: flags.name,
        port: flags.port,
        instances: flags.instances,
        host: flags.host,
        maxInstances: flags['max-instances'],
        maxPerPlace: flags['max-per-place'],
        maxLifetime: flags['max-lifetime'],
        luajit: flags.luajit,
        logFormat: flags['log-format'],
        maxBody: flags['max-body'],
        graceMs: flags.grace,
        env: flags.env,
        environmentFile: flags['environment-file'],
      },
      { output: flags.output, install: flags.install, force: flags.force },
    )
    for (const line of result.warnings) process.stderr.write(`${c.yellow('!')} ${line}\n`)
    if (result.writtenTo === undefined) process.stdout.write(result.text)
    else for (const line of result.nextSteps) this.log(line)
  }
}
