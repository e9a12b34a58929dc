/**
 * The view server over real HTTP and a real WebSocket, fed by a recorded world (a test can change
 * it like a place would) and a hand that records what it would send.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { isUserError } from '../../../src/core/errors.js'
import type { InteractionEntry, ServerMessage } from '../../../src/core/view/protocol.js'
import { RecordedWorld, RecordingHand } from '../../../src/core/view/recorded.js'
import { startViewServer, type ViewServer } from '../../../src/core/view/server.js'
import { tempDir, writeFile } from '../../helpers/app.js'

const fixture = (name: string) => new URL(`../../fixtures/view/${name}`, import.meta.url)
const png = readFileSync(fixture('quit.png'))
const QUIT_TEXTURE = 'asset:sha256:148b9563c22ca9fab3d1f8f29c4d45aa2da0a1b23a2be304e82395a1b18533c0'

/** A WebSocket client that queues messages and waits for the next one matching a test. */
class PageSocket {
  readonly ws: WebSocket
  private queue: ServerMessage[] = []
  private waiters: Array<() => void> = []
  constructor(url: string) {
    this.ws = new WebSocket(url)
    this.ws.on('message', (d) => {
      this.queue.push(JSON.parse(String(d)))
      for (const w of this.waiters) w()
    })
  }
  async next<T extends ServerMessage['type']>(type: T): Promise<Extract<ServerMessage, { type: T }>> {
    for (;;) {
      const i = this.queue.findIndex((m) => m.type === type)
      if (i >= 0) return this.queue.splice(i, 1)[0] as Extract<ServerMessage, { type: T }>
      await new Promise<void>((r) => this.waiters.push(r))
      this.waiters = []
    }
  }
  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg))
  }
}

describe('view server', () => {
  let world: RecordedWorld
  let hand: RecordingHand
  let server: ViewServer
  let staticDir: string

  before(async () => {
    staticDir = tempDir('assist-view-static-')
    writeFile(`${staticDir}/index.html`, '<!doctype html><title>view</title>')
    writeFile(`${staticDir}/app.js`, 'console.log(1)')
    world = new RecordedWorld(JSON.parse(readFileSync(fixture('world-state-template-app.json'), 'utf8')))
    hand = new RecordingHand([png])
    server = await startViewServer({ world, hand, staticDir })
  })
  after(() => server.close())

  it('binds 127.0.0.1 on a free port and serves the page', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
    const r = await fetch(server.url)
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /text\/html/)
    assert.equal(
      (await fetch(new URL('app.js', server.url))).headers.get('content-type'),
      'text/javascript; charset=utf-8',
    )
    assert.equal((await fetch(new URL('missing.css', server.url))).status, 404)
    assert.equal((await fetch(new URL('/%2e%2e/%2e%2e/etc/passwd', server.url))).status, 404)
    assert.equal((await fetch(server.url, { method: 'POST' })).status, 405)
  })

  it('serves assets fetched by the hand, typed by content', async () => {
    const r = await fetch(new URL(`asset/${QUIT_TEXTURE}`, server.url))
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('content-type'), 'image/png')
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), png)
    assert.equal(
      (await fetch(new URL(`asset/${QUIT_TEXTURE.replace('148b', '0000')}`, server.url))).status,
      404,
    )
    assert.equal((await fetch(new URL('asset/not-an-id', server.url))).status, 400)
  })

  it('sends a snapshot, then pushes changes and removals as they happen', async () => {
    const page = new PageSocket(`${server.url.replace('http', 'ws')}ws`)
    const snap = await page.next('snapshot')
    assert.equal(snap.entities.length, 8)
    assert.equal(snap.entities.find((e) => e.id === 'xgnppfjxrk')?.owner, 'app')
    world.set(
      'newentity1',
      { transform: { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] } },
      'app',
    )
    const added = await page.next('entities')
    assert.deepEqual(
      added.changed.map((e) => e.id),
      ['newentity1'],
    )
    assert.deepEqual(added.removed, [])
    world.remove('newentity1')
    world.remove('xuibknuler')
    const removed = await page.next('entities')
    assert.deepEqual(removed.removed.sort(), ['newentity1', 'xuibknuler'])
    page.ws.close()
  })

  it('a poke from the page becomes point, poke true, poke false, point-exit from the hand, logged to every page', async () => {
    const page = new PageSocket(`${server.url.replace('http', 'ws')}ws`)
    await page.next('snapshot')
    hand.sent.length = 0
    page.send({ type: 'poke', entityId: 'xgnppfjxrk' })
    const logged: InteractionEntry[] = []
    while (logged.length < 4) logged.push(...(await page.next('interactions')).entries)
    assert.deepEqual(
      hand.sent.map((s) => [s.type, s.receiver, s.body[0], s.body[1] === true]),
      [
        ['oneway', 'xgnppfjxrk', 'point', false],
        ['request', 'xgnppfjxrk', 'poke', true],
        ['request', 'xgnppfjxrk', 'poke', false],
        ['oneway', 'xgnppfjxrk', 'point-exit', false],
      ],
    )
    assert.deepEqual(
      logged.map((m) => m.body),
      hand.sent.map((s) => s.body),
    )
    assert.equal(logged[0].toAgent, 'app')
    // The hand moved to the finger tip before pointing.
    assert.deepEqual(hand.poses.at(-1)?.grab, null)
    page.ws.close()
  })

  it('refuses to poke an entity without a collider, and ignores malformed messages', async () => {
    const page = new PageSocket(`${server.url.replace('http', 'ws')}ws`)
    await page.next('snapshot')
    hand.sent.length = 0
    page.ws.send('not json')
    page.send({ type: 'poke', entityId: 'mysnoxqwdb' })
    const notice = await page.next('notice')
    assert.match(notice.message, /mysnoxqwdb has no collider/)
    page.send({
      type: 'grab',
      entityId: 'xgnppfjxrk',
      hand: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
    })
    assert.match((await page.next('notice')).message, /not grabbable/)
    assert.deepEqual(hand.sent, [])
    page.ws.close()
  })

  it('a drag of a grabbable entity holds it in the hand pose, then releases it', async () => {
    const page = new PageSocket(`${server.url.replace('http', 'ws')}ws`)
    await page.next('snapshot')
    hand.poses.length = 0
    const handAt = (x: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, 1.2, -1.99, 1]
    page.send({ type: 'grab', entityId: 'mhrlypyhtn', hand: handAt(0) })
    page.send({ type: 'grab-move', hand: handAt(0.3) })
    page.send({ type: 'release' })
    // Messages on one socket are handled in order; a later poke marks the end.
    page.send({ type: 'poke', entityId: 'nope' })
    await page.next('notice')
    assert.equal(hand.poses.length, 3)
    assert.equal(hand.poses[0].grab?.entity, 'mhrlypyhtn')
    // grabber_from_entity: the surface (0, 1.2, -2) seen from the hand at (0, 1.2, -1.99).
    assert.deepEqual(
      hand.poses[0].grab?.grabber_from_entity_transform.slice(12).map((v) => Math.round(v * 1000) / 1000),
      [0, 0, -0.01, 1],
    )
    assert.deepEqual(hand.poses[1].hand?.[12], 0.3)
    assert.deepEqual(hand.poses[2], { hand: null, grab: null })
    page.ws.close()
  })

  it('a busy port and a missing page are user errors that say what to do', async () => {
    await assert.rejects(
      startViewServer({ world, hand, staticDir, port: server.port }),
      (err: Error) =>
        isUserError(err) && /already in use for the web view: pass another --view-port/.test(err.message),
    )
    await assert.rejects(
      startViewServer({ world, hand, staticDir: tempDir('assist-view-empty-') }),
      (err: Error) => isUserError(err) && /npm run build/.test(err.message),
    )
  })
})

