/**
 * The template's Dockerfile, built and run for real with podman (test/helpers/podman.ts: Debian's
 * podman with its own configuration, a local Debian base image with Node 24, no registry).
 *
 * A freshly created app (`assist create`, alloui from a local stand-in repository: the real one needs
 * a real place) is built into an image exactly as a user would, with the build arguments a user
 * has: ASSIST_PACKAGE is the checkout's `npm pack` tarball, served over HTTP like any tarball URL
 * npm accepts; ALLONET_BASE_URL is a local mirror serving a stand-in liballonet built with cc.
 * The image is then run like the generated deployments run it (/tmp a tmpfs, every capability
 * dropped, no new privileges), its port published on 127.0.0.1 only. Not with a read-only root: the
 * stand-in, like the real alloui, opens the app's asset files read-write.
 *
 * Needs root (rootful podman), podman, runc, mmdebstrap, cc, and the npm registry and Debian's apt
 * (the image build installs from both). The image is built once, in before(); builds are slow on a
 * busy machine, so the hooks have long timeouts, but no assertion is timed.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { LIBALLONET_STANDIN_C } from '../helpers/alloui-standin.js'
import { removeDir } from '../helpers/app.js'
import { makeContainerApp, VERSION } from '../helpers/container-app.js'
import type { Mirror } from '../helpers/mirror.js'
import {
  buildCommand,
  containerProcesses,
  type Podman,
  podman,
  podmanOk,
  setupPodman,
} from '../helpers/podman.js'

const TOKEN = 'test-admin-token'
const GRACE_MS = 5000

/** Appended to the app's lua/main.lua: launch arguments that keep the instance running or leave an orphan. */
const TEST_HOOKS = `
-- test hooks (container.test.ts)
if ui.App.launchArguments.stay then io.stdout:flush() os.execute("sleep 600") end
if ui.App.launchArguments.orphan then os.execute("sleep 0.3 &") end
`

let work: string
let app: string
let buildArgs: string[]
let pm: Podman
let mirror: Mirror
const image = `localhost/allo-assist-test-app:${process.pid}`
const containers: string[] = []

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}${last ? `: ${last}` : ''}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

interface Running {
  name: string
  url: string
}

async function run(extra: string[] = [], cmd: string[] = []): Promise<Running> {
  const port = await freePort()
  const name = `allo-assist-test-${process.pid}-${containers.length}`
  containers.push(name)
  await podmanOk(pm, [
    'run',
    '-d',
    '--name',
    name,
    '-p',
    `127.0.0.1:${port}:8000`,
    '--tmpfs',
    '/tmp',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '-e',
    `ASSIST_ADMIN_TOKEN=${TOKEN}`,
    ...extra,
    image,
    ...cmd,
  ])
  const url = `http://127.0.0.1:${port}`
  await waitFor('/health 200', async () => ((await fetch(`${url}/health`)).status === 200 ? true : undefined))
  return { name, url }
}

function launch(url: string, args: object): Promise<Response> {
  return fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-alloverse-server': 'alloplace://127.0.0.1:21337',
      'x-alloverse-launched-by': 'tester',
    },
    body: JSON.stringify(args),
  })
}

async function instances(url: string): Promise<Array<{ id: string; pid: number }>> {
  const r = await fetch(`${url}/instances`, { headers: { authorization: `Bearer ${TOKEN}` } })
  assert.equal(r.status, 200)
  return ((await r.json()) as { instances: Array<{ id: string; pid: number }> }).instances
}

async function logs(name: string): Promise<string> {
  const r = await podman(pm, ['logs', name])
  return r.stdout + r.stderr
}

before(
  async () => {
    pm = await setupPodman()
    const made = await makeContainerApp('clock')
    work = made.work
    app = made.app
    buildArgs = made.buildArgs
    mirror = made.mirror
    appendFileSync(join(made.app, 'lua/main.lua'), TEST_HOOKS)
    // Where the stand-in alloui records what the app did: the app's own environment (the gateway
    // passes none of its own variables on but an allow-list).
    writeFileSync(
      join(made.app, 'alloapp.json'),
      JSON.stringify({ env: { STANDIN_RECORD: '/tmp/record.json' } }),
    )
    const build = await podman(pm, [...buildCommand(pm), ...made.buildArgs, '-t', image, made.app], 900_000)
    assert.equal(build.code, 0, `podman build failed:\n${build.stdout}\n${build.stderr}`)
  },
  { timeout: 1_800_000 },
)

