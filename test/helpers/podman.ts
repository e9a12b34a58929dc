/**
 * Real containers for tests, with Debian's podman and no container registry (none is reachable here).
 *
 * - podman runs with its own configuration, never the system's: a containers.conf (CONTAINERS_CONF)
 *   that picks runc (crun refuses this machine's hybrid cgroups), cgroupfs, and explicit ulimits at
 *   or below the hard limits (nofile = `ulimit -Hn`, nproc 32768); a storage.conf
 *   (CONTAINERS_STORAGE_CONF) that keeps images and containers under a temp folder.
 * - The base image is made from Debian's packages: `mmdebstrap --variant=minbase bookworm` plus Node
 *   and npm from the npm registry's `node` and `npm` packages (Debian's Node is 18; allo-assist
 *   needs 20.19+), imported with `podman import`. It stands in for node:24-bookworm-slim, the
 *   Dockerfile's default. It also carries this machine's CA bundle for npm/Node
 *   (NODE_EXTRA_CA_CERTS): here the npm registry is reached through a TLS-intercepting egress proxy
 *   whose CA only the host trusts, as a company base image would carry its company CA.
 * - Everything lives in one folder keyed by a hash of those inputs, so the base image is built once
 *   per machine and test run (and reused by the next run, by the benchmark, and by other test files);
 *   a lock folder keeps two processes from building it at once.
 */

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCommand } from '../../src/core/launcher.js'

export const NODE_SPEC = 'node@24'
export const NPM_SPEC = 'npm@11'
const SUITE = 'bookworm'
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt'

export interface Podman {
  /** Environment for every podman command (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF). */
  env: NodeJS.ProcessEnv
  /** The local base image (Debian minbase + Node ≥ 20.19 + npm). */
  baseImage: string
  dir: string
}

export interface PodmanResult {
  code: number | null
  stdout: string
  stderr: string
}

function hardNofile(): number {
  const out = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()
  return out === 'unlimited' ? 1048576 : Number(out)
}

function containersConf(dir = ''): string {
  const nofile = hardNofile()
  return [
    '[containers]',
    `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]`,
    '[network]',
    // Networks (podman-compose creates one per project) are kept here too, not in /etc/cni/net.d.
    `network_config_dir = "${join(dir, 'cni')}"`,
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    '',
  ].join('\n')
}

function key(): string {
  const h = createHash('sha256')
  h.update(`v3 ${SUITE} minbase ${NODE_SPEC} ${NPM_SPEC}\n`)
  h.update(containersConf())
  if (existsSync(HOST_CA)) h.update(readFileSync(HOST_CA))
  return h.digest('hex').slice(0, 16)
}

async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(lockDir)
      break
    } catch {
      // Someone else builds; a lock older than 20 minutes is from a killed run.
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > 20 * 60_000)
          rmSync(lockDir, { recursive: true, force: true })
      } catch {}
      await new Promise((r) => setTimeout(r, 1000))
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lockDir, { recursive: true, force: true })
  }
}

/** Runs podman with the test configuration. */
/**
 * The start of every `podman build` here: chroot isolation (no runtime needed to build), the docker
 * image format (podman keeps HEALTHCHECK only in it) and the local base image as BASE_IMAGE.
 */
export function buildCommand(p: Podman): string[] {
  return ['build', '--isolation', 'chroot', '--format', 'docker', '--build-arg', `BASE_IMAGE=${p.baseImage}`]
}

export async function podman(p: Podman, args: string[], timeoutMs = 120_000): Promise<PodmanResult> {
  const r = await runCommand(['podman', ...args], { env: p.env, timeoutMs })
  return { code: r.code, stdout: r.stdout, stderr: r.stderr }
}

