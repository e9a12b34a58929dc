/**
 * LIVE: the real nginx, as an unprivileged process on ephemeral loopback ports (everything under a temp
 * prefix), with the site `assist generate nginx` wrote, in front of two real `assist serve` gateways
 * running a real Lua app under luajit. A launch POSTed over HTTPS through nginx starts an app instance;
 * with one gateway full (--max-instances 1, filled), its 503 is retried on the other gateway.
 * (When the tests run as root, the wrapper's "user root;" keeps nginx's workers able to read the
 * 0700 temp prefix; nothing binds a port below 1024 either way.)
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { makeLuaApp, removeDir, tempDir } from '../helpers/app.js'
import { CliProcess, isAlive, runCli, sleep } from '../helpers/cli.js'
import { selfSignedCert, siteFileFlags, writeNginxWrapper } from '../helpers/deploy.js'

const DOMAIN = 'apps.test'
const PLACE = 'alloplace://127.0.0.1:21337'

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** Waits (event-driven retries, generous limit) until something accepts TCP connections on port. */
async function waitForListen(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1')
      sock.once('connect', () => {
        sock.destroy()
        resolve(true)
      })
      sock.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`)
    await sleep(50)
  }
}

async function waitForFile(path: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} never appeared`)
    await sleep(50)
  }
}

function launchHeaders(body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-alloverse-server': PLACE,
    'x-alloverse-launched-by': '{\\n  "display_name": "tester"\\n}',
  }
}

function collect(res: import('node:http').IncomingMessage, resolve: (r: Reply) => void): void {
  let body = ''
  res.setEncoding('utf8')
  res.on('data', (d) => {
    body += d
  })
  res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
}

function https(port: number, ca: string, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        servername: DOMAIN,
        ca,
        method,
        path,
        headers: { host: DOMAIN, ...(body === undefined ? {} : launchHeaders(body)) },
        agent: false,
      },
      (res) => collect(res, resolve),
    )
    req.on('error', reject)
    req.end(body)
  })
}

function http(port: number, method: string, path: string, body?: string, host = DOMAIN): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { host, ...(body === undefined ? {} : launchHeaders(body)) },
        agent: false,
      },
      (res) => collect(res, resolve),
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function startGateway(
  appsRoot: string,
  maxInstances: number,
): Promise<{ proc: CliProcess; port: number }> {
  const proc = new CliProcess([
    'serve',
    '--apps-root',
    appsRoot,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--max-instances',
    String(maxInstances),
    '--grace',
    '2000',
  ])
  await proc.waitFor(/Gateway listening on http:\/\/127\.0\.0\.1:\d+/, 30_000)
  const port = Number(/Gateway listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(proc.output)?.[1])
  return { proc, port }
}

