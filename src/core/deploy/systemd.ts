/**
 * `assist generate systemd`: options → a hardened systemd service unit that runs `assist serve`.
 * `resolveSystemdOptions` validates everything (throws UserError); `renderSystemdUnit` is pure text.
 */
import { UserError } from '../errors.js'
import {
  type EnvPair,
  validateAbsolutePath,
  validateAccountName,
  validateDuration,
  validateEnvPair,
  validateHost,
  validateInteger,
  validatePort,
  validateUnitName,
} from './validate.js'

export const DEFAULT_GATEWAY_PORT = 8000
export const DEFAULT_GRACE_MS = 5000
/** Extra seconds systemd waits on stop beyond the gateway's per-instance grace. */
export const STOP_MARGIN_S = 5

/** Raw options as a user gives them (flags); every field is validated by resolveSystemdOptions. */
export interface SystemdOptions {
  /** The folder `assist serve` runs in: an app root, or an apps root when `appsRoot` is true. */
  workDir: string
  appsRoot: boolean
  nodePath: string
  cliPath: string
  /**
   * Test-only (ASSIST_TEST_ALLOW_TMP_EXEC=1): let ExecStart= point under /tmp, for a checkout that
   * itself lives there (CI clones may). Users never need it.
   */
  allowTmpExec?: boolean
  name?: string
  user: string
  group?: string
  allowRoot?: boolean
  port?: number | string
  /** When set: a template unit `name@.service`, one gateway per instance, the port being the instance name. */
  instances?: number | string
  host?: string
  maxInstances?: number | string
  maxPerPlace?: number | string
  /** Duration: seconds, or with a unit (30m, 12h, 1d); passed to serve in seconds. */
  maxLifetime?: string | number
  /** Absolute path of the LuaJIT binary for Lua apps (serve --luajit). */
  luajit?: string
  logFormat?: string
  maxBody?: number | string
  graceMs?: number | string
  env?: string[]
  environmentFile?: string
  /** The gateway's admin token can't go here (it would sit in a world-readable unit): use --environment-file. */
}

export interface SystemdUnit {
  /** File name: `name.service` or `name@.service`. */
  fileName: string
  /** The units to enable: `name.service`, or `name@8000.service name@8001.service …`. */
  enableUnits: string[]
  name: string
  template: boolean
  workDir: string
  appsRoot: boolean
  nodePath: string
  cliPath: string
  user: string
  group?: string
  port: number
  instances: number
  serveArgs: string[]
  env: EnvPair[]
  environmentFile?: string
  graceMs: number
  /** Whether any referenced path lives under /home, /root or /run/user (ProtectHome=read-only then). */
  underHome: boolean
}

