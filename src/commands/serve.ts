import { Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { EXIT } from '../core/exit-codes.js'
import { listeningLine } from '../core/gateway/server.js'
import { createLog, type LogFormat, startGateway } from '../core/gateway.js'
import { normalizeAllowedHost } from '../core/host-check.js'
import { PASSED_PREFIXES, PASSED_VARIABLES, parseEnvAdditions } from '../core/instance-env.js'

export default class Serve extends BaseCommand {
  static override summary = 'Run the app gateway: places POST to it to start app instances'
  static override description =
    `Starts an HTTP gateway that places call to launch apps (the "alloapp:http://HOST:PORT/PATH" URLs).

Inside an app folder it serves that app: a POST to any path starts one new instance. With --apps-root (or APPS_ROOT) it serves every app folder directly under that folder, chosen by the first path segment: POST /allo-clock.

Each POST needs the headers x-alloverse-server (the alloplace:// URL to connect to) and x-alloverse-launched-by (the identity, passed on untouched as ALLO_APP_BOOTED_BY_IDENTITY) and a JSON object body (passed on exactly as ALLO_APP_BOOT_ARGS). The answer is 200 {"status":"ok","instance":"ID",...} as soon as the process has started, or {"status":"error","error":"..."} with 400/404/405/413 (body over --max-body)/415/429/503/502.

Instances do not inherit the gateway's environment (its ASSIST_ADMIN_TOKEN, PORT, APPS_ROOT, NODE_OPTIONS … stay with the gateway): each gets only ${PASSED_VARIABLES.join(', ')} and ${PASSED_PREFIXES.map((p) => `${p}*`).join(', ')} from it, plus --env values, the app's alloapp.json "env", and ALLO_APP_BOOT_ARGS / ALLO_APP_BOOTED_BY_IDENTITY.

Every instance is tracked and reaped. GET /health, GET /apps, GET /instances and DELETE /instances/ID (loopback only, or with --admin-token). SIGTERM or Ctrl-C stops accepting, stops every instance (asks it to leave the place, then TERM, grace, KILL) and exits 0; a second signal kills them at once.`

  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --apps-root ./apps --port 8000',
    'APPS_ROOT=/srv/apps PORT=8080 <%= config.bin %> serve --log-format json',
    '<%= config.bin %> serve --apps-root ./apps --max-instances 50 --max-per-place 5 --max-lifetime 86400',
    '<%= config.bin %> serve --apps-root ./apps --env LOG_LEVEL=debug --env LUA_PATH',
    'ASSIST_ADMIN_TOKEN="$(openssl rand -hex 16)" <%= config.bin %> serve --host 127.0.0.1',
  ]

  static override flags = {
    port: Flags.integer({
      description: 'TCP port to listen on',
      env: 'PORT',
      default: 8000,
      min: 0,
      max: 65535,
    }),
    host: Flags.string({
      description: 'Address to listen on (default: all interfaces), e.g. 127.0.0.1 behind nginx',
    }),
    'apps-root': Flags.string({
      description: 'Serve every app folder directly under this folder: POST /<app folder name>',
      env: 'APPS_ROOT',
    }),
    'max-instances': Flags.integer({
      description: 'Most instances running at once (0: no limit); more launches get 503',
      default: 100,
      min: 0,
    }),
    'max-per-place': Flags.integer({
      description: 'Most instances per place (0: no limit); more launches from that place get 429',
      default: 0,
      min: 0,
    }),
    'max-lifetime': Flags.integer({
      description: 'Stop an instance after this many seconds (default: never)',
      min: 1,
    }),
    'admin-token': Flags.string({
      description:
        'Allow GET /instances and DELETE /instances/ID from anywhere with "Authorization: Bearer TOKEN" (then required from every client)',
      env: 'ASSIST_ADMIN_TOKEN',
    }),
    'log-format': Flags.string({
      description: 'human lines, or json (one structured object per line, for journald/log shippers)',
      options: ['human', 'json'],
      default: 'human',
    }),
    'max-body': Flags.integer({
      description: 'Largest accepted request body in bytes',
      default: 65_536,
      min: 1,
    }),
    grace: Flags.integer({
      description: 'Ms between SIGTERM and SIGKILL when stopping an instance',
      default: 5000,
      min: 0,
    }),
    luajit: Flags.string({
      description:
        'LuaJIT binary for Lua apps (default: ALLO_LUAJIT, allo/deps/luajit-bin/luajit, then PATH)',
    }),
    env: Flags.string({
      description:
        "Give every instance KEY=VALUE, or KEY alone to pass the gateway's own value on (repeatable); instances get no other gateway variables besides PATH, HOME, USER, LANG, LC_*, TZ …",
      multiple: true,
    }),
    'allowed-host': Flags.string({
      description:
        'A host name, besides localhost and IP addresses, under which tokenless GET/DELETE /instances answers (repeatable; DNS-rebinding protection)',
      multiple: true,
    }),
    'max-connections-per-address': Flags.integer({
      description:
        'Most simultaneous connections from one client address (0: no limit); more are refused with 503',
      default: 256,
      min: 0,
    }),
    'poll-fix': Flags.boolean({
      description:
        'Convert alloui\'s Client:poll timeout to the milliseconds liballonet expects, so idle Lua instances sleep instead of spinning (--no-poll-fix, ALLO_ASSIST_POLL_FIX=0 or "pollFix": false in an app\'s alloapp.json: pass it unchanged)',
      default: true,
      allowNo: true,
    }),
    verbose: Flags.boolean({
      description: 'Also log how apps are started (e.g. whether the poll fix is on)',
    }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Serve)
    const log = await createLog(flags['log-format'] as LogFormat)
    const gateway = await startGateway({
      port: flags.port,
      host: flags.host || undefined,
      appsRoot: flags['apps-root'] || undefined,
      maxInstances: flags['max-instances'],
      maxPerPlace: flags['max-per-place'],
      maxLifetimeMs: flags['max-lifetime'] === undefined ? undefined : flags['max-lifetime'] * 1000,
      adminToken: flags['admin-token'] || undefined,
      maxBodyBytes: flags['max-body'],
      graceMs: flags.grace,
      luajit: flags.luajit,
      appEnv: parseEnvAdditions(flags.env ?? [], process.env),
      allowedHosts: (flags['allowed-host'] ?? []).map((h) => normalizeAllowedHost(h)),
      maxConnectionsPerAddress: flags['max-connections-per-address'],
      pollFix: flags['poll-fix'],
      verbose: flags.verbose,
      log,
    })
    const line = listeningLine(gateway, flags.host)
    if (flags['log-format'] === 'json')
      log.info(line, { event: 'listening', url: gateway.url, mode: gateway.mode })
    else process.stdout.write(`${line}\n`)

    let signals = 0
    const onSignal = (sig: NodeJS.Signals) => {
      signals++
      if (signals === 1) {
        log.info(`${sig}: shutting down (send it again to kill every instance at once)`, {
          event: 'shutdown',
          signal: sig,
        })
        void gateway.close().then(() => {
          log.info('all instances stopped; bye', { event: 'stopped' })
          process.exit(signals > 1 ? EXIT.failure : EXIT.ok)
        })
      } else {
        log.warn(`${sig} again: killing every instance now`, { event: 'shutdown-forced', signal: sig })
        void gateway.close({ force: true }).then(() => process.exit(EXIT.failure))
      }
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    await gateway.closed
  }
}
