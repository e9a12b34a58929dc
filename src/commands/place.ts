import { Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { consoleReporter } from '../core/output.js'
import { runPlace } from '../core/place/run.js'
import { webViewFlags } from '../view-flags.js'

export default class PlaceCommand extends BaseCommand {
  static override summary = 'Run a development place that apps and visors can connect to'
  static override description =
    `Starts an Alloverse place (allonet protocol 4 over ENet/UDP) on this machine and runs it until Ctrl-C. Real Lua apps on liballonet connect to it, announce, build their UI and get interactions; launch_app requests are POSTed to app gateways (assist serve) as the real place does.

Prints one line per agent event (connected, announced, disconnected, app launches) and a warning for bad input from the network, which the place answers with an error or drops. --verbose also prints every interaction.

It also serves a web view on 127.0.0.1 (its URL is printed; --open opens it): a live 3D view of every entity, the entity tree with components and owners, the agents and the interactions. Clicking an entity with a collider pokes it like a visor's hand; dragging a grabbable entity moves it.`

  static override examples = [
    '<%= config.bin %> place',
    '<%= config.bin %> place --port 0 --name "Test place"',
    '<%= config.bin %> place --host 0.0.0.0 --public-host myhost.local --verbose',
    '<%= config.bin %> place --open',
    '<%= config.bin %> place --view-port 8080',
  ]

  static override flags = {
    host: Flags.string({
      description: 'Address to listen on (0.0.0.0: every interface)',
      default: '127.0.0.1',
    }),
    port: Flags.integer({
      description: 'UDP port to listen on (0 picks a free one)',
      env: 'ALLOPLACE_PORT',
      default: 21337,
      min: 0,
      max: 65535,
    }),
    name: Flags.string({
      description: 'Place name, sent to every agent that announces',
      env: 'ALLOPLACE_NAME',
      default: 'Development place',
    }),
    'public-host': Flags.string({
      description: 'Host name the place gives app gateways in x-alloverse-server when launching apps',
      env: 'ALLOPLACE_HOST',
      default: 'localhost',
    }),
    verbose: Flags.boolean({
      char: 'v',
      description: 'Also log every interaction',
    }),
    ...webViewFlags,
    view: Flags.boolean({
      description: 'Serve the web view (--no-view: none)',
      default: true,
      allowNo: true,
    }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(PlaceCommand)
    const status = await runPlace({
      host: flags.host,
      port: flags.port,
      name: flags.name,
      publicHost: flags['public-host'],
      verbose: flags.verbose,
      view: flags.view && { port: flags['view-port'], open: flags.open, allowedHosts: flags['allowed-host'] },
      reporter: consoleReporter(),
    })
    process.exit(status)
  }
}