after(async () => {
  for (const c of containers) await podman(pm, ['rm', '-f', '-t', '0', c])
  if (pm) {
    await podman(pm, ['rmi', '-f', image, `${image}-from`])
    // Build layers of earlier runs (each run's tarball URL differs): keep the last hour's for the next run.
    await podman(pm, ['image', 'prune', '-f', '--filter', 'until=1h'])
  }
  await mirror?.close()
  if (work) removeDir(work)
})

describe('the template image', { timeout: 600_000 }, () => {
  test('image: non-root user, tini, SIGTERM, healthcheck, port; assist from the package; no compilers or git', async () => {
    const [data] = JSON.parse(await podmanOk(pm, ['image', 'inspect', image]))
    const cfg = data.Config
    assert.equal(cfg.User, '10001:10001')
    assert.deepEqual(cfg.Entrypoint, ['/usr/bin/tini', '--'])
    assert.deepEqual(cfg.Cmd, ['assist', 'serve', '--host', '0.0.0.0', '--grace', String(GRACE_MS)])
    assert.equal(cfg.StopSignal, 'SIGTERM')
    assert.deepEqual(Object.keys(cfg.ExposedPorts), ['8000/tcp'])
    assert.equal(data.Healthcheck.Test[0], 'CMD')
    assert.match(data.Healthcheck.Test.at(-1), /\/health/)
    const probe = await podmanOk(pm, [
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      image,
      '-c',
      'assist --version; for t in gcc cc cmake make git; do command -v $t || echo "no $t"; done; ls allo/lib; stat -c "owner %u" images/quit.png',
    ])
    assert.match(probe, new RegExp(`allo-assist/${VERSION.replace(/\./g, '\\.')} `))
    for (const t of ['gcc', 'cc', 'cmake', 'make', 'git']) assert.match(probe, new RegExp(`^no ${t}$`, 'm'))
    assert.match(probe, /^liballonet\.so$/m)
    assert.match(
      probe,
      /^owner 10001$/m,
      'the app belongs to the user running it (alloui writes asset files)',
    )
  })

  test('a launch POST starts an instance inside the container: seen in /instances and in its output', async () => {
    const c = await run()
    const r = await launch(c.url, { stay: true, avatarToken: 'tok-1' })
    assert.equal(r.status, 200, await r.clone().text())
    const body = (await r.json()) as { instance: string }
    const list = await instances(c.url)
    assert.deepEqual(
      list.map((i) => i.id),
      [body.instance],
    )
    const out = await waitFor('the instance output', async () => {
      const l = await logs(c.name)
      return l.includes('Hello from clock!') ? l : undefined
    })
    assert.match(out, new RegExp(`started \\(id ${body.instance}`))
    // The stand-in alloui recorded what the app did: the allonet library from the mirror was loaded.
    const rec = JSON.parse(await podmanOk(pm, ['exec', c.name, 'cat', '/tmp/record.json']))
    assert.equal(rec.native_answer, 42)
    assert.equal(rec.avatarToken, 'tok-1')
    assert.equal((await podman(pm, ['healthcheck', 'run', c.name])).code, 0, 'HEALTHCHECK passes')

    // SIGTERM (podman stop) drains: the instance is stopped, the gateway exits 0 within the grace.
    const stop = await podman(pm, ['stop', '--time', String(GRACE_MS / 1000 + 5), c.name], 60_000)
    assert.equal(stop.code, 0, stop.stderr)
    const state = JSON.parse(await podmanOk(pm, ['inspect', c.name, '--format', '{{json .State}}']))
    assert.equal(state.ExitCode, 0, 'exit 0, not killed at the end of the stop timeout (137)')
    const after = await logs(c.name)
    assert.match(after, /SIGTERM: shutting down/)
    assert.match(after, /app#1 .*\(stopped\)/)
    assert.match(after, /all instances stopped; bye/)
  })

  test('100 launches leaving orphans: the gateway runs as 10001 and no zombie is left', async () => {
    const c = await run()
    for (let i = 0; i < 100; i++) {
      const r = await launch(c.url, { orphan: true })
      assert.equal(r.status, 200, await r.text())
    }
    await waitFor('every instance to end', async () =>
      (await instances(c.url)).length === 0 ? true : undefined,
    )
    const procs = await waitFor('no zombies', async () => {
      const ps = await containerProcesses(pm, c.name)
      return ps.some((p) => p.state === 'Z' || p.name === 'sleep') ? undefined : ps
    })
    assert.ok(procs.length >= 2)
    for (const p of procs) assert.equal(p.uid, 10001, `${p.name} (pid ${p.pid}) runs as uid ${p.uid}`)
    assert.equal(procs.find((p) => p.pid === 1)?.name, 'tini')
    const top = await podmanOk(pm, ['top', c.name, 'user', 'pid', 'comm'])
    assert.match(top, /^allo\s+1\s+tini/m)
    assert.match(top, /^allo\s+\d+\s+(node|MainThread)/m)
    assert.doesNotMatch(top, /^root/m)
    const out = await logs(c.name)
    assert.equal((out.match(/Hello from clock!/g) ?? []).length, 100)
  })

  test('control: without the init (node as PID 1) the same orphans become zombies, so the check above can fail', async () => {
    const c = await run(['--entrypoint', 'assist'], ['serve', '--host', '0.0.0.0'])
    for (let i = 0; i < 5; i++) assert.equal((await launch(c.url, { orphan: true })).status, 200)
    await waitFor('every instance to end', async () =>
      (await instances(c.url)).length === 0 ? true : undefined,
    )
    const zombies = await waitFor('zombies under node', async () => {
      const z = (await containerProcesses(pm, c.name)).filter((p) => p.state === 'Z')
      return z.length > 0 ? z : undefined
    })
    assert.ok(zombies.every((z) => z.ppid === 1))
  })

  test('rebuilds: editing the app reuses the dependency layers; ALLONET_FROM installs a library from the app', async () => {
    const build = (tag: string, extra: string[]) =>
      podman(pm, [...buildCommand(pm), ...buildArgs, ...extra, '-t', tag, app], 900_000)
    appendFileSync(join(app, 'lua/main.lua'), '-- an edit\n')
    const again = await build(image, [])
    assert.equal(again.code, 0, again.stderr)
    const out = again.stdout + again.stderr
    assert.match(out, /COPY --chown=10001:10001 \. \./)
    assert.doesNotMatch(out, /Installed allonet/, 'allonet is not fetched again')
    assert.doesNotMatch(out, /added \d+ packages/, 'assist is not installed again')
    assert.doesNotMatch(out, /Unpacking /, 'no Debian package installed again')

    // A library of your own, in the app (allo/vendor), through ALLONET_FROM instead of a mirror.
    const lock = readFileSync(join(app, 'allo/allonet.lock'), 'utf8').trim()
    mkdirSync(join(app, 'allo/vendor'))
    const lib = join(app, 'allo/vendor/liballonet.so')
    execFileSync('cc', ['-shared', '-fPIC', '-o', lib, '-x', 'c', '-'], {
      input: `${LIBALLONET_STANDIN_C}int vendor_marker;\n`,
    })
    const from = await build(`${image}-from`, [
      '--build-arg',
      'ALLONET_FROM=allo/vendor/liballonet.so',
      '--build-arg',
      `ALLONET_VERSION=${lock}`,
    ])
    assert.equal(from.code, 0, from.stdout + from.stderr)
    assert.match(
      from.stdout + from.stderr,
      /Installed allo\/vendor\/liballonet\.so → allo\/lib\/liballonet\.so \(recorded as allonet /,
    )
    const inImage = await podmanOk(pm, [
      'run',
      '--rm',
      '--entrypoint',
      'sha256sum',
      `${image}-from`,
      'allo/lib/liballonet.so',
    ])
    assert.equal(inImage.split(' ')[0], createHash('sha256').update(readFileSync(lib)).digest('hex'))
  })
})
