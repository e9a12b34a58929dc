/**
 * `assist generate systemd|nginx|docker|kubernetes`: validate → render → deliver (stdout, --output
 * FILE, --install for systemd; docker writes its files into the app folder or --output DIR).
 * Everything is validated and rendered before anything is written, so bad input writes nothing.
 */
import { basename, join, resolve } from 'node:path'
import { UserError } from '../errors.js'
import { isDir } from '../fsutil.js'
import { findAppRoot } from '../project.js'
import { assistVersion } from '../version.js'
import { type DockerOptions, dockerFiles, resolveDockerOptions } from './docker.js'
import {
  type Accounts,
  cliEntryPath,
  invokingUser,
  localAccounts,
  locateServeRoot,
  nodeBinaryPath,
  systemdInstallDir,
  writeConfigFile,
  writeConfigFiles,
} from './files.js'
import { type KubernetesOptions, renderKubernetes, resolveKubernetesOptions } from './kubernetes.js'
import { type NginxOptions, renderNginxSite, resolveNginxOptions } from './nginx.js'
import { renderSystemdUnit, resolveSystemdOptions, riskyEnvWarnings, type SystemdOptions } from './systemd.js'

export interface Delivery {
  output?: string
  force?: boolean
  install?: boolean
}

export interface Generated {
  text: string
  /** Where it was written (absent when printed to stdout). */
  writtenTo?: string
  /** Human next steps to print (on stderr when the config went to stdout). */
  nextSteps: string[]
  /** Things worth a second look (printed on stderr, one line each); the file is written anyway. */
  warnings: string[]
}

/**
 * The unit's Group= when --group is absent (the user's primary group), and warnings for accounts this
 * machine does not know (the unit would fail to start here; fine when it is meant for another machine).
 */
export function accountChecks(
  user: string,
  group: string | undefined,
  accounts: Accounts | undefined,
): { group?: string; warnings: string[] } {
  if (!accounts) return { group, warnings: [] }
  const warnings: string[] = []
  const byId = (id: string) => [...accounts.users.values()].find((u) => u.uid === String(Number(id)))
  const entry = /^\d+$/.test(user) ? byId(user) : accounts.users.get(user)
  if (!entry)
    warnings.push(
      `--user ${user} does not exist on this machine (not in /etc/passwd): the service will not start here until it does (e.g. useradd --system ${/^\d+$/.test(user) ? 'allo' : user}).`,
    )
  if (group !== undefined) {
    const known = /^\d+$/.test(group)
      ? [...accounts.groups.values()].includes(String(Number(group)))
      : accounts.groups.has(group)
    if (!known)
      warnings.push(
        `--group ${group} does not exist on this machine (not in /etc/group): the service will not start here until it does (e.g. groupadd --system ${/^\d+$/.test(group) ? 'allo' : group}).`,
      )
    return { group, warnings }
  }
  if (!entry) return { warnings }
  const primary = [...accounts.groups.entries()].find(([, gid]) => gid === entry.gid)?.[0]
  return { group: primary ?? entry.gid, warnings }
}

export type SystemdRequest = Omit<
  SystemdOptions,
  'workDir' | 'appsRoot' | 'nodePath' | 'cliPath' | 'user'
> & {
  cwd: string
  appsRoot?: string
  user?: string
  env?: string[]
}

function deliverChecks(d: Delivery, allowInstall: boolean): void {
  if (d.install && !allowInstall) throw new UserError('--install is only for systemd units.')
  if (d.install && d.output !== undefined) throw new UserError('Use either --install or --output, not both.')
  if (d.force && !d.install && d.output === undefined)
    throw new UserError('--force only matters with --output or --install (stdout is never "overwritten").')
}

export function generateSystemd(
  req: SystemdRequest,
  d: Delivery,
  env: NodeJS.ProcessEnv = process.env,
): Generated {
  deliverChecks(d, true)
  const root = locateServeRoot(req.cwd, req.appsRoot)
  const user = req.user ?? invokingUser(env)
  const options = {
    ...req,
    workDir: root.dir,
    appsRoot: root.appsRoot,
    nodePath: nodeBinaryPath(),
    cliPath: cliEntryPath(),
    allowTmpExec: env.ASSIST_TEST_ALLOW_TMP_EXEC === '1',
    user,
  }
  // Validated first (root in any spelling, bad names), then looked up on this machine.
  resolveSystemdOptions(options)
  const accounts = accountChecks(user, req.group, localAccounts())
  const unit = resolveSystemdOptions({ ...options, group: accounts.group })
  const warnings = [...accounts.warnings, ...riskyEnvWarnings(unit.env)]
  const text = renderSystemdUnit(unit)
  const enable = `systemctl daemon-reload && systemctl enable --now ${unit.enableUnits.join(' ')}`
  const loopbackOnly = req.host === '127.0.0.1' || req.host === '::1' || req.host === 'localhost'
  const firewall = loopbackOnly
    ? 'The gateway listens on loopback only: put nginx in front of it (assist generate nginx).'
    : `Behind nginx, bind the gateway to 127.0.0.1 (--host 127.0.0.1) or firewall its port${unit.instances > 1 ? 's' : ''} (${unit.port}${unit.instances > 1 ? `-${unit.port + unit.instances - 1}` : ''}): see "assist generate nginx".`
  if (d.install) {
    const path = writeConfigFile(join(systemdInstallDir(env), unit.fileName), text, { force: d.force })
    return {
      text,
      writtenTo: path,
      nextSteps: [`Wrote ${path}. Start it with:`, `  ${enable}`, firewall],
      warnings,
    }
  }
  if (d.output !== undefined) {
    const path = writeConfigFile(d.output, text, { force: d.force })
    return {
      text,
      writtenTo: path,
      nextSteps: [
        `Wrote ${path}. Install it with:`,
        `  cp ${path} /etc/systemd/system/${unit.fileName} && ${enable}`,
        firewall,
      ],
      warnings,
    }
  }
  return { text, nextSteps: [], warnings }
}

