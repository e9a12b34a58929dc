/** `assist serve` as a user runs it: the built CLI, real HTTP, real luajit apps, real signals. */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { makeLuaApp, removeDir, tempDir } from '../helpers/app.js'
import { CliProcess, isAlive, runCli } from '../helpers/cli.js'
import {
  getJson,
  IDLE_BOOT_LUA,
  launch,
  PLACE,
  PLACE_BODY,
  PLACE_IDENTITY,
  recordOf,
  STUBBORN_BOOT_LUA,
  waitUntil,
} from '../helpers/gateway.js'

const dirs: string[] = []
const procs: CliProcess[] = []
after(() => {
  for (const p of procs) if (p.child.exitCode === null) p.signal('SIGKILL')
  for (const d of dirs) removeDir(d)
})

function serve(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): CliProcess {
  const p = new CliProcess(['serve', ...args], opts)
  procs.push(p)
  return p
}

async function listening(p: CliProcess): Promise<string> {
  await p.waitFor(/listening on (http:\/\/\S+?\/)/, 30_000)
  return (/listening on (http:\/\/\S+?\/)/.exec(p.output) as RegExpExecArray)[1]
}

describe('assist serve', () => {
  it('serves the app it runs in, enforces its flags, and drains on SIGTERM', async () => {
    const parent = tempDir()
    dirs.push(parent)
    const app = makeLuaApp('clock', {}, parent)
    const p = serve(['--port', '0', '--host', '127.0.0.1', '--max-instances', '1', '--max-body', '300'], {
      cwd: app,
    })
    const url = await listening(p)
    assert.match(
      p.stdout,
      /^Gateway listening on http:\/\/127\.0\.0\.1:\d+\/, serving clock: POST \/ launches it$/m,
    )

    const res = await launch(`${url}anything`)
    assert.equal(res.status, 200)
    assert.equal(res.json.status, 'ok')
    await waitUntil(() => existsSync(join(app, 'record.json')), 'the app started')
    const rec = recordOf(app)
    assert.deepEqual(rec.args, [app, PLACE])
    assert.equal(rec.boot_args, PLACE_BODY)
    assert.equal(rec.identity, PLACE_IDENTITY)
    await p.waitFor(
      /clock#1 started \(id [0-9a-f]{12}, pid \d+\) in alloplace:\/\/localhost:21337 for "launch-app"/,
    )
    await p.waitFor(/\[clock#1\] booted 1 alloplace:\/\/localhost:21337/)
    // The instance was started by the resident spawner, itself a child of assist.
    const ppid = (pid: number) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    }
    const spawner = ppid(res.json.pid as number)
    assert.equal(ppid(spawner), p.child.pid)
    assert.match(readFileSync(`/proc/${spawner}/cmdline`, 'utf8'), /spawner\.lua/)

    const full = await launch(url)
    assert.equal(full.status, 503, '--max-instances 1')
    const big = await launch(url, { body: `{"x":"${'a'.repeat(400)}"}` })
    assert.equal(big.status, 413, '--max-body 300')
    assert.match(String(big.json.error), /too large/)

    p.signal('SIGTERM')
    const exit = await p.closed
    assert.equal(exit.code, 0, p.output)
    assert.equal(isAlive(res.json.pid as number), false, 'the instance was stopped')
    assert.match(p.output, /clock#1 killed by SIGTERM after \d+\.\ds \(stopped\)/)
    assert.match(p.output, /all instances stopped/)
    assert.equal(isAlive(spawner), false, 'no spawner left behind')
  })

  it('serves an apps root from APPS_ROOT and PORT, logging JSON lines with --log-format json', async () => {
    const root = tempDir()
    dirs.push(root)
    makeLuaApp('alpha', { boot: IDLE_BOOT_LUA }, root)
    makeLuaApp('beta', { boot: IDLE_BOOT_LUA }, root)
    const p = serve(['--log-format', 'json', '--host', '127.0.0.1'], {
      cwd: root,
      env: { APPS_ROOT: root, PORT: '0', ASSIST_ADMIN_TOKEN: 'tok-123' },
    })
    await p.waitFor(/"event":"listening"/, 30_000)
    const lines = () =>
      p.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    const listen = lines().find((l) => l.event === 'listening') as Record<string, unknown>
    assert.equal(listen.mode, 'apps-root')
    assert.equal(listen.level, 'info')
    assert.match(String(listen.time), /^\d{4}-\d\d-\d\dT/)
    const url = String(listen.url)

    const apps = await getJson(`${url}apps`)
    assert.deepEqual(
      (apps.json.apps as Array<{ name: string }>).map((a) => a.name),
      ['alpha', 'beta'],
    )
    const res = await launch(`${url}beta`)
    assert.equal(res.status, 200)
    assert.equal(res.json.app, 'beta')
    assert.equal((await launch(`${url}gamma`)).status, 404)
    assert.equal((await getJson(`${url}instances`)).status, 401, 'ASSIST_ADMIN_TOKEN is required')
    const list = await getJson(`${url}instances`, { headers: { authorization: 'Bearer tok-123' } })
    assert.equal((list.json.instances as unknown[]).length, 1)

    await p.waitFor(/"event":"launch"/)
    const started = lines().find((l) => l.event === 'launch') as Record<string, unknown>
    assert.equal(started.app, 'beta')
    assert.equal(started.instance, res.json.instance)
    assert.equal(started.display_name, 'launch-app')

    p.signal('SIGINT')
    assert.equal((await p.closed).code, 0)
    assert.equal(isAlive(res.json.pid as number), false)
    const exitLine = lines().find((l) => l.event === 'exit') as Record<string, unknown>
    assert.equal(exitLine.signal, 'SIGTERM')
    assert.equal(exitLine.stopped, true)
    for (const l of lines()) assert.equal(typeof l.msg, 'string', 'every stdout line is a JSON log object')
  })

  it('a second signal kills instances at once and exits 1', async () => {
    const parent = tempDir()
    dirs.push(parent)
    const app = makeLuaApp('stubborn', { boot: STUBBORN_BOOT_LUA }, parent)
    const p = serve(['--port', '0', '--host', '127.0.0.1', '--grace', '600000'], { cwd: app })
    const url = await listening(p)
    const res = await launch(url)
    assert.equal(res.status, 200)
    await waitUntil(() => existsSync(join(app, 'started')), 'the app ignores SIGTERM now')
    p.signal('SIGTERM')
    await p.waitFor(/shutting down/)
    await p.waitFor(/stopping 1 instance/)
    assert.equal(isAlive(res.json.pid as number), true, 'still waiting out the grace period')
    p.signal('SIGTERM')
    const exit = await p.closed
    assert.equal(exit.code, 1)
    assert.match(p.output, /killing every instance now/)
    assert.equal(isAlive(res.json.pid as number), false)
  })

  it('stopped by a service manager (SIGTERM to the gateway and its instances at once): the instance is reported as stopped, not as a crash', async () => {
    const parent = tempDir()
    dirs.push(parent)
    const app = makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, parent)
    const p = serve(['--port', '0', '--host', '127.0.0.1'], { cwd: app })
    const url = await listening(p)
    const res = await launch(url)
    assert.equal(res.status, 200)
    await p.waitFor(/\[idle#1\] idle up/)
    // As systemd's KillMode=control-group does: every process gets SIGTERM, the instance first.
    process.kill(-(res.json.pid as number), 'SIGTERM')
    p.signal('SIGTERM')
    const exit = await p.closed
    assert.equal(exit.code, 0, p.output)
    assert.match(p.output, /idle#1 killed by SIGTERM after \d+\.\ds \(stopped\)/)
    assert.doesNotMatch(p.stderr, /idle#1 killed/, 'no warning for an instance the service manager stopped')
  })

  it('explains what is wrong when it cannot start', async () => {
    const empty = tempDir()
    dirs.push(empty)
    const noApp = await runCli(['serve', '--port', '0'], { cwd: empty })
    assert.equal(noApp.code, 2)
    assert.match(noApp.stderr, /No Alloverse app in .* Run this inside an app/)

    const noRoot = await runCli(['serve', '--port', '0', '--apps-root', join(empty, 'missing')], {
      cwd: empty,
    })
    assert.equal(noRoot.code, 2)
    assert.match(noRoot.stderr, /The apps root .*missing is not a folder: pass --apps-root/)
    assert.doesNotMatch(noRoot.stderr, /\n.*at /, 'no stack trace')

    const app = makeLuaApp('nolib', { withLib: false }, empty)
    const broken = await runCli(['serve', '--port', '0'], { cwd: app })
    assert.equal(broken.code, 3, 'EXIT.missingDependency')
    assert.match(broken.stderr, /allonet library is missing/)

    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const port = (blocker.address() as { port: number }).port
    const root = tempDir()
    dirs.push(root)
    const busy = await runCli(['serve', '--port', String(port), '--host', '127.0.0.1', '--apps-root', root], {
      cwd: root,
    })
    blocker.close()
    assert.equal(busy.code, 4, 'EXIT.network')
    assert.match(busy.stderr, /already in use.*pass --port/)

    const badFormat = await runCli(['serve', '--log-format', 'xml'], { cwd: root })
    assert.notEqual(badFormat.code, 0)
    assert.match(badFormat.stderr, /human|json/)
  })
})
