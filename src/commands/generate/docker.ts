import { Flags } from '@oclif/core'
import { BaseCommand } from '../../base-command.js'

export default class GenerateDocker extends BaseCommand {
  static override hiddenAliases = ['generate-docker']
  static override summary =
    'Write a Dockerfile, .dockerignore and compose.yaml that run this app behind its gateway'
  static override description =
    `Writes into the app folder (or --output DIR) the files that build a container image running the production gateway (assist serve) for this app — the same Dockerfile and .dockerignore "assist create" puts in new apps — and a compose.yaml (the gateway, its port, restart policy, healthcheck, no capabilities and no new privileges; with --domain also nginx in front, with the site "assist generate nginx" writes, in nginx/DOMAIN.conf).

The Dockerfile is multi-stage: a build stage installs allo-assist from npm, builds or downloads the native allonet library (build arguments ALLONET_BASE_URL / ALLONET_FROM) and gets alloui; the image that runs has Node, LuaJIT, tini as PID 1, the app, and runs as a non-root user with a HEALTHCHECK on /health.

Refuses to replace an existing file unless --force; writes all the files or none.`

  static override examples = [
    '<%= config.bin %> generate docker',
    '<%= config.bin %> generate docker --domain apps.example.com',
    '<%= config.bin %> generate docker --port 8080 --grace 10000 --force',
    '<%= config.bin %> generate docker --base-image node:22-bookworm-slim --output /tmp/review',
  ]

  static override flags = {
    name: Flags.string({
      description: 'Compose project and image name (default: the app folder name, lowercased)',
    }),
    port: Flags.string({ description: 'Port the gateway listens on inside the container', default: '8000' }),
    grace: Flags.string({
      description: 'Ms each app instance gets between SIGTERM and SIGKILL when the container stops',
      default: '5000',
    }),
    'base-image': Flags.string({
      description: 'Debian-based image with Node 20.19+ for every stage (the BASE_IMAGE build argument)',
      default: 'node:24-bookworm-slim',
    }),
    'assist-version': Flags.string({
      description: 'allo-assist version the image installs from npm (default: this one)',
    }),
    domain: Flags.string({
      description: 'Put nginx in front in compose.yaml, terminating TLS for this domain',
    }),
    'read-only-root': Flags.boolean({
      description:
        'Make the root filesystem read-only (only /tmp writable). Only for apps that open no file of their own for writing: alloui opens asset files read-write',
    }),
    output: Flags.string({
      char: 'o',
      description: 'Write the files into this folder instead of the app folder',
    }),
    force: Flags.boolean({ description: 'Replace files that already exist' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(GenerateDocker)
    const { generateDocker } = await import('../../core/deploy/index.js')
    const result = generateDocker(
      {
        cwd: process.cwd(),
        name: flags.name,
        port: flags.port,
        graceMs: flags.grace,
        baseImage: flags['base-image'],
        assistVersion: flags['assist-version'],
        domain: flags.domain,
        readOnlyRoot: flags['read-only-root'],
      },
      { output: flags.output, force: flags.force },
    )
    for (const line of result.nextSteps) this.log(line)
  }
}
