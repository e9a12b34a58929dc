/** `assist place` and `assist run` with a built-in place, as a user runs them: the built CLI, real UDP. */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { AlloClient } from '../../src/core/place/client.js'
import { makeLuaApp, removeDir, tempDir } from '../helpers/app.js'
import { CliProcess, runCli } from '../helpers/cli.js'

const dirs: string[] = []
const procs: CliProcess[] = []
const clients: AlloClient[] = []
after(async () => {
  for (const c of clients) await c.disconnect().catch(() => {})
  for (const p of procs) if (p.child.exitCode === null) p.signal('SIGKILL')
  for (const d of dirs) removeDir(d)
})

function start(args: string[], opts: { cwd?: string } = {}): CliProcess {
  const p = new CliProcess(args, opts)
  procs.push(p)
  return p
}

async function placeUrl(p: CliProcess): Promise<{ url: string; port: number }> {
  const re = /listening on (alloplace:\/\/127\.0\.0\.1:(\d+))/
  await p.waitFor(re, 30_000)
  const m = re.exec(p.output) as RegExpExecArray
  return { url: m[1], port: Number(m[2]) }
}

async function joinPlace(port: number, name: string): Promise<AlloClient> {
  const c = await AlloClient.connect({ host: '127.0.0.1', port })
  clients.push(c)
  await c.announce({ identity: { display_name: name } })
  return c
}

/**
 * An app named luaagent whose boot script runs the real LuaJIT agent on the C ENet library
 * (test/fixtures/place/lua-agent.lua) against the place URL it is given.
 */
function luaAgentApp(): string {
  const agent = fileURLToPath(new URL('../fixtures/place/lua-agent.lua', import.meta.url))
  const boot = `local host, port = arg[2]:match('^alloplace://([^:/]+):(%d+)$')
arg = { [0] = ${JSON.stringify(agent)}, host, port }
dofile(${JSON.stringify(agent)})
`
  const parent = tempDir()
  dirs.push(parent)
  return makeLuaApp('luaagent', { boot }, parent)
}

