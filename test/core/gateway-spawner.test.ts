/**
 * The gateway starts its instances through the resident spawner (real luajit, real HTTP): the app's
 * parent is the spawner, not the gateway; a spawner killed mid-flight is reported and replaced; the
 * gateway falls back to spawning directly when no spawner can run; close leaves no spawner behind.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { after, describe, it } from 'node:test'
import { findExecutable } from '../../src/core/fsutil.js'
import { type Gateway, type GatewayOptions, startGateway } from '../../src/core/gateway.js'
import { makeLuaApp, removeDir, tempDir } from '../helpers/app.js'
import { isAlive } from '../helpers/cli.js'
import { type Captured, captureLog, IDLE_BOOT_LUA, launch, waitUntil } from '../helpers/gateway.js'

function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

function cmdlineOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
}

const dirs: string[] = []
const gateways: Gateway[] = []
after(async () => {
  await Promise.all(gateways.map((g) => g.close({ force: true })))
  for (const d of dirs) removeDir(d)
})

async function gateway(opts: GatewayOptions): Promise<Gateway & { log: Captured; root: string }> {
  const root = tempDir()
  dirs.push(root)
  makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, root)
  const log = captureLog()
  const g = await startGateway({ port: 0, host: '127.0.0.1', graceMs: 2000, log, appsRoot: root, ...opts })
  gateways.push(g)
  return Object.assign(g, { log, root })
}

describe('gateway with the resident spawner', () => {
  it('starts instances as children of the spawner (not of the gateway), and close() ends the spawner', async () => {
    const g = await gateway({})
    const spawner = g.spawnerPid()
    assert.ok(spawner, 'a spawner runs')
    assert.equal(ppidOf(spawner), process.pid, 'the gateway started the spawner')
    assert.ok(
      cmdlineOf(spawner).some((a) => a.endsWith('spawner.lua')),
      cmdlineOf(spawner).join(' '),
    )
    const pids: number[] = []
    for (let i = 0; i < 3; i++) {
      const res = await launch(`${g.url}idle`)
      assert.equal(res.status, 200, JSON.stringify(res.json))
      pids.push(res.json.pid as number)
    }
    for (const pid of pids) assert.equal(ppidOf(pid), spawner, `instance ${pid} is the spawner's child`)
    assert.equal(g.log.lines.filter((l) => l.startsWith('warn')).length, 0, g.log.lines.join('\n'))
    await g.close()
    for (const pid of pids) assert.equal(isAlive(pid), false)
    assert.equal(isAlive(spawner), false, 'no spawner left behind')
    assert.equal(g.instances().length, 0)
  })

  it('a spawner killed mid-flight: its instances are killed and reported, the next launch gets a new spawner', async () => {
    const g = await gateway({})
    const first = g.spawnerPid() as number
    const a = await launch(`${g.url}idle`)
    const b = await launch(`${g.url}idle`)
    assert.equal(a.status, 200)
    assert.equal(b.status, 200)
    process.kill(first, 'SIGKILL')
    await waitUntil(() => g.instances().length === 0, 'both instances reported gone')
    assert.equal(isAlive(a.json.pid as number), false)
    assert.equal(isAlive(b.json.pid as number), false)
    const lost = g.log.lines.filter((l) => /idle#\d+ killed by SIGKILL \(process spawner lost\)/.test(l))
    assert.equal(lost.length, 2, g.log.lines.join('\n'))
    assert.ok(
      g.log.lines.some((l) =>
        l.startsWith(
          `warn the process spawner (pid ${first}) died (killed by SIGKILL); killed its 2 running`,
        ),
      ),
      g.log.lines.join('\n'),
    )
    const c = await launch(`${g.url}idle`)
    assert.equal(c.status, 200, JSON.stringify(c.json))
    const second = g.spawnerPid() as number
    assert.ok(second && second !== first)
    assert.equal(ppidOf(c.json.pid as number), second)
    await g.close()
    assert.equal(isAlive(second), false)
    assert.equal(isAlive(c.json.pid as number), false)
  })

  it('without a usable LuaJIT for the spawner it says so in one line and spawns directly', async () => {
    const g = await gateway({ luajit: '/bin/false' })
    assert.equal(g.spawnerPid(), undefined)
    const warned = g.log.lines.filter((l) => l.startsWith('warn'))
    assert.equal(warned.length, 1, g.log.lines.join('\n'))
    assert.match(
      warned[0],
      /^warn could not start the process spawner \(\/bin\/false .*spawner\.lua\): it exited with code 1; starting instances directly instead \(slower under load\)$/,
    )
    const none = await gateway({ env: { PATH: '/nonexistent' } })
    assert.deepEqual(none.log.lines, [
      'warn no LuaJIT found for the process spawner; starting instances directly instead (slower under load)',
    ])
  })

  it('in single-app mode the spawner runs on the app’s own LuaJIT (a bundled one, with none on PATH)', async () => {
    const parent = tempDir()
    dirs.push(parent)
    const app = makeLuaApp('bundled', { boot: IDLE_BOOT_LUA }, parent)
    const bundled = join(app, 'allo', 'deps', 'luajit-bin', 'luajit')
    mkdirSync(dirname(bundled), { recursive: true })
    symlinkSync(findExecutable('luajit') as string, bundled)
    const log = captureLog()
    const g = await startGateway({
      port: 0,
      host: '127.0.0.1',
      appDir: app,
      env: { PATH: '/nonexistent' },
      log,
    })
    gateways.push(g)
    const spawner = g.spawnerPid() as number
    assert.ok(spawner, log.lines.join('\n'))
    assert.equal(cmdlineOf(spawner)[0], bundled)
    const res = await launch(g.url)
    assert.equal(res.status, 200, JSON.stringify(res.json))
    assert.equal(ppidOf(res.json.pid as number), spawner)
    assert.deepEqual(
      log.lines.filter((l) => l.startsWith('warn')),
      [],
    )
    await g.close()
    assert.equal(isAlive(spawner), false)
  })

  it('with spawner: false, instances are the gateway’s own children', async () => {
    const g = await gateway({ spawner: false })
    assert.equal(g.spawnerPid(), undefined)
    const res = await launch(`${g.url}idle`)
    assert.equal(res.status, 200)
    assert.equal(ppidOf(res.json.pid as number), process.pid)
    await g.close()
    assert.equal(isAlive(res.json.pid as number), false)
  })
})