export function generateNginx(req: NginxOptions, d: Delivery): Generated {
  deliverChecks(d, false)
  const site = resolveNginxOptions(req)
  const text = renderNginxSite(site)
  if (d.output === undefined) return { text, nextSteps: [], warnings: [] }
  const path = writeConfigFile(d.output, text, { force: d.force })
  const ports = site.upstreams.map((u) => u.port)
  return {
    text,
    writtenTo: path,
    nextSteps: [
      `Wrote ${path}. Install it with:`,
      `  cp ${path} /etc/nginx/sites-available/${site.fileName} && ln -sf /etc/nginx/sites-available/${site.fileName} /etc/nginx/sites-enabled/`,
      '  nginx -t && systemctl reload nginx',
      `No certificate yet? nginx -t fails without it: get one first, e.g. certbot certonly --standalone -d ${site.domain} (renewals then work through ${site.acmeRoot}: certbot renew --webroot -w ${site.acmeRoot}).`,
      `Run the gateway${ports.length > 1 ? 's' : ''} with --host 127.0.0.1 (assist generate systemd --host 127.0.0.1) so only nginx reaches ${ports.length > 1 ? 'them' : 'it'}; if ${ports.length > 1 ? 'they listen' : 'it listens'} on every interface, firewall the gateway port${ports.length > 1 ? 's' : ''} (${[...new Set(ports)].join(', ')}), e.g. ufw deny ${ports[0]}/tcp.`,
    ],
    warnings: [],
  }
}

export type DockerRequest = Omit<DockerOptions, 'appFolder' | 'assistVersion'> & {
  cwd: string
  assistVersion?: string
}

export interface GeneratedFiles {
  written: string[]
  nextSteps: string[]
}

/**
 * Writes Dockerfile, .dockerignore and compose.yaml (and nginx/DOMAIN.conf with --domain) into the
 * app folder, or into --output DIR. Refuses to replace any of them without --force; all or nothing.
 */
export function generateDocker(req: DockerRequest, d: { output?: string; force?: boolean }): GeneratedFiles {
  const app = findAppRoot(req.cwd)
  if (!app)
    throw new UserError(
      `${req.cwd} is not inside an app: run "assist generate docker" in your app's folder (an image holds one app).`,
    )
  const setup = resolveDockerOptions({
    ...req,
    appFolder: basename(app),
    assistVersion: req.assistVersion ?? assistVersion(),
  })
  const outDir = d.output === undefined ? app : resolve(req.cwd, d.output)
  if (!isDir(outDir))
    throw new UserError(
      `--output ${outDir} is not a folder: give an existing folder to write the files into.`,
    )
  const files = dockerFiles(setup)
  const written = writeConfigFiles(
    files.map((f) => ({ path: join(outDir, ...f.rel.split('/')), text: f.text })),
    { force: d.force, mkdirs: setup.nginx ? [join(outDir, 'nginx')] : [] },
  )
  const where = outDir === app ? '' : ` (copy them into ${app} to build from there)`
  return {
    written,
    nextSteps: [
      `Wrote ${written.join(', ')}${where}. Build and run the gateway with:`,
      `  docker build -t ${setup.name} . && docker run --rm -p ${setup.port}:${setup.port} ${setup.name}`,
      '  or: docker compose up -d --build',
      'The allonet library is built from source in the image unless you pass --build-arg ALLONET_BASE_URL=URL (a mirror) or ALLONET_FROM=allo/PATH (a Linux library in the app): see the Dockerfile.',
    ],
  }
}

export type KubernetesRequest = Omit<KubernetesOptions, 'appFolder'> & { cwd: string }

export function generateKubernetes(req: KubernetesRequest, d: Delivery): Generated {
  deliverChecks(d, false)
  const app = findAppRoot(req.cwd)
  const setup = resolveKubernetesOptions({ ...req, appFolder: app === undefined ? undefined : basename(app) })
  const text = renderKubernetes(setup)
  if (d.output === undefined) return { text, nextSteps: [], warnings: [] }
  const path = writeConfigFile(d.output, text, { force: d.force })
  return {
    text,
    writtenTo: path,
    warnings: [],
    nextSteps: [
      `Wrote ${path}. Push the image ${setup.image} to a registry your cluster pulls from, then:`,
      `  kubectl apply -f ${path}`,
      ...(setup.ingress
        ? [
            `The Ingress serves https://${setup.ingress.domain}/ with the TLS Secret ${setup.ingress.tlsSecret}: create it (kubectl create secret tls ${setup.ingress.tlsSecret} --cert=… --key=…) or let cert-manager issue it.`,
          ]
        : []),
    ],
  }
}
