/**
 * `assist view` against a malicious place: the place's own hostile-input cases (allonet-protocol.md
 * §7), turned around — broken JSON, wrong shapes, absurd nesting, parent cycles, garbage
 * components, huge texts and meshes, interactions with broken envelopes, an asset whose bytes do
 * not match its name or whose size is absurd. The place is a small allonet server written here on
 * the project's real UDP ENet; the view is the built CLI; the page runs in chromium. After all of
 * it the page has no errors, still draws, shows the entities that were fine, and the view process
 * is still running and live.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { EnetHost } from '../../src/core/enet/index.js'
import { ASSET_DATA, decodeAsset, encodeAsset } from '../../src/core/place/asset-wire.js'
import { cjsonPrint } from '../../src/core/place/json.js'
import { CHANNEL, type TransportPeer } from '../../src/core/place/transport.js'
import { launchBrowser, openPage } from '../helpers/browser.js'
import { CliProcess, killAllCli } from '../helpers/cli.js'
import { box, type PageView, waitPage } from '../helpers/view.js'

const VIEW_URL = /Web view: (http:\/\/127\.0\.0\.1:\d+\/)/
const I = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
const at = (x: number, y: number, z: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]
const AVATAR = 'viewavatar'
const HAND = 'viewhandid'
const sha = (b: Buffer) => `asset:sha256:${createHash('sha256').update(b).digest('hex')}`
/** What the texture's name promises, and the different bytes the place sends for it. */
const PROMISED = Buffer.from('the real texture')
const LIE = Buffer.from('something else entirely')
const BIG = sha(Buffer.from('a texture the place says is a terabyte'))

/** The view's own avatar and hand, which every state carries (ClientHand waits for them). */
function base(): Record<string, unknown> {
  return {
    place: { id: 'place', components: { transform: { matrix: I }, clock: { time: 1 } } },
    [AVATAR]: { id: AVATAR, components: { transform: { matrix: I } } },
    [HAND]: {
      id: HAND,
      components: {
        transform: { matrix: at(0.1, 1.2, -0.5) },
        relationships: { parent: AVATAR },
        intent: { actuate_pose: 'hand/right' },
      },
    },
  }
}