describe('LIVE: generated nginx site in front of real assist serve gateways', () => {
  const prefix = tempDir('assist-live-nginx-')
  const apps = join(prefix, 'apps')
  mkdirSync(apps)
  const app = makeLuaApp('clock', {}, apps)
  let ca = ''
  let gwA: { proc: CliProcess; port: number }
  let gwB: { proc: CliProcess; port: number }
  let nginx: ChildProcess | undefined
  let nginxErr = ''
  let httpPort = 0
  let httpsPort = 0
  const accessLog = join(prefix, 'logs', 'apps.access.log')
  const pids: number[] = []

  before(async () => {
    const { cert, key } = await selfSignedCert(prefix, DOMAIN)
    ca = readFileSync(cert, 'utf8')
    // Gateway A holds at most one instance (it will be filled); gateway B has room.
    gwA = await startGateway(apps, 1)
    gwB = await startGateway(apps, 10)
    httpPort = await freePort()
    httpsPort = await freePort()
    mkdirSync(join(prefix, 'logs'), { recursive: true })
    const site = join(prefix, 'site.conf')
    const gen = await runCli([
      'generate',
      'nginx',
      '--domain',
      DOMAIN,
      '--upstream',
      `127.0.0.1:${gwA.port}`,
      '--upstream',
      `127.0.0.1:${gwB.port}`,
      '--listen-http',
      `127.0.0.1:${httpPort}`,
      '--listen-https',
      `127.0.0.1:${httpsPort}`,
      ...siteFileFlags(prefix, { cert, key }, accessLog),
      // Launches per client address: 1 a minute plus a burst of 8 — enough for the tests before the last.
      '--rate-limit',
      '1r/m',
      '--rate-burst',
      '8',
      '--output',
      site,
    ])
    assert.equal(gen.code, 0, gen.stderr)
    const conf = writeNginxWrapper(prefix, site, { foreground: true })
    nginx = spawn('nginx', ['-p', prefix, '-c', conf, '-e', 'stderr'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    nginx.stderr?.on('data', (d) => {
      nginxErr += d
    })
    nginx.once('exit', (code) => {
      if (code) nginxErr += `\n(nginx exited ${code})`
    })
    await waitForListen(httpsPort).catch((err) => {
      throw new Error(`${err.message}; nginx said: ${nginxErr}`)
    })
  })

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx?.once('exit', r))
      nginx.kill('SIGTERM') // nginx: fast shutdown
      await exited
    }
    for (const gw of [gwA, gwB]) {
      if (!gw) continue
      gw.proc.signal('SIGTERM')
      await gw.proc.closed
    }
    for (const pid of pids) assert.ok(!isAlive(pid), `app instance ${pid} outlived its gateway`)
    removeDir(prefix)
  })

  test('a launch POSTed over HTTPS through nginx starts the app instance', async () => {
    const token = `live-${process.pid}`
    const body = JSON.stringify({ avatarToken: token })
    const r = await https(httpsPort, ca, 'POST', '/clock', body)
    assert.equal(r.status, 200, r.body)
    const reply = JSON.parse(r.body) as { status: string; pid: number; app: string }
    assert.equal(reply.status, 'ok')
    assert.equal(reply.app, 'clock')
    pids.push(reply.pid)
    // The real luajit app booted: its boot script recorded the launch it was given.
    await waitForFile(join(app, 'record.json'))
    await sleep(0)
    const record = JSON.parse(readFileSync(join(app, 'record.json'), 'utf8')) as {
      args: string[]
      boot_args: string
    }
    assert.equal(record.args[1], PLACE)
    assert.equal(JSON.parse(record.boot_args).avatarToken, token)
    assert.ok(isAlive(reply.pid))
    assert.ok(r.headers['strict-transport-security'], 'HSTS header missing')
  })

  test('with one gateway full, its 503 is retried on the other gateway', async () => {
    // Fill gateway A directly (it allows one instance) unless the first launch already did.
    const health = JSON.parse((await http(gwA.port, 'GET', '/health')).body) as { instances: number }
    if (health.instances < 1) {
      const fill = await http(gwA.port, 'POST', '/clock', '{}')
      assert.equal(fill.status, 200, fill.body)
      pids.push(JSON.parse(fill.body).pid)
    }
    const full = await http(gwA.port, 'POST', '/clock', '{}')
    assert.equal(full.status, 503, 'gateway A should be at capacity')
    // Round-robin over two upstreams: of two launches, one is first offered to A.
    for (let i = 0; i < 2; i++) {
      const r = await https(httpsPort, ca, 'POST', '/clock', JSON.stringify({ n: i }))
      assert.equal(r.status, 200, `launch ${i} through nginx: ${r.status} ${r.body}`)
      pids.push(JSON.parse(r.body).pid)
    }
    // nginx writes the access log line just after the response's last byte: wait for it.
    const isRetry = (l: string) => l.includes('POST /clock') && l.includes('upstream_status=503, 200')
    const deadline = Date.now() + 30_000
    let log = readFileSync(accessLog, 'utf8')
    while (!log.split('\n').some(isRetry) && Date.now() < deadline) {
      await sleep(50)
      log = readFileSync(accessLog, 'utf8')
    }
    const retried = log.split('\n').find(isRetry)
    assert.ok(retried, `no launch was retried after a 503:\n${log}`)
    assert.ok(retried.includes(`127.0.0.1:${gwA.port}, 127.0.0.1:${gwB.port}`), retried)
    const a = JSON.parse((await http(gwA.port, 'GET', '/health')).body) as { instances: number }
    assert.equal(a.instances, 1, 'the full gateway started nothing more')
  })

  test('nginx forwards X-Forwarded-* (the gateway treats the request as proxied, not local)', async () => {
    // Straight to the gateway on loopback, under a loopback name (any other Host is refused: DNS rebinding)
    const direct = await http(gwB.port, 'GET', '/instances', undefined, '127.0.0.1')
    assert.equal(direct.status, 200, direct.body)
    const proxied = await https(httpsPort, ca, 'GET', '/instances')
    assert.equal(proxied.status, 403, proxied.body)
  })

  test('port 80 side: ACME challenge files are served, everything else redirects to HTTPS', async () => {
    const dir = join(prefix, 'acme', '.well-known', 'acme-challenge')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'tok123'), 'challenge-answer')
    const acme = await http(httpPort, 'GET', '/.well-known/acme-challenge/tok123')
    assert.equal(acme.status, 200)
    assert.equal(acme.body, 'challenge-answer')
    const redirect = await http(httpPort, 'POST', '/clock', '{}')
    assert.equal(redirect.status, 301)
    assert.equal(redirect.headers.location, `https://${DOMAIN}:${httpsPort}/clock`)
  })

  test('a body over client_max_body_size is refused by nginx (413) before reaching a gateway', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(70_000) })
    const r = await https(httpsPort, ca, 'POST', '/clock', big)
    assert.equal(r.status, 413)
  })

  test('--rate-limit: too many launches from one address get 429 with a short JSON body; GETs are not limited', async () => {
    let limited: Reply | undefined
    for (let i = 0; i < 15 && !limited; i++) {
      // An app that does not exist: the gateway answers 404 and starts nothing.
      const r = await https(httpsPort, ca, 'POST', '/no-such-app', '{}')
      if (r.status === 429) limited = r
      else assert.equal(r.status, 404, r.body)
    }
    assert.ok(limited, 'never rate limited')
    assert.equal(JSON.parse(limited.body).status, 'error')
    assert.match(JSON.parse(limited.body).error, /Too many app launches/)
    const health = await https(httpsPort, ca, 'GET', '/health')
    assert.equal(health.status, 200, health.body)
  })
})
