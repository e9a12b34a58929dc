/**
 * The security review's attacks (issue 20) through the built CLI, as an operator runs it: the admin
 * token set for `serve` must not reach an app (nor `run`'s), `serve --env` and `--allowed-host` work
 * from the command line, and the place's web view refuses a rebound Host.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { makeLuaApp, removeDir, tempDir } from '../helpers/app.js'
import { CliProcess, runCli } from '../helpers/cli.js'
import { ENV_DUMP_BOOT_LUA, envOf, launch, rawRequest, waitUntil } from '../helpers/gateway.js'

const dirs: string[] = []
const procs: CliProcess[] = []
after(() => {
  for (const p of procs) if (p.child.exitCode === null) p.signal('SIGKILL')
  for (const d of dirs) removeDir(d)
})

const HELLO = fileURLToPath(new URL('../../examples/hello', import.meta.url))

function start(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): CliProcess {
  const p = new CliProcess(args, opts)
  procs.push(p)
  return p
}

function temp(): string {
  const d = tempDir()
  dirs.push(d)
  return d
}

const TOKEN = 'e2e-admin-token-do-not-leak'

describe('what apps inherit (issue 20 #1)', () => {
  it('ASSIST_ADMIN_TOKEN=… assist serve --apps-root: the launched app never sees the token; --env adds', async () => {
    const root = temp()
    const app = makeLuaApp('envy', { boot: ENV_DUMP_BOOT_LUA }, root)
    const p = start(
      [
        'serve',
        '--apps-root',
        root,
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--env',
        'GREETING=hej',
        '--env',
        'FORWARD_ME',
      ],
      {
        cwd: root,
        env: { ASSIST_ADMIN_TOKEN: TOKEN, FORWARD_ME: 'forwarded', OTHER_SECRET: 'nope', LC_ALL: 'C.UTF-8' },
      },
    )
    await p.waitFor(/listening on (http:\/\/\S+?\/)/, 30_000)
    const url = (/listening on (http:\/\/\S+?\/)/.exec(p.output) as RegExpExecArray)[1]
    const res = await launch(`${url}envy`)
    assert.equal(res.status, 200, JSON.stringify(res.json))
    await waitUntil(() => existsSync(join(app, 'env.txt')), 'the app dumped its environment')
    const env = envOf(app)
    assert.equal(env.has('ASSIST_ADMIN_TOKEN'), false, 'the admin token stays with the gateway')
    assert.ok(![...env.values()].some((v) => v.includes(TOKEN)))
    assert.equal(env.has('OTHER_SECRET'), false)
    assert.equal(env.get('GREETING'), 'hej')
    assert.equal(env.get('FORWARD_ME'), 'forwarded')
    assert.equal(env.get('LC_ALL'), 'C.UTF-8')
    assert.ok(env.get('PATH'))
    p.signal('SIGTERM')
    assert.equal((await p.closed).code, 0)
  })

  it('serve --env with a bad name is a one-line error and nothing starts', async () => {
    const root = temp()
    makeLuaApp('envy', {}, root)
    const r = await runCli(['serve', '--apps-root', root, '--port', '0', '--env', 'BAD-NAME=x'])
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /Invalid --env "BAD-NAME=x": give KEY=VALUE/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.doesNotMatch(r.stdout, /listening/)
  })

  it("assist run passes the developer's environment on, but not assist's own ASSIST_* variables", async () => {
    const app = makeLuaApp('runenv', { boot: ENV_DUMP_BOOT_LUA }, temp())
    const p = start(['run', 'alloplace://localhost:21337', '--no-watch'], {
      cwd: app,
      env: { ASSIST_ADMIN_TOKEN: TOKEN, MY_APP_KEY: 'dev value' },
    })
    await waitUntil(() => existsSync(join(app, 'env.txt')), 'the app dumped its environment', 30_000)
    const env = envOf(app)
    assert.equal(env.has('ASSIST_ADMIN_TOKEN'), false)
    assert.equal(env.get('MY_APP_KEY'), 'dev value')
    p.signal('SIGTERM')
    await p.closed
  })
})

describe('DNS rebinding through the CLI (issue 20 #3, #4)', () => {
  it('serve --allowed-host: tokenless /instances answers that name and localhost, refuses others', async () => {
    const root = temp()
    makeLuaApp('envy', { boot: ENV_DUMP_BOOT_LUA }, root)
    const p = start(
      ['serve', '--apps-root', root, '--port', '0', '--host', '127.0.0.1', '--allowed-host', 'Admin.Example'],
      {
        cwd: root,
      },
    )
    await p.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\//, 30_000)
    const port = Number((/listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(p.output) as RegExpExecArray)[1])
    const get = (host: string) =>
      rawRequest(port, `GET /instances HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    assert.equal((await get(`evil.example:${port}`)).status, 403)
    assert.equal((await get(`admin.example:${port}`)).status, 200)
    assert.equal((await get(`localhost:${port}`)).status, 200)
    p.signal('SIGTERM')
    assert.equal((await p.closed).code, 0)
  })

  it("assist place: the web view refuses a rebound Host, and answers --allowed-host's name", async () => {
    const p = start(['place', '--port', '0', '--allowed-host', 'view.example'], { cwd: temp() })
    await p.waitFor(/Web view: http:\/\/127\.0\.0\.1:(\d+)\//, 30_000)
    const port = Number((/Web view: http:\/\/127\.0\.0\.1:(\d+)\//.exec(p.output) as RegExpExecArray)[1])
    assert.equal(await status(port, `evil.example:${port}`), 403)
    assert.equal(await status(port, `view.example:${port}`), 200)
    assert.equal(await status(port, `localhost:${port}`), 200)
    p.signal('SIGINT')
    await p.closed
  })

  it("assist view URL: the remote place's web view refuses a rebound Host, and answers --allowed-host's name", async () => {
    const place = start(['place', '--port', '0', '--no-view'], { cwd: temp() })
    await place.waitFor(/listening on (alloplace:\/\/127\.0\.0\.1:\d+)/, 30_000)
    const url = (/listening on (alloplace:\/\/127\.0\.0\.1:\d+)/.exec(place.output) as RegExpExecArray)[1]
    const viewer = start(['view', url, '--allowed-host', 'view.example'], { cwd: temp() })
    try {
      await viewer.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\//, 30_000)
      const port = Number((/http:\/\/127\.0\.0\.1:(\d+)\//.exec(viewer.output) as RegExpExecArray)[1])
      assert.equal(await status(port, `evil.example:${port}`), 403)
      assert.equal(await status(port, `view.example:${port}`), 200)
      assert.equal(await status(port, `localhost:${port}`), 200)
    } finally {
      viewer.signal('SIGINT')
      await viewer.closed
      place.signal('SIGINT')
      await place.closed
    }
  })
})

describe('DNS rebinding: assist run URL --view', () => {
  it("the remote place's view beside a running app refuses a rebound Host, and answers --allowed-host's name", async () => {
    const place = start(['place', '--port', '0', '--no-view'], { cwd: temp() })
    await place.waitFor(/listening on (alloplace:\/\/127\.0\.0\.1:\d+)/, 30_000)
    const url = (/listening on (alloplace:\/\/127\.0\.0\.1:\d+)/.exec(place.output) as RegExpExecArray)[1]
    // examples/hello runs on node alone: no LuaJIT or allonet needed for this check
    const app = start(['run', url, '--view', '--no-watch', '--allowed-host', 'view.example'], { cwd: HELLO })
    try {
      await app.waitFor(/Web view: http:\/\/127\.0\.0\.1:(\d+)\//, 30_000)
      const port = Number((/Web view: http:\/\/127\.0\.0\.1:(\d+)\//.exec(app.output) as RegExpExecArray)[1])
      assert.equal(await status(port, `evil.example:${port}`), 403)
      assert.equal(await status(port, `view.example:${port}`), 200)
      assert.equal(await status(port, `localhost:${port}`), 200)
    } finally {
      app.signal('SIGINT')
      await app.closed
      place.signal('SIGINT')
      await place.closed
    }
  })
})

/** The status of GET / on 127.0.0.1:port under the given Host header. */
function status(port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}