/** Like podman(), but throws with its output when it fails. */
export async function podmanOk(p: Podman, args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await podman(p, args, timeoutMs)
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

/** The test podman's configuration and storage (no image yet): for podman-compose and podman. */
export function podmanConfig(): Podman {
  const dir = join(tmpdir(), `allo-assist-podman-${key()}`)
  mkdirSync(join(dir, 'cni'), { recursive: true })
  writeFileSync(join(dir, 'containers.conf'), containersConf(dir))
  writeFileSync(
    join(dir, 'storage.conf'),
    [
      '[storage]',
      'driver = "overlay"',
      `runroot = "${join(dir, 'run')}"`,
      `graphroot = "${join(dir, 'graph')}"`,
      '',
    ].join('\n'),
  )
  const p: Podman = {
    dir,
    baseImage: 'localhost/allo-assist-test-base:node24',
    env: {
      ...process.env,
      CONTAINERS_CONF: join(dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
    },
  }
  return p
}

/** The test podman (configuration, storage, base image), made on first use. */
export async function setupPodman(): Promise<Podman> {
  const p = podmanConfig()
  const dir = p.dir
  await withLock(join(dir, 'lock'), async () => {
    if ((await podman(p, ['image', 'exists', p.baseImage])).code === 0) return
    const overlay = join(dir, 'overlay')
    rmSync(overlay, { recursive: true, force: true })
    // Node and npm from the npm registry, laid out as in the official image (/usr/local).
    const pkg = join(dir, 'node-pkg')
    rmSync(pkg, { recursive: true, force: true })
    mkdirSync(pkg)
    const npm = await runCommand(
      ['npm', 'install', '--prefix', pkg, '--no-save', '--no-audit', '--no-fund', NODE_SPEC, NPM_SPEC],
      { timeoutMs: 300_000 },
    )
    if (npm.code !== 0) throw new Error(`npm install ${NODE_SPEC} failed:\n${npm.stderr}`)
    mkdirSync(join(overlay, 'usr/local/bin'), { recursive: true })
    mkdirSync(join(overlay, 'usr/local/lib/node_modules'), { recursive: true })
    mkdirSync(join(overlay, 'usr/local/etc'), { recursive: true })
    mkdirSync(join(overlay, 'etc/ssl/certs'), { recursive: true })
    cpSync(join(pkg, 'node_modules/node/bin/node'), join(overlay, 'usr/local/bin/node'), {
      dereference: true,
    })
    await runCommand(['strip', join(overlay, 'usr/local/bin/node')], { timeoutMs: 120_000 })
    cpSync(join(pkg, 'node_modules/npm'), join(overlay, 'usr/local/lib/node_modules/npm'), {
      recursive: true,
    })
    execFileSync('ln', ['-s', '../lib/node_modules/npm/bin/npm-cli.js', join(overlay, 'usr/local/bin/npm')])
    execFileSync('ln', ['-s', '../lib/node_modules/npm/bin/npx-cli.js', join(overlay, 'usr/local/bin/npx')])
    const ca = '/etc/ssl/certs/host-ca-bundle.crt'
    if (existsSync(HOST_CA)) cpSync(HOST_CA, join(overlay, ca))
    writeFileSync(
      join(overlay, 'usr/local/etc/npmrc'),
      `${existsSync(HOST_CA) ? `cafile=${ca}\n` : ''}update-notifier=false\nfund=false\naudit=false\n`,
    )
    const tar = join(dir, 'rootfs.tar')
    const deb = await runCommand(
      ['mmdebstrap', '--quiet', '--variant=minbase', `--customize-hook=sync-in ${overlay} /`, SUITE, tar],
      { timeoutMs: 600_000 },
    )
    if (deb.code !== 0) throw new Error(`mmdebstrap failed:\n${deb.stderr}`)
    await podmanOk(
      p,
      [
        'import',
        '--change',
        'CMD ["/bin/bash"]',
        ...(existsSync(HOST_CA) ? ['--change', `ENV NODE_EXTRA_CA_CERTS=${ca}`] : []),
        tar,
        p.baseImage,
      ],
      300_000,
    )
    rmSync(tar, { force: true })
    rmSync(pkg, { recursive: true, force: true })
    rmSync(overlay, { recursive: true, force: true })
  })
  return p
}

/** Every process in a container, from /proc (the images have no ps): pid, ppid, state, uid, name. */
export interface ContainerProcess {
  pid: number
  ppid: number
  state: string
  uid: number
  name: string
}

export async function containerProcesses(p: Podman, container: string): Promise<ContainerProcess[]> {
  const out = await podmanOk(p, [
    'exec',
    container,
    'sh',
    '-c',
    'for d in /proc/[0-9]*; do s=$(cat $d/stat 2>/dev/null) || continue; u=$(sed -n "s/^Uid:\\t\\([0-9]*\\).*/\\1/p" $d/status 2>/dev/null); echo "$u $s"; done',
  ])
  const list: ContainerProcess[] = []
  for (const line of out.split('\n')) {
    const m = /^(\d+) (\d+) \((.*)\) (\S) (\d+) /.exec(line)
    if (m) list.push({ uid: Number(m[1]), pid: Number(m[2]), name: m[3], state: m[4], ppid: Number(m[5]) })
  }
  return list
}
