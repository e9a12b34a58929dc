import { Flags } from '@oclif/core'
import { BaseCommand } from '../../base-command.js'

export default class GenerateKubernetes extends BaseCommand {
  static override hiddenAliases = ['generate-kubernetes']
  static override summary = "Write Kubernetes manifests that run N gateways from this app's image"
  static override description =
    `Renders a Deployment of --replicas independent gateways (each one is a full "assist serve"; a place's launch may land on any of them), a Service, a PodDisruptionBudget, and with --domain an Ingress with TLS. Pods have liveness and readiness probes on /health (which answers 503 while a gateway drains), resource requests and limits, a restrictive securityContext (non-root, no privilege escalation, every capability dropped, RuntimeDefault seccomp; with --read-only-root also a read-only root filesystem, /tmp being the only writable place — not the default, because alloui opens asset files read-write), and a termination grace period that covers the gateway's drain (--grace plus 5 s).

Build the image with the app's Dockerfile ("assist generate docker"), push it to a registry the cluster can pull from and pass it as --image. Prints to stdout unless --output is given; never runs kubectl.`

  static override examples = [
    '<%= config.bin %> generate kubernetes --image registry.example.com/clock:1.0',
    '<%= config.bin %> generate kubernetes --image registry.example.com/clock:1.0 --replicas 4 --domain apps.example.com',
    '<%= config.bin %> generate kubernetes --name clock --namespace allo --memory-limit 2Gi --output clock.yaml',
  ]

  static override flags = {
    name: Flags.string({
      description: 'Name of the Deployment, Service and the rest (default: the app folder name)',
    }),
    namespace: Flags.string({
      description: "Namespace to put everything in (default: kubectl's current one)",
    }),
    image: Flags.string({
      description: "The app's image, e.g. registry.example.com/clock:1.0 (default: NAME:latest)",
    }),
    replicas: Flags.string({ description: 'Number of gateways (pods)', default: '2' }),
    port: Flags.string({
      description: 'Port the gateway listens on in the pod (and the Service port)',
      default: '8000',
    }),
    grace: Flags.string({
      description:
        'Ms each app instance gets between SIGTERM and SIGKILL; the pod termination grace follows it',
      default: '5000',
    }),
    'max-instances': Flags.string({
      description: 'Most app instances per gateway (serve --max-instances)',
      default: '100',
    }),
    'cpu-request': Flags.string({ description: 'CPU request per gateway pod', default: '250m' }),
    'memory-request': Flags.string({ description: 'Memory request per gateway pod', default: '256Mi' }),
    'cpu-limit': Flags.string({
      description: 'CPU limit per gateway pod (default: none, so apps are not throttled)',
    }),
    'memory-limit': Flags.string({
      description: 'Memory limit per gateway pod (gateway and all its app instances)',
      default: '1Gi',
    }),
    domain: Flags.string({ description: 'Add an Ingress serving this host name over HTTPS' }),
    'tls-secret': Flags.string({
      description: 'With --domain: the TLS Secret of the certificate (default: NAME-tls)',
    }),
    'ingress-class': Flags.string({
      description: 'With --domain: the ingressClassName (default: the cluster default)',
    }),
    'read-only-root': Flags.boolean({
      description:
        'Make the root filesystem read-only (only /tmp writable). Only for apps that open no file of their own for writing: alloui opens asset files read-write',
    }),
    output: Flags.string({ char: 'o', description: 'Write to this file (atomically) instead of stdout' }),
    force: Flags.boolean({ description: 'Overwrite an existing file with --output' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(GenerateKubernetes)
    const { generateKubernetes } = await import('../../core/deploy/index.js')
    const result = generateKubernetes(
      {
        cwd: process.cwd(),
        name: flags.name,
        namespace: flags.namespace,
        image: flags.image,
        replicas: flags.replicas,
        port: flags.port,
        graceMs: flags.grace,
        maxInstances: flags['max-instances'],
        cpuRequest: flags['cpu-request'],
        memoryRequest: flags['memory-request'],
        cpuLimit: flags['cpu-limit'],
        memoryLimit: flags['memory-limit'],
        domain: flags.domain,
        readOnlyRoot: flags['read-only-root'],
        tlsSecret: flags['tls-secret'],
        ingressClass: flags['ingress-class'],
      },
      { output: flags.output, force: flags.force },
    )
    if (result.writtenTo === undefined) process.stdout.write(result.text)
    else for (const line of result.nextSteps) this.log(line)
  }
}