const ent = (id: string, components: unknown) => ({ [id]: { id, components } })
const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`

/** Hostile state messages (text on channel 2), in order; revisions count up from 10. */
function hostileStates(): string[] {
  let rev = 10
  const set = (entities: Record<string, unknown>) =>
    JSON.stringify({ entities: { ...base(), ...entities }, revision: rev++, patch_style: 'set' })
  return [
    '{"entities": ',
    '[1, 2, 3]',
    '{"entities": [], "revision": 5, "patch_style": "set"}',
    `{"entities": {}, "revision": "${rev++}", "patch_style": "set"}`,
    JSON.stringify({ entities: {}, revision: rev++, patch_style: 'merge', patch_from: 3 }),
    JSON.stringify({ entities: {}, revision: rev++, patch_style: 'teleport' }),
    set({ liar: { id: 'someoneelse', components: {} } }),
    `{"entities": {"deep": {"id": "deep", "components": {"x": ${deep(10_000)}}}}, "revision": ${rev++}, "patch_style": "set"}`,
    JSON.stringify({
      entities: { ...base(), x: { id: 'x', components: { transform: { matrix: I } } } },
      revision: rev++,
      patch_style: 'merge',
      patch_from: rev - 2,
    }),
    set({
      ...ent('stringcomps', 'not an object'),
      ...ent('nullcomps', null),
      ...ent('badvalues', { transform: 5, relationships: 'x', collider: [1], geometry: 'cube', text: 7 }),
      ...ent('badmatrix', { transform: { matrix: ['a', 1, 2] }, geometry: box(0.1, 0.1, 0.1) }),
      ...ent('farmatrix', { transform: { matrix: at(1e308, -1e308, 1e300) }, geometry: box(0.1, 0.1, 0.1) }),
      ...ent('cycle1', { relationships: { parent: 'cycle2' }, geometry: box(0.1, 0.1, 0.1) }),
      ...ent('cycle2', { relationships: { parent: 'cycle1' }, collider: { type: 'box', width: 1 } }),
      ...ent('selfparent', { relationships: { parent: 'selfparent' }, geometry: box(0.1, 0.1, 0.1) }),
      ...ent('garbagemesh', {
        geometry: {
          type: 'inline',
          vertices: [[0, 0], ['x', 1, 2], null, [1, 1, 1]],
          triangles: [[0, 1, 99], [-1, 2.5, 'a'], 7],
          uvs: 'no',
          normals: [[1]],
        },
      }),
      ...ent('hugetext', {
        transform: { matrix: at(0, 1, -3), size: [1e9, -5, 0] },
        text: { string: 'x\n'.repeat(100_000), height: -1, width: 1e12, halign: 5 },
      }),
      ...ent('badmaterial', {
        geometry: box(0.1, 0.1, 0.1),
        material: { color: 'red', texture: 'not-an-asset-id', roughness: 'yes' },
      }),
      ...ent('badasset', { geometry: { type: 'asset', name: '../../etc/passwd' } }),
      ...ent('__proto__', { geometry: box(0.1, 0.1, 0.1) }),
      ...ent('constructor', { geometry: box(0.1, 0.1, 0.1) }),
    }),
  ]
}

/** Hostile interactions (text on channel 1). */
const HOSTILE_INTERACTIONS = [
  '["interaction", "oneway", ',
  '{"interaction": true}',
  '["interaction", "request", "place"]',
  '["interaction", 5, 6, 7, 8, ["poke", true]]',
  `["interaction", "request", "x", "${HAND}", "r1", {"not": "an array"}]`,
  `["interaction", "oneway", "x", "${AVATAR}", "", [42, {"a": ${deep(10_000)}}]]`,
  `["interaction", "response", "place", "", "nobody-asked", ["spawn_entity", "zzz"]]`,
]

/** The last state: entities that are fine, among broken ones. */
function finalState(rev: number): string {
  return JSON.stringify({
    entities: {
      ...base(),
      ...ent('canary', {
        transform: { matrix: at(0, 1.2, -2) },
        geometry: box(0.4, 0.4, 0.1),
        collider: { type: 'box', width: 0.4, height: 0.4, depth: 0.1 },
        material: { color: [0.2, 0.8, 0.3, 1] },
      }),
      ...ent('liartexture', {
        transform: { matrix: at(0.6, 1.2, -2) },
        geometry: box(0.2, 0.2, 0.05),
        material: { color: [1, 1, 1, 1], texture: sha(PROMISED) },
      }),
      ...ent('bigtexture', {
        transform: { matrix: at(-0.6, 1.2, -2) },
        geometry: box(0.2, 0.2, 0.05),
        material: { color: [1, 1, 1, 1], texture: BIG },
      }),
      ...ent('cycle1', { relationships: { parent: 'cycle2' }, geometry: box(0.1, 0.1, 0.1) }),
      ...ent('cycle2', { relationships: { parent: 'cycle1' }, transform: { matrix: at(0, 0.5, -1) } }),
      ...ent('stringcomps', 'still not an object'),
    },
    revision: rev,
    patch_style: 'set',
  })
}

class HostilePlace {
  host!: EnetHost
  peers = new Set<TransportPeer>()
  revision = 2
  private timer?: NodeJS.Timeout

  async start(): Promise<number> {
    this.host = await EnetHost.listen({ host: '127.0.0.1', port: 0 })
    this.host.on('connect', (p: TransportPeer) => this.peers.add(p))
    this.host.on('disconnect', (p: TransportPeer) => this.peers.delete(p))
    this.host.on('receive', (p: TransportPeer, channel: number, data: Buffer) =>
      this.receive(p, channel, data),
    )
    // A plain world until the test turns hostile.
    this.timer = setInterval(() => this.broadcast(CHANNEL.statediffs, this.plain()), 200)
    return this.host.address.port
  }

  plain(): string {
    return JSON.stringify({ entities: base(), revision: this.revision++, patch_style: 'set' })
  }

  private receive(p: TransportPeer, channel: number, data: Buffer): void {
    const text = data.toString('utf8')
    if (channel === CHANNEL.commands && text.includes('"announce"')) {
      p.send(
        CHANNEL.commands,
        Buffer.from(
          cjsonPrint(['interaction', 'response', 'place', '', 'ANN0', ['announce', AVATAR, 'Hostile place']]),
        ),
        { reliable: true },
      )
    }
    if (channel === CHANNEL.clock)
      p.send(CHANNEL.clock, Buffer.from('{"client_time": "soon", "server_time": []}'))
    if (channel === CHANNEL.assets) {
      const m = decodeAsset(data)
      if (typeof m === 'string') return
      const id = String(m.header.id)
      if (id === BIG)
        p.send(
          CHANNEL.assets,
          encodeAsset(ASSET_DATA, { id, range: [0, 4], total_length: 1e12 }, Buffer.from('1234')),
          { reliable: true },
        )
      else
        p.send(
          CHANNEL.assets,
          encodeAsset(ASSET_DATA, { id, range: [0, LIE.length], total_length: LIE.length }, LIE),
          {
            reliable: true,
          },
        )
      // And some garbage on the asset channel.
      p.send(CHANNEL.assets, Buffer.from([0, 2, 0xff, 0xff, 1]), { reliable: true })
    }
  }

  broadcast(channel: number, text: string, reliable = false): void {
    for (const p of this.peers) p.send(channel, Buffer.from(text), { reliable })
  }

  /** Sends every hostile message, a few ms apart, then the final state on a slow tick. */
  async attack(): Promise<void> {
    clearInterval(this.timer)
    for (const text of hostileStates()) {
      this.broadcast(CHANNEL.statediffs, text)
      await new Promise((r) => setTimeout(r, 30))
    }
    for (const text of HOSTILE_INTERACTIONS) this.broadcast(CHANNEL.commands, text, true)
    this.broadcast(CHANNEL.clock, '{"server_time": 1e400}')
    this.broadcast(CHANNEL.audio, 'x')
    this.revision = 1000
    this.timer = setInterval(() => this.broadcast(CHANNEL.statediffs, finalState(this.revision++)), 200)
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.host.close()
  }
}

describe('assist view against a malicious place', () => {
  const place = new HostilePlace()
  let viewer: CliProcess
  let browser: Browser
  let page: Page
  let errors: string[]

  before(async () => {
    const port = await place.start()
    viewer = new CliProcess(['view', `alloplace://127.0.0.1:${port}`])
    await viewer.waitFor(VIEW_URL)
    browser = await launchBrowser()
    ;({ page, errors } = await openPage(browser, VIEW_URL.exec(viewer.output)![1]))
  })

  after(async () => {
    await browser?.close()
    await killAllCli()
    await place.close()
  })

  it('survives it all: no page errors, the page still draws, the fine entities are shown, the view stays live', async () => {
    await waitPage(page, (v) => v.statusText === 'live' && v.self.handId !== null)
    assert.equal(await page.title(), 'Hostile place · allo-assist')
    await place.attack()
    await waitPage(page, (v) => v.rendered.canary === 'inline' && v.entities.includes('cycle1'))
    // Both textures fail — one's bytes do not match its name, the other claims a terabyte — and
    // the surfaces are drawn in their plain colour instead.
    await waitPage(page, (v) => Object.keys(v.assetErrors).length >= 2)
    const before = await page.evaluate(
      () => (globalThis as unknown as { __assistView: PageView }).__assistView.frames,
    )
    // The page is not stuck: clicking the canary pokes (frames go on being drawn).
    const p = await page.evaluate(() =>
      (globalThis as unknown as { __assistView: PageView }).__assistView.screenPointOf('canary'),
    )
    const cam = await page.evaluate(() =>
      (globalThis as unknown as { __assistView: { viewer(): number[] } }).__assistView.viewer(),
    )
    assert.ok(p && Number.isFinite(p.x), `the canary is on screen: ${JSON.stringify(p)} camera ${cam}`)
    await page.mouse.click(p.x, p.y)
    await waitPage(page, (v, n) => v.frames > (n as number) && v.selected === 'canary', before)
    const s = await page.evaluate(() => {
      const v = (globalThis as unknown as { __assistView: PageView }).__assistView
      return { entities: v.entities, status: v.statusText, rendered: v.rendered }
    })
    assert.equal(s.status, 'live')
    assert.ok(!s.entities.includes('stringcomps'), 'an entity whose components are not an object is left out')
    // The cycle is cut for drawing and the tree: both entities are in the tree.
    assert.equal(await page.locator('[data-entity-id="cycle1"]').count(), 1)
    assert.equal(await page.locator('[data-entity-id="cycle2"]').count(), 1)
    assert.deepEqual(
      errors.filter((e) => !/Failed to load resource/.test(e)),
      [],
    )
    assert.equal(viewer.child.exitCode, null, `the view process is still running:\n${viewer.output}`)
    assert.doesNotMatch(viewer.output, /\n\s+at /, 'no stack trace')
  })
})