const RESERVED_ENV = new Set(['PORT', 'APPS_ROOT'])
const HOME_PREFIXES = ['/home', '/root', '/run/user']
const TMP_PREFIXES = ['/tmp', '/var/tmp']

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`)
}

/** The unit name used when --name is absent: `allo-gateway-<folder>` with odd characters replaced. */
export function defaultUnitName(workDir: string): string {
  const base = workDir.split('/').filter(Boolean).pop() ?? 'root'
  const cleaned = base.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '')
  return `allo-gateway${cleaned ? `-${cleaned}` : ''}`.slice(0, 200)
}

/** True for a user or group that is root: the name, or id 0 in any spelling (0, 00, 000…). */
export function isRootAccount(name: string): boolean {
  return name === 'root' || /^0+$/.test(name)
}

/**
 * Variables that change what the gateway (or, passed on, an app) runs or loads: set through --env
 * they deserve a second look. Pure.
 */
export const RISKY_ENV =
  /^(LD_[A-Z_]+|PATH|NODE_OPTIONS|NODE_PATH|NODE_EXTRA_CA_CERTS|NODE_TLS_REJECT_UNAUTHORIZED|LUA_(INIT|PATH|CPATH)(_5_\d)?|PYTHON(PATH|STARTUP|HOME)|PERL5LIB|PERL5OPT|RUBYOPT|RUBYLIB|BASH_ENV|ENV|GCONV_PATH|MALLOC_[A-Z_]+|GLIBC_TUNABLES|ALLO_LUAJIT)$/

/** One warning per --env variable that changes what runs (pure). */
export function riskyEnvWarnings(env: readonly EnvPair[]): string[] {
  return env
    .filter(({ key }) => RISKY_ENV.test(key))
    .map(
      ({ key }) =>
        `--env ${key}=… changes which code the gateway runs or loads; make sure that is what you want (it is written into the unit as given).`,
    )
}

export function resolveSystemdOptions(o: SystemdOptions): SystemdUnit {
  const workDir = validateAbsolutePath(o.appsRoot ? '--apps-root' : 'app folder', o.workDir)
  for (const prefix of TMP_PREFIXES) {
    if (isUnder(workDir, prefix))
      throw new UserError(
        `The ${o.appsRoot ? 'apps root' : 'app folder'} ${workDir} is under ${prefix}, which the service cannot see (PrivateTmp=) and which is cleaned on reboot; move it, e.g. to /srv/allo, and run this again there.`,
      )
  }
  const nodePath = validateAbsolutePath('node path', o.nodePath)
  const cliPath = validateAbsolutePath('assist CLI path', o.cliPath)
  // The unit's ExecStart= runs these: under /tmp the service would not see them either.
  for (const [what, path] of [
    ['assist itself', cliPath],
    ['node', nodePath],
  ] as const) {
    if (o.allowTmpExec) break
    for (const prefix of TMP_PREFIXES) {
      if (isUnder(path, prefix))
        throw new UserError(
          `${what === 'node' ? 'The node running this' : 'This assist'} (${path}) lives under ${prefix}, which the service cannot see (PrivateTmp=) and which is cleaned on reboot; install assist outside ${prefix} (e.g. a checkout in /opt linked with npm link) and run generate from there.`,
        )
    }
  }
  const name = o.name === undefined ? defaultUnitName(workDir) : validateUnitName('--name', o.name)
  if (name.includes('@')) throw new UserError(`Invalid --name "${name}": "@" is added by --instances.`)
  const user = validateAccountName('--user', o.user)
  if (isRootAccount(user) && !o.allowRoot)
    throw new UserError(
      'Refusing to run the gateway as root: it starts apps that run code from the network. Pass --user NAME (create one with "useradd --system --home-dir /srv/allo allo"), or --allow-root if you really mean it.',
    )
  if (user === 'nobody' || user === '65534')
    throw new UserError(
      'Refusing --user nobody: systemd marks it unsafe because unrelated daemons share it. Create a dedicated user, e.g. "useradd --system allo", and pass --user allo.',
    )
  const group = o.group === undefined ? undefined : validateAccountName('--group', o.group)
  if (group !== undefined && isRootAccount(group) && !o.allowRoot)
    throw new UserError(
      `Refusing --group ${group}: the root group gives the gateway, and every app it starts, root's group rights. Pass --group NAME (e.g. the gateway user's own group), or --allow-root if you really mean it.`,
    )
  const port = validatePort('--port', o.port ?? DEFAULT_GATEWAY_PORT)
  const template = o.instances !== undefined
  const instances = template ? validateInteger('--instances', o.instances as number | string, 1, 64) : 1
  if (port + instances - 1 > 65535)
    throw new UserError(`Invalid --instances ${instances}: ports ${port}… would pass 65535; lower --port.`)
  const graceMs = validateInteger('--grace', o.graceMs ?? DEFAULT_GRACE_MS, 0, 600_000)

  const serveArgs: string[] = []
  if (o.host !== undefined) serveArgs.push('--host', validateHost('--host', o.host))
  if (o.maxInstances !== undefined)
    serveArgs.push('--max-instances', String(validateInteger('--max-instances', o.maxInstances, 0, 100_000)))
  if (o.maxPerPlace !== undefined)
    serveArgs.push('--max-per-place', String(validateInteger('--max-per-place', o.maxPerPlace, 0, 100_000)))
  if (o.maxLifetime !== undefined) {
    // serve takes whole seconds
    const seconds = Math.ceil(validateDuration('--max-lifetime', o.maxLifetime) / 1000)
    if (seconds < 1)
      throw new UserError(
        `Invalid --max-lifetime ${JSON.stringify(String(o.maxLifetime))}: it must be at least 1s.`,
      )
    serveArgs.push('--max-lifetime', String(seconds))
  }
  if (o.luajit !== undefined) serveArgs.push('--luajit', validateAbsolutePath('--luajit', o.luajit))
  if (o.logFormat !== undefined) {
    if (o.logFormat !== 'human' && o.logFormat !== 'json')
      throw new UserError(`Invalid --log-format ${JSON.stringify(o.logFormat)}: expected human or json.`)
    serveArgs.push('--log-format', o.logFormat)
  }
  if (o.maxBody !== undefined)
    serveArgs.push('--max-body', String(validateInteger('--max-body', o.maxBody, 1, 1 << 30)))
  serveArgs.push('--grace', String(graceMs))

  const env: EnvPair[] = []
  const seen = new Set<string>()
  for (const raw of o.env ?? []) {
    const pair = validateEnvPair('--env', raw)
    if (RESERVED_ENV.has(pair.key))
      throw new UserError(
        `Invalid --env ${pair.key}=…: ${pair.key} is set by the generator; use ${pair.key === 'PORT' ? '--port' : '--apps-root'} instead.`,
      )
    if (seen.has(pair.key)) throw new UserError(`--env ${pair.key} is given twice; keep one.`)
    seen.add(pair.key)
    env.push(pair)
  }
  const environmentFile =
    o.environmentFile === undefined
      ? undefined
      : validateAbsolutePath('--environment-file', o.environmentFile)

  const paths = [workDir, nodePath, cliPath, environmentFile].filter((p): p is string => p !== undefined)
  const underHome = paths.some((p) => HOME_PREFIXES.some((h) => isUnder(p, h)))
  const enableUnits = template
    ? Array.from({ length: instances }, (_, i) => `${name}@${port + i}.service`)
    : [`${name}.service`]
  return {
    fileName: template ? `${name}@.service` : `${name}.service`,
    enableUnits,
    name,
    template,
    workDir,
    appsRoot: o.appsRoot,
    nodePath,
    cliPath,
    user,
    group,
    port,
    instances,
    serveArgs,
    env,
    environmentFile,
    graceMs,
    underHome,
  }
}

/** Seconds systemd waits for the gateway to drain before SIGKILL: the grace plus a margin. */
export function stopTimeoutSeconds(graceMs: number): number {
  return Math.ceil(graceMs / 1000) + STOP_MARGIN_S
}

/** Renders the unit file text. Pure: same unit in, same text out. */
export function renderSystemdUnit(u: SystemdUnit): string {
  const L: string[] = []
  const what = u.appsRoot ? `apps under ${u.workDir}` : `the app in ${u.workDir}`
  L.push(
    `# Generated by "assist generate systemd". Runs the Alloverse app gateway (assist serve) for ${what}.`,
  )
  if (u.template) {
    L.push(`# Template unit: one gateway per instance; the instance name is its port, e.g.`)
    L.push(`#   systemctl enable --now ${u.enableUnits.join(' ')}`)
  } else {
    L.push(`# Install: copy to /etc/systemd/system/${u.fileName}, then`)
    L.push(`#   systemctl daemon-reload && systemctl enable --now ${u.fileName}`)
  }
  L.push(`# Check its hardening with: systemd-analyze security ${u.template ? u.enableUnits[0] : u.fileName}`)
  L.push('')
  L.push('[Unit]')
  L.push(
    `Description=Alloverse app gateway (assist serve) for ${u.workDir}${u.template ? ' on port %i' : ''}`,
  )
  L.push('Documentation=https://github.com/alloverse/allo-assist#readme')
  L.push('Wants=network-online.target')
  L.push('After=network-online.target')
  L.push('# Give up after 5 failed starts within 2 minutes instead of restarting forever.')
  L.push('StartLimitIntervalSec=120')
  L.push('StartLimitBurst=5')
  L.push('')
  L.push('[Service]')
  L.push('Type=simple')
  L.push(`User=${u.user}`)
  if (u.group) L.push(`Group=${u.group}`)
  L.push(`WorkingDirectory=${u.workDir}`)
  L.push(`Environment=PORT=${u.template ? '%i' : u.port}`)
  if (u.appsRoot) L.push(`Environment=APPS_ROOT=${u.workDir}`)
  L.push('Environment=NODE_ENV=production')
  for (const { key, value } of u.env) L.push(`Environment="${key}=${value}"`)
  if (u.environmentFile) L.push(`EnvironmentFile=${u.environmentFile}`)
  L.push(`ExecStart=${u.nodePath} ${u.cliPath} serve ${u.serveArgs.join(' ')}`)
  L.push('Restart=on-failure')
  L.push('RestartSec=2')
  L.push('# Stop: systemd sends SIGTERM to every process of the service (gateway and app instances);')
  L.push(
    `# the gateway drains, giving each instance ${u.graceMs} ms (--grace) before SIGKILL. Anything still`,
  )
  L.push('# running after TimeoutStopSec is killed, so no app instance outlives the service.')
  L.push('KillMode=control-group')
  L.push(`TimeoutStopSec=${stopTimeoutSeconds(u.graceMs)}s`)
  L.push('')
  L.push('# Hardening (see "systemd-analyze security"). Apps can still read the system, write their own')
  L.push('# folder, and open TCP/UDP sockets to any place.')
  L.push('NoNewPrivileges=yes')
  L.push('CapabilityBoundingSet=')
  L.push('AmbientCapabilities=')
  L.push('ProtectSystem=strict')
  L.push(`ReadWritePaths=${u.workDir}`)
  if (u.underHome) {
    L.push('# Something the service needs lives under /home or /root: keep homes visible but read-only.')
    L.push('ProtectHome=read-only')
  } else {
    L.push('ProtectHome=yes')
  }
  L.push('PrivateTmp=yes')
  L.push('PrivateDevices=yes')
  L.push('PrivateUsers=yes')
  L.push('PrivateMounts=yes')
  L.push('ProtectKernelTunables=yes')
  L.push('ProtectKernelModules=yes')
  L.push('ProtectKernelLogs=yes')
  L.push('ProtectControlGroups=yes')
  L.push('ProtectClock=yes')
  L.push('ProtectHostname=yes')
  L.push('ProtectProc=invisible')
  L.push('# AF_NETLINK: getifaddrs() needs it (node os.networkInterfaces() throws without it; apps listing')
  L.push("# their addresses); glibc's getaddrinfo(AI_ADDRCONFIG) asks over it first, then falls back.")
  L.push('RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK')
  L.push('RestrictNamespaces=yes')
  L.push('RestrictRealtime=yes')
  L.push('RestrictSUIDSGID=yes')
  L.push('RemoveIPC=yes')
  L.push('LockPersonality=yes')
  L.push('SystemCallArchitectures=native')
  L.push('SystemCallFilter=@system-service')
  L.push('# Also refused, with EPERM (the caller sees an error, nothing is killed): privileged calls and')
  L.push(
    '# resource/scheduling changes (setrlimit, nice, sched_setaffinity…; node ignores a failed setrlimit).',
  )
  L.push('SystemCallFilter=~@privileged @resources')
  L.push('SystemCallErrorNumber=EPERM')
  L.push('UMask=0077')
  L.push('# Not set on purpose: MemoryDenyWriteExecute=yes. The V8 JIT (node) and the LuaJIT JIT (apps)')
  L.push('# make memory they wrote executable, which it forbids: under it node aborts (SIGTRAP) and LuaJIT')
  L.push('# panics ("runtime code generation failed"), so neither the gateway nor any app could run.')
  L.push('')
  L.push('[Install]')
  L.push('WantedBy=multi-user.target')
  return `${L.join('\n')}\n`
}
