import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../base-command.js'
import { consoleReporter } from '../core/output.js'
import { parsePlaceUrl } from '../core/urls.js'
import { parseIdentity, runView } from '../core/view/attach.js'
import { webViewFlags } from '../view-flags.js'

export default class ViewCommand extends BaseCommand {
  static override summary = 'See and poke any place in a browser: the web view as a client of the place'
  static override description =
    `Joins the place at the URL as an ordinary agent (like a visor: an avatar with a right hand) and serves the web view on 127.0.0.1 — the same page as the built-in place's: a live 3D view, the entity tree, an inspector, Poke, click to poke, drag a grabbable entity to move it, and the interactions. Runs until Ctrl-C, which leaves the place cleanly.

A client cannot see who owns what: each entity is shown as owned by the root entity of its tree (an app's, a visor's), and the interaction log holds what the view's own hand sends and receives. Models and textures are fetched from the place over its asset channel.

When the place restarts or the network drops, the page says "reconnecting" and the view joins again (waiting 0.5 s, then up to 5 s between tries).`

  static override examples = [
    '<%= config.bin %> view alloplace://localhost',
    '<%= config.bin %> view alloplace://place.example.com:21337 --open',
    '<%= config.bin %> view alloplace://localhost --view-port 8080 --name "Ada\'s view"',
    `<%= config.bin %> view alloplace://localhost --identity '{"display_name":"web view","email":"me@example.com"}'`,
  ]

  static override args = {
    url: Args.string({
      description: 'Place to view: alloplace://HOST[:PORT] (port defaults to 21337)',
      required: true,
    }),
  }

  static override flags = {
    ...webViewFlags,
    name: Flags.string({
      description: "Display name the view's agent announces with",
      default: 'web view',
    }),
    identity: Flags.string({
      description: 'The announce identity as a JSON object (its display_name wins over --name)',
    }),
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ViewCommand)
    const place = parsePlaceUrl(args.url)
    const status = await runView({
      place,
      flags: {
        port: flags['view-port'],
        open: flags.open,
        name: flags.name,
        identity: parseIdentity(flags.identity),
        allowedHosts: flags['allowed-host'],
      },
      reporter: consoleReporter(),
    })
    process.exit(status)
  }
}
