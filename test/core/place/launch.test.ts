/**
 * launch_app: the full round trip through our real gateway (`startGateway`, the `assist serve`
 * core) starting a real process that connects back with the token, and the failure rows of the
 * contract (gateway error body, nothing listening, no answer within 1 s, requester gone, unknown token).
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Gateway, silentLog, startGateway } from '../../../src/core/gateway.js'
import { AlloClient } from '../../../src/core/place/client.js'
import { removeDir, tempDir } from '../../helpers/app.js'
import { connectClient, startTestPlace, waitForPlace } from '../../helpers/place.js'

const STAND_IN = fileURLToPath(new URL('../../fixtures/place/stand-in-app.ts', import.meta.url))
const TSX = fileURLToPath(import.meta.resolve('tsx'))
const LOCATION = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1.2, -2, 1]

const cleanups: Array<() => Promise<unknown> | unknown> = []
after(async () => {
  for (const c of cleanups.reverse()) await c()
})

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  )
}

test('launch_app round trip: our place → our gateway → a real process that announces with the token', async () => {
  const dir = tempDir('assist-launch-')
  cleanups.push(() => removeDir(dir))
  const app = join(dir, 'stand-in')
  mkdirSync(app)
  writeFileSync(
    join(app, 'alloapp.json'),
    JSON.stringify({ start: [process.execPath, '--import', TSX, STAND_IN, '{url}'] }),
  )
  const lines: string[] = []
  const gateway: Gateway = await startGateway({
    port: 0,
    host: '127.0.0.1',
    appDir: app,
    log: { ...silentLog, info: (m: string) => lines.push(m) } as typeof silentLog,
    graceMs: 2000,
  })
  cleanups.push(() => gateway.close({ force: true }))
  // A short peer timeout: if the app is killed before it can say goodbye, the place notices sooner.
  const { place, log } = await startTestPlace(undefined, { timeoutMs: 5000 })
  cleanups.push(() => place.close())
  const visor = await connectClient(place, undefined, 'launch-app')
  cleanups.push(() => visor.disconnect())

  const avatarId = await visor.launchApp(
    `alloapp:http://127.0.0.1:${gateway.port}/`,
    { initialLocation: LOCATION },
    30_000,
  )
  assert.match(avatarId, /^[a-y]{10}$/)
  const launched = place.agentList().find((a) => a.avatarId === avatarId)
  assert.equal(launched?.displayName, 'stand-in-app')
  const state = await visor.waitForState((s) => s.entities[avatarId] !== undefined)
  assert.deepEqual(
    state.entities[avatarId].components.transform,
    { matrix: LOCATION },
    'initialLocation reached the app',
  )
  assert.equal(
    state.entities[avatarId].components.avatar,
    undefined,
    'the token is not published in the state',
  )
  assert.ok(log.has(/launches alloapp:http:\/\/127\.0\.0\.1/))
  assert.ok(log.has(/launched app .* is up as "stand-in-app"/), log.lines.join('\n'))
  assert.equal(gateway.instances().length, 1)
  // Stopping the gateway stops the app; the place cleans up its avatar (on its DISCONNECT, or by
  // timeout when a loaded machine made the gateway kill it first).
  await gateway.close()
  await waitForPlace(place, () => !place.agentList().some((a) => a.avatarId === avatarId), 40_000)
})

test('launch_app failures: gateway error body, nothing listening, no answer in 1 s', async () => {
  const { place } = await startTestPlace(undefined)
  cleanups.push(() => place.close())
  const visor = await connectClient(place, undefined, 'launch-app')
  cleanups.push(() => visor.disconnect())

  const failing = createServer((_req, res) => {
    res.writeHead(502, { 'Content-Type': 'application/json' })
    res.end('{"status": "error", "error": "Failed to boot app: no such app"}')
  })
  const failingPort = await listen(failing)
  cleanups.push(() => new Promise((r) => failing.close(r)))
  assert.deepEqual(
    await visor.request('place', ['launch_app', `alloapp:http://127.0.0.1:${failingPort}/x`, {}]),
    ['launch_app', 'error', '{"status": "error", "error": "Failed to boot app: no such app"}'],
  )

  const closed = createTcpServer()
  const closedPort = await listen(closed)
  await new Promise((r) => closed.close(r))
  assert.deepEqual(await visor.request('place', ['launch_app', `alloapp:http://127.0.0.1:${closedPort}/`]), [
    'launch_app',
    'error',
    'Failed connection to app gateway',
  ])

  const sockets: Socket[] = []
  const silent = createTcpServer((s) => {
    sockets.push(s) // reads the request, never answers
  })
  const silentPort = await listen(silent)
  cleanups.push(() => {
    for (const s of sockets) s.destroy()
    return new Promise((r) => silent.close(r))
  })
  assert.deepEqual(await visor.request('place', ['launch_app', `alloapp:http://127.0.0.1:${silentPort}/`]), [
    'launch_app',
    'error',
    'Failed connection to app gateway',
  ])
  // The place kept serving while the POSTs were pending.
  assert.ok((await visor.listAgents()).length >= 1)
})

test('launch_app: a requester that left gets nothing; a token nobody waits for is only logged', async () => {
  let body = ''
  const ok = createServer((req, res) => {
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      res.writeHead(200)
      res.end('{"status": "ok"}')
    })
  })
  const port = await listen(ok)
  cleanups.push(() => new Promise((r) => ok.close(r)))
  const { place, log } = await startTestPlace(undefined)
  cleanups.push(() => place.close())
  const visor = await connectClient(place, undefined, 'launch-app')
  const pending = visor.request('place', ['launch_app', `alloapp:http://127.0.0.1:${port}/`, {}], {
    timeoutMs: 60_000,
  })
  pending.catch(() => {})
  await new Promise<void>((resolve) => place.on('launch', (e) => e.kind === 'pending' && resolve()))
  const token = JSON.parse(body).avatarToken as string
  await visor.disconnect()
  const app = await AlloClient.connect({ host: '127.0.0.1', port: place.port })
  cleanups.push(() => app.disconnect())
  await app.announce({ identity: { display_name: 'late app' }, avatar: { avatar: { token } } })
  assert.ok(log.has(/its requester has left/), log.lines.join('\n'))
  const stranger = await AlloClient.connect({ host: '127.0.0.1', port: place.port })
  cleanups.push(() => stranger.disconnect())
  await stranger.announce({
    identity: { display_name: 'stranger' },
    avatar: { avatar: { token: 'abcdefghijklmnopqrs' } },
  })
  assert.ok(log.has(/launch token abcdefghijklmnopqrs, but no launch is waiting/))
})