describe('assist place', () => {
  it('serves agents, logs one line per agent event, and closes on SIGINT', async () => {
    const p = start(['place', '--port', '0', '--name', 'E2E place'])
    const { url, port } = await placeUrl(p)
    assert.match(p.stdout, /Place "E2E place" is listening on alloplace:\/\/127\.0\.0\.1:\d+ \(UDP\)/)
    await p.waitFor(new RegExp(`Connect an app with: assist run ${url}`))
    const alice = await joinPlace(port, 'alice')
    const bob = await joinPlace(port, 'bob')
    assert.equal(alice.placeName, 'E2E place')
    const box = await alice.spawnEntity({ text: { string: 'hello' } })
    await bob.waitForState((s) => s.entities[box] !== undefined)
    await p.waitFor(/announced: "alice"/)
    await p.waitFor(/announced: "bob"/)
    assert.equal(p.count(/\+ connected: /), 2)
    await alice.disconnect()
    await p.waitFor(/- disconnected: "alice" .*removed 2 entities/)
    assert.doesNotMatch(p.output, /spawn_entity/, 'interactions only with --verbose')
    p.signal('SIGINT')
    const { code } = await p.closed
    assert.equal(code, 0)
    assert.match(p.stdout, /Place closed\./)
  })

  it('--verbose logs interactions; bad input gets a warning line, and the place keeps going', async () => {
    const p = start(['place', '--port', '0', '--verbose'])
    const { port } = await placeUrl(p)
    const a = await joinPlace(port, 'alice')
    await a.spawnEntity({ text: { string: 'x' } })
    await p.waitFor(/"alice".* request .* → place: \["spawn_entity"/)
    a.sendRaw(1, 'this is not json')
    await p.waitFor(/! "alice" .*: dropped a commands message that is not a JSON array/)
    assert.ok((await a.listAgents()).length === 1)
    p.signal('SIGTERM')
    assert.equal((await p.closed).code, 0)
  })

  it('a busy port, a bad host and a bad port are one-line errors', async () => {
    const first = start(['place', '--port', '0'])
    const { port } = await placeUrl(first)
    const busy = await runCli(['place', '--port', String(port)])
    assert.equal(busy.code, 4, 'EXIT.network')
    assert.match(busy.stderr, new RegExp(`UDP port ${port} on 127\\.0\\.0\\.1 is already in use`))
    assert.equal(busy.stderr.trim().split('\n').length, 1)
    const host = await runCli(['place', '--host', 'not a host'])
    assert.equal(host.code, 2)
    assert.match(host.stderr, /--host "not a host" is not an IP address or host name/)
    const notMine = await runCli(['place', '--host', '192.0.2.1', '--port', '0'])
    assert.equal(notMine.code, 4, 'EXIT.network')
    assert.match(notMine.stderr, /Cannot listen on 192\.0\.2\.1/)
    const badPort = await runCli(['place', '--port', '70000'])
    assert.notEqual(badPort.code, 0)
    first.signal('SIGINT')
    await first.closed
  })
})

describe('assist run with a built-in place', () => {
  it('without a URL starts a place on a free port and connects the app to it', async () => {
    const parent = tempDir()
    dirs.push(parent)
    const app = makeLuaApp('hello', {}, parent)
    const p = start(['run', '--no-watch'], { cwd: app })
    const { url, port } = await placeUrl(p)
    await p.waitFor(/booted 1/)
    const rec = JSON.parse(readFileSync(join(app, 'record.json'), 'utf8'))
    assert.deepEqual(rec.args, [app, url], 'the app got the built-in place URL')
    // The place is real: agents can join it.
    const visor = await joinPlace(port, 'visor')
    assert.equal(visor.placeName, 'Development place')
    await p.waitFor(/\[place\] .*announced: "visor"/)
    p.signal('SIGINT')
    await p.closed
    assert.ok(existsSync(join(app, 'record.json')))
  })

  it('a real LuaJIT app on the C ENet library joins the built-in place; run ends when the app quits', async () => {
    const app = luaAgentApp()
    const p = start(['run', '--no-watch'], { cwd: app })
    const { port } = await placeUrl(p)
    await p.waitFor(/\[place\] .*announced: "lua-agent"/)
    await p.waitFor(/\[luaagent\] spawned [a-y]{10}/)
    const avatar = (/\[luaagent\] announced ([a-y]{10})/.exec(p.output) as RegExpExecArray)[1]
    const visor = await joinPlace(port, 'visor')
    assert.deepEqual(await visor.request(avatar, ['quit']), ['quit', 'ok'])
    const { code } = await p.closed
    assert.equal(code, 0, p.output)
    assert.match(p.output, /\[place\] .*disconnected: "lua-agent"/)
  })

  it('hot reload: the killed instance is dropped from the built-in place within seconds', async () => {
    const app = luaAgentApp()
    const p = start(['run'], { cwd: app })
    await placeUrl(p)
    await p.waitFor(/\[place\] .*announced: "lua-agent"/)
    await p.waitFor(/\[luaagent\] state has /) // its avatar and the entity it spawned: 2 entities
    writeFileSync(join(app, 'lua/main.lua'), '-- changed\n')
    await p.waitFor((out) => (out.match(/\[place\] .*announced: "lua-agent"/g) ?? []).length === 2, 30_000)
    await p.waitFor(/\[place\] .*disconnected \(timed out\): "lua-agent".*removed 2 entities/, 30_000)
    p.signal('SIGINT')
    await p.closed
  })

  it('--place with --place-port uses that port; a URL with --place or --place-port is refused', async () => {
    const parent = tempDir()
    dirs.push(parent)
    const app = makeLuaApp('hello', {}, parent)
    const probe = start(['place', '--port', '0'])
    const { port } = await placeUrl(probe)
    probe.signal('SIGINT')
    await probe.closed
    const p = start(['run', '--place', '--place-port', String(port), '--place-name', 'Mine', '--no-watch'], {
      cwd: app,
    })
    const got = await placeUrl(p)
    assert.equal(got.port, port)
    assert.match(p.output, /Built-in place "Mine"/)
    p.signal('SIGINT')
    await p.closed

    const both = await runCli(['run', 'alloplace://localhost', '--place'], { cwd: app })
    assert.equal(both.code, 2)
    assert.match(both.stderr, /Give either a place URL or --place, not both/)
    const portWithUrl = await runCli(['run', 'alloplace://localhost', '--place-port', '5000'], { cwd: app })
    assert.equal(portWithUrl.code, 2)
    assert.match(portWithUrl.stderr, /--place-port only applies to the built-in place/)
  })

  it('no app here: the error comes before any place is started', async () => {
    const empty = tempDir()
    dirs.push(empty)
    const r = await runCli(['run'], { cwd: empty })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /No Alloverse app/)
    assert.doesNotMatch(r.stdout, /listening/)
  })
})
