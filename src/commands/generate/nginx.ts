import { Flags } from '@oclif/core'
import { BaseCommand } from '../../base-command.js'

export default class GenerateNginx extends BaseCommand {
  // Both spellings work; help lists the command once, under the generate topic.
  static override hiddenAliases = ['generate-nginx']
  static override summary = 'Write an nginx site that terminates TLS in front of one or more gateways'
  static override description =
    `Renders an nginx site (upstream + server blocks, meant for /etc/nginx/sites-available/DOMAIN; it lives inside http {}): a port-80 server for the ACME challenge that redirects everything else to HTTPS, and an HTTPS server with modern TLS, HSTS, forwarded headers, the body size and timeouts that fit a place's 1-second launch budget, and retry on the next gateway after a connection error or a 503 (a gateway at capacity started nothing).

Prints to stdout unless --output is given.`

  static override examples = [
    '<%= config.bin %> generate nginx --domain apps.example.com',
    '<%= config.bin %> generate nginx --domain apps.example.com --upstream 127.0.0.1:8000 --upstream 127.0.0.1:8001 --rate-limit 10r/m',
    '<%= config.bin %> generate nginx --domain apps.example.com --output /etc/nginx/sites-available/apps.example.com',
    '<%= config.bin %> generate nginx --domain apps.example.com --cert /etc/ssl/apps.pem --key /etc/ssl/apps.key --listen-https 8443',
  ]

  static override flags = {
    domain: Flags.string({
      description: 'Public host name (server_name and certificate), e.g. apps.example.com',
    }),
    upstream: Flags.string({
      description: 'Gateway HOST:PORT to proxy to; repeat to balance several (default 127.0.0.1:8000)',
      multiple: true,
    }),
    cert: Flags.string({
      description: 'Certificate chain (default /etc/letsencrypt/live/DOMAIN/fullchain.pem)',
    }),
    key: Flags.string({ description: 'Private key (default /etc/letsencrypt/live/DOMAIN/privkey.pem)' }),
    'listen-http': Flags.string({ description: 'HTTP listen PORT or ADDRESS:PORT', default: '80' }),
    'listen-https': Flags.string({ description: 'HTTPS listen PORT or ADDRESS:PORT', default: '443' }),
    ipv6: Flags.boolean({
      description: 'Also listen on [::] when a listen value is a bare port',
      default: true,
      allowNo: true,
    }),
    'acme-root': Flags.string({
      description: 'Folder served for ACME HTTP challenges',
      default: '/var/www/letsencrypt',
    }),
    'rate-limit': Flags.string({ description: 'Limit launches (POST) per client address, e.g. 10r/m' }),
    'rate-burst': Flags.integer({
      description: 'Launches allowed above --rate-limit before 429',
      default: 5,
    }),
    'access-log': Flags.string({
      description: 'Access log path, or "off" (default /var/log/nginx/DOMAIN.access.log)',
    }),
    'max-body': Flags.integer({
      description: "Largest request body in bytes; match the gateway's --max-body",
      default: 65536,
    }),
    output: Flags.string({ char: 'o', description: 'Write to this file (atomically) instead of stdout' }),
    force: Flags.boolean({ description: 'Overwrite an existing file with --output' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(GenerateNginx)
    const { generateNginx } = await import('../../core/deploy/index.js')
    const result = generateNginx(
      {
        domain: flags.domain as string,
        upstreams: flags.upstream,
        cert: flags.cert,
        key: flags.key,
        listenHttp: flags['listen-http'],
        listenHttps: flags['listen-https'],
        ipv6: flags.ipv6,
        acmeRoot: flags['acme-root'],
        rateLimit: flags['rate-limit'],
        rateBurst: flags['rate-burst'],
        accessLog: flags['access-log'],
        maxBody: flags['max-body'],
      },
      { output: flags.output, force: flags.force },
    )
    if (result.writtenTo === undefined) process.stdout.write(result.text)
    else for (const line of result.nextSteps) this.log(line)
  }
}