describe('view server: who may connect', () => {
  it("accepts the page's own origin and non-browser clients, refuses other sites", async () => {
    const staticDir = tempDir('assist-view-static-')
    writeFile(`${staticDir}/index.html`, '<!doctype html>')
    const world = new RecordedWorld(
      JSON.parse(readFileSync(fixture('world-state-template-app.json'), 'utf8')),
    )
    const server = await startViewServer({ world, hand: new RecordingHand(), staticDir })
    const wsUrl = `${server.url.replace('http', 'ws')}ws`
    const outcome = (origin?: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(wsUrl, origin ? { origin } : {})
        ws.once('message', () => {
          resolve('snapshot')
          ws.close()
        })
        ws.once('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`))
        ws.once('error', () => resolve('error'))
      })
    try {
      assert.equal(await outcome(), 'snapshot')
      assert.equal(await outcome(server.url.slice(0, -1)), 'snapshot')
      assert.equal(await outcome('http://evil.example'), 'http 401')
    } finally {
      await server.close()
    }
  })
})

describe('view server: DNS rebinding (issue 20 #3)', () => {
  it('answers the page and the socket only under localhost, IP addresses and --allowed-host names', async () => {
    const staticDir = tempDir('assist-view-static-')
    writeFile(`${staticDir}/index.html`, '<!doctype html><title>view</title>')
    const world = new RecordedWorld(
      JSON.parse(readFileSync(fixture('world-state-template-app.json'), 'utf8')),
    )
    const server = await startViewServer({
      world,
      hand: new RecordingHand(),
      staticDir,
      allowedHosts: ['view.example'],
    })
    const port = server.port
    const wsUrl = `ws://127.0.0.1:${port}/ws`
    // The attack: evil.example now resolves to 127.0.0.1, so the browser sends its own name as Host
    // and, from the rebound page, a matching Origin.
    const socket = (host: string, origin?: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(wsUrl, { headers: { host }, ...(origin ? { origin } : {}) })
        ws.once('message', () => {
          resolve('snapshot')
          ws.close()
        })
        ws.once('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`))
        ws.once('error', () => resolve('error'))
      })
    const page = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
          let body = ''
          res.on('data', (d) => {
            body += d
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        })
        req.on('error', reject)
        req.end()
      })
    try {
      const evil = `evil.example:${port}`
      assert.equal(await socket(evil, `http://${evil}`), 'http 401', 'the rebound socket is refused')
      assert.equal(await socket(evil), 'http 401', 'also without an Origin')
      const refused = await page(evil)
      assert.equal(refused.status, 403)
      assert.match(refused.body, /Refused Host "evil\.example:\d+".*--allowed-host/)
      assert.doesNotMatch(refused.body, /<title>view/)

      for (const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `[::1]:${port}`,
        `View.Example.:${port}`,
      ]) {
        assert.equal((await page(host)).status, 200, host)
        assert.equal(await socket(host, `http://${host}`), 'snapshot', host)
      }
    } finally {
      await server.close()
    }
  })
})
