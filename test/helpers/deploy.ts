/**
 * Helpers for testing generated deployment configs with the real tools: systemd-analyze and nginx.
 */
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCommand } from '../../src/core/launcher.js'

export const REPO = realpathSync(fileURLToPath(new URL('../..', import.meta.url)))

/** Exposure goal for every generated unit (systemd-analyze security, lower is better). See BENCHMARKS.md. */
export const EXPOSURE_GOAL = 1.5
/** Exposure of the unit generated with default options for a dedicated user. See BENCHMARKS.md. */
export const DEFAULT_UNIT_EXPOSURE_GOAL = 1.1

/**
 * A work folder for test apps that is neither under /tmp (generated units refuse app folders there:
 * PrivateTmp= hides them) nor under a home folder (that changes ProtectHome=, which the tests pin):
 * /var/lib/allo-assist-tests when writable (root, as in CI), else <repo>/.test-work (git-ignored)
 * unless the checkout is itself in /tmp or a home, else under $HOME. Wherever the checkout lives,
 * CI gets the same units.
 */
export function deployWorkDir(prefix = 'gen-'): string {
  const tmp = realpathSync(tmpdir())
  const inTmpOrHome = (p: string) =>
    [tmp, '/tmp', '/var/tmp', homedir(), '/home', '/root'].some((d) => p === d || p.startsWith(`${d}/`))
  const candidates = ['/var/lib/allo-assist-tests', ...(inTmpOrHome(REPO) ? [] : [join(REPO, '.test-work')])]
  for (const base of candidates) {
    try {
      mkdirSync(base, { recursive: true })
      return mkdtempSync(join(base, prefix))
    } catch {
      // not writable here: try the next place
    }
  }
  const base = join(homedir(), '.assist-test-work')
  mkdirSync(base, { recursive: true })
  return mkdtempSync(join(base, prefix))
}

export interface ToolResult {
  code: number | null
  stdout: string
  stderr: string
}

export async function systemdVerify(unitPath: string): Promise<ToolResult> {
  const r = await runCommand(['systemd-analyze', 'verify', unitPath], { timeoutMs: 60_000 })
  return { code: r.code, stdout: r.stdout, stderr: r.stderr }
}

export interface Exposure {
  score: number
  rating: string
  output: string
}

/** `systemd-analyze security --offline=true FILE` → the overall exposure score (0 best … 10 worst). */
export async function systemdExposure(unitPath: string): Promise<Exposure> {
  const r = await runCommand(['systemd-analyze', 'security', '--offline=true', '--no-pager', unitPath], {
    timeoutMs: 60_000,
  })
  const m = /Overall exposure level for \S+: ([\d.]+) (\S+)/.exec(r.stdout)
  if (!m) throw new Error(`no exposure score in systemd-analyze output:\n${r.stdout}\n${r.stderr}`)
  return { score: Number(m[1]), rating: m[2], output: r.stdout }
}

/** A self-signed certificate made by the real openssl. */
export async function selfSignedCert(dir: string, domain: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  const r = await runCommand(
    [
      'openssl',
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${domain}`,
      '-addext',
      `subjectAltName=DNS:${domain}`,
    ],
    { timeoutMs: 60_000 },
  )
  if (r.code !== 0) throw new Error(`openssl failed: ${r.stderr}`)
  return { cert, key }
}

/** `assist generate nginx` flags for a site whose cert, key, ACME root and access log live in a test nginx prefix. */
export function siteFileFlags(
  prefix: string,
  tls: { cert: string; key: string },
  accessLog: string,
): string[] {
  return [
    '--cert',
    tls.cert,
    '--key',
    tls.key,
    '--acme-root',
    join(prefix, 'acme'),
    '--access-log',
    accessLog,
  ]
}

/**
 * A minimal nginx.conf around a generated site (which lives inside http {}): pid, error log and
 * temp paths all inside `prefix`, so nginx runs unprivileged and touches nothing outside it.
 */
export function writeNginxWrapper(
  prefix: string,
  sitePath: string,
  opts: { foreground?: boolean } = {},
): string {
  mkdirSync(join(prefix, 'tmp'), { recursive: true })
  mkdirSync(join(prefix, 'logs'), { recursive: true })
  const asRoot = process.getuid?.() === 0
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(
    conf,
    [
      // As root, nginx would switch its workers to "nobody", who cannot enter the 0700 test folder.
      asRoot ? 'user root;' : '',
      opts.foreground ? 'daemon off;' : '',
      'worker_processes 1;',
      `pid ${join(prefix, 'nginx.pid')};`,
      `error_log ${join(prefix, 'logs', 'error.log')} info;`,
      'events { worker_connections 64; }',
      'http {',
      `  client_body_temp_path ${join(prefix, 'tmp', 'body')};`,
      `  proxy_temp_path ${join(prefix, 'tmp', 'proxy')};`,
      `  fastcgi_temp_path ${join(prefix, 'tmp', 'fastcgi')};`,
      `  uwsgi_temp_path ${join(prefix, 'tmp', 'uwsgi')};`,
      `  scgi_temp_path ${join(prefix, 'tmp', 'scgi')};`,
      `  access_log ${join(prefix, 'logs', 'default-access.log')};`,
      `  include ${sitePath};`,
      '}',
      '',
    ].join('\n'),
  )
  return conf
}

/** Real `nginx -t -p PREFIX -c PREFIX/nginx.conf` on a generated site. */
export async function nginxTest(prefix: string, sitePath: string): Promise<ToolResult> {
  const conf = writeNginxWrapper(prefix, sitePath)
  const r = await runCommand(['nginx', '-t', '-q', '-e', 'stderr', '-p', prefix, '-c', conf], {
    timeoutMs: 60_000,
  })
  return { code: r.code, stdout: r.stdout, stderr: r.stderr }
}

export function tmpPrefix(): string {
  return mkdtempSync(join(tmpdir(), 'assist-nginx-'))
}
