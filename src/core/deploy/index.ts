/**
 * `assist generate systemd|nginx`: validate → render → deliver (stdout, --output FILE, or --install).
 * Everything is validated and rendered before anything is written, so bad input writes nothing.
 */
import { join } from 'node:path'
import { UserError } from '../errors.js'
import {
  type Accounts,
  cliEntryPath,
  invokingUser,
  localAccounts,
  locateServeRoot,
  nodeBinaryPath,
  systemdInstallDir,
  writeConfigFile,
} from './files.js'
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
  // Validated first (root in any spelling, bad names), then looked up on this machine.
  resolveSystemdOptions({
    ...req,
    workDir: root.dir,
    appsRoot: root.appsRoot,
    nodePath: nodeBinaryPath(),
    cliPath: cliEntryPath(),
    allowTmpExec: env.ASSIST_TEST_ALLOW_TMP_EXEC === '1',
    user,
  })
  const accounts = accountChecks(user, req.group, localAccounts())
  const unit = resolveSystemdOptions({
    ...req,
    group: accounts.group,
    workDir: root.dir,
    appsRoot: root.appsRoot,
    nodePath: nodeBinaryPath(),
    cliPath: cliEntryPath(),
    allowTmpExec: env.ASSIST_TEST_ALLOW_TMP_EXEC === '1',
    user,
  })
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
