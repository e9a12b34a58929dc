import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { UserError } from '../core/errors.js'
import { consoleReporter } from '../core/output.js'
import { parseJsonFlag, runApp, runWithBuiltInPlace } from '../core/run.js'
import { parsePlaceUrl } from '../core/urls.js'
import { webViewFlags } from '../view-flags.js'

export default class Run extends BaseCommand {
  static override summary = 'Run this app against a place, restarting it on every save'
  static override description =
    `Finds the app from the current folder (or any folder inside it), starts it connected to the place, and restarts it once per burst of saves. Type "rs" + Enter to restart by hand; Ctrl-C stops the app and its whole process tree.

Without a URL (or with --place) it starts a development place in the same process on 127.0.0.1 (a free UDP port, or --place-port), prints its alloplace:// URL and connects the app to it; other agents (visors, test clients, assist serve launches) can join that URL too. It also prints the URL of the place's web view (--open opens it in the browser): see the app's entities in 3D and poke its buttons. With a place URL, --view serves the same web view of that place (see "assist view"); --open or --view-port imply it.

Watched: everything under the app root except .git, node_modules, allo/deps, allo/lib, *.log, editor and tool temp files (a save through a temporary file, as sed -i and many editors do, is one change named after the real file), the files run's own output is redirected to, and what the app's .gitignore ignores.

Exit status: 0 when the app exited 0 (--no-watch), 2 for a usage error, 3 when something is missing (LuaJIT, alloui, the allonet library), 4 when nothing answers at the place URL or a port is taken, 5 when the app failed, 128 + N when stopped by signal N.`

  static override examples = [
    '<%= config.bin %> run',
    '<%= config.bin %> run --place --place-port 21337 --no-watch',
    '<%= config.bin %> run --open',
    '<%= config.bin %> run alloplace://localhost',
    '<%= config.bin %> run alloplace://place.example.com:21337 --restart-on-crash',
    '<%= config.bin %> run alloplace://localhost --no-watch',
    '<%= config.bin %> run alloplace://place.example.com --view --open',
    `<%= config.bin %> run alloplace://localhost --launch-args '{"initialLocation":[1,0,0,0,0,1,0,0,0,0,1,0,0,1.2,-2,1]}' --identity '{"display_name":"me"}'`,
  ]

  static override args = {
    url: Args.string({
      description:
        'Place to connect to: alloplace://HOST[:PORT] (port defaults to 21337). Without it, a built-in place is started',
    }),
  }

  static override flags = {
    luajit: Flags.string({
      description:
        'LuaJIT binary to use (default: ALLO_LUAJIT, allo/deps/luajit-bin/luajit, then luajit on PATH)',
    }),
    watch: Flags.string({
      description: 'Watch only this path (relative to the app root); repeatable',
      multiple: true,
    }),
    ignore: Flags.string({
      description: 'Also ignore paths matching this gitignore-style pattern; repeatable',
      multiple: true,
    }),
    'no-watch': Flags.boolean({
      description:
        'Run once without watching files; run exits when the app exits (0 if it exited 0, else 5; 4 if it could not reach the place)',
    }),
    delay: Flags.integer({
      description: 'Quiet time in ms after the last save before restarting',
      default: 40,
      min: 0,
    }),
    grace: Flags.integer({
      description: 'Ms to wait after SIGTERM before SIGKILL when stopping the app',
      default: 3000,
      min: 0,
    }),
    'restart-on-crash': Flags.boolean({
      description:
        'Restart after a crash (with backoff) instead of waiting for a change. A crash includes an error alloui caught in a Lua app (exit 80) and a lost place, e.g. one that restarted (exit 81)',
    }),
    'poll-fix': Flags.boolean({
      description:
        'Convert alloui\'s Client:poll timeout to the milliseconds liballonet expects, so an idle app sleeps instead of spinning (--no-poll-fix, ALLO_ASSIST_POLL_FIX=0 or "pollFix": false in alloapp.json: pass it unchanged)',
      default: true,
      allowNo: true,
    }),
    verbose: Flags.boolean({
      description: 'Also print how the app is started (e.g. whether the poll fix is on)',
    }),
    'launch-args': Flags.string({
      description: 'Launch arguments JSON object, passed as ALLO_APP_BOOT_ARGS (as the gateway does)',
    }),
    identity: Flags.string({
      description: 'Identity JSON passed as ALLO_APP_BOOTED_BY_IDENTITY (as the gateway does)',
    }),
    place: Flags.boolean({
      description: 'Start a built-in development place and connect the app to it (the default without a URL)',
    }),
    'place-port': Flags.integer({
      description: 'UDP port of the built-in place (default: a free port)',
      min: 0,
      max: 65535,
    }),
    'place-name': Flags.string({
      description: 'Name of the built-in place',
      default: 'Development place',
    }),
    'place-verbose': Flags.boolean({
      description: 'Log every interaction the built-in place handles',
    }),
    ...webViewFlags,
    view: Flags.boolean({
      description:
        "Serve the place's web view (default: on for the built-in place, off with a place URL; --no-view: none)",
      allowNo: true,
    }),
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Run)
    if (args.url !== undefined && flags.place) {
      throw new UserError(
        `Give either a place URL or --place, not both: \`assist run ${args.url}\` joins that place, \`assist run --place\` starts one.`,
      )
    }
    const builtIn = args.url === undefined
    const viewFlags = flags['view-port'] !== undefined || flags.open || flags['allowed-host'] !== undefined
    if (flags.view === false && viewFlags) {
      throw new UserError(
        '--no-view turns the web view off: drop --view-port, --open and --allowed-host, or drop --no-view.',
      )
    }
    // The built-in place serves its view unless told not to; a remote place's only on request.
    const view = builtIn ? flags.view !== false : flags.view === true || viewFlags
    if (!builtIn && flags['place-port'] !== undefined) {
      throw new UserError(
        '--place-port only applies to the built-in place: drop the URL, or drop --place-port.',
      )
    }
    const common = {
      cwd: process.cwd(),
      luajit: flags.luajit,
      watch: !flags['no-watch'],
      watchPaths: flags.watch,
      ignore: flags.ignore,
      debounceMs: flags.delay,
      graceMs: flags.grace,
      restartOnCrash: flags['restart-on-crash'],
      pollFix: flags['poll-fix'],
      verbose: flags.verbose,
      launchArgs:
        flags['launch-args'] === undefined
          ? undefined
          : parseJsonFlag('--launch-args', flags['launch-args'], true),
      identity: flags.identity === undefined ? undefined : parseJsonFlag('--identity', flags.identity, false),
      stdin: process.stdin,
      reporter: consoleReporter(),
    }
    const status = builtIn
      ? await runWithBuiltInPlace({
          ...common,
          place: {
            port: flags['place-port'],
            name: flags['place-name'],
            verbose: flags['place-verbose'],
            view: view && { port: flags['view-port'], open: flags.open, allowedHosts: flags['allowed-host'] },
          },
        })
      : await runApp({
          ...common,
          placeUrl: parsePlaceUrl(args.url as string).href,
          view: view && { port: flags['view-port'], open: flags.open, allowedHosts: flags['allowed-host'] },
        })
    process.exit(status)
  }
}
