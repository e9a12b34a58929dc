/**
 * The web view's glTF path, in a real browser (Debian's chromium via playwright-core): a test app
 * (our client) serves a .glb we generate (test/helpers/glb.ts) and publishes an entity whose
 * geometry is that asset; the page must ask the view server for it, the view's agent must fetch it
 * through the place's asset relay from the app, and three's GLTFLoader must turn it into a mesh with
 * the fixture's vertex count and colour (screenshot in test-artifacts/view-gltf.png). An asset
 * nobody has ends as a reported asset error, not a broken page.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import * as THREE from 'three'
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js'
import { ASSET_DATA, decodeAsset } from '../../../src/core/place/asset-wire.js'
import { CHANNEL } from '../../../src/core/place/transport.js'
import { assetIdOf } from '../../../src/core/view/recorded.js'
import { boxMesh, encodeGlb } from '../../helpers/glb.js'
import { ARTIFACTS, at, liveViewSuite, type PageView, waitPage } from '../../helpers/view.js'

const BOX = boxMesh(0.5, 0.3, 0.2, [1, 0.4, 0, 1])
const GLB = encodeGlb(BOX)

/** The colour at a page point, read back from the WebGL canvas (it keeps its drawing buffer) through a 2D canvas. */
function pixelAt(page: Page, p: { x: number; y: number }): Promise<number[]> {
  return page.evaluate(({ x, y }) => {
    interface Canvas {
      width: number
      height: number
      getBoundingClientRect(): { left: number; top: number; width: number }
      getContext(kind: '2d'): {
        drawImage(src: Canvas, x: number, y: number): void
        getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> }
      }
    }
    const doc = (
      globalThis as unknown as {
        document: { getElementById(id: string): Canvas; createElement(tag: 'canvas'): Canvas }
      }
    ).document
    const gl = doc.getElementById('scene')
    const rect = gl.getBoundingClientRect()
    const c = doc.createElement('canvas')
    c.width = gl.width
    c.height = gl.height
    const ctx = c.getContext('2d')
    ctx.drawImage(gl, 0, 0)
    const k = gl.width / rect.width
    const px = ctx.getImageData(Math.round((x - rect.left) * k), Math.round((y - rect.top) * k), 1, 1)
    return Array.from(px.data)
  }, p)
}

describe('the .glb fixture', () => {
  it('is valid glTF 2.0 binary that three.js parses (in Node) into the box: 24 vertices, 36 indices', async () => {
    assert.equal(GLB.toString('latin1', 0, 4), 'glTF')
    assert.equal(GLB.readUInt32LE(4), 2)
    assert.equal(GLB.readUInt32LE(8), GLB.length)
    const ab = GLB.buffer.slice(GLB.byteOffset, GLB.byteOffset + GLB.length) as ArrayBuffer
    const gltf = await new GLTFLoader().parseAsync(ab, '')
    const meshes: THREE.Mesh[] = []
    gltf.scene.traverse((o) => {
      if (o instanceof THREE.Mesh) meshes.push(o)
    })
    assert.equal(meshes.length, 1)
    assert.equal(meshes[0].geometry.getAttribute('position').count, 24)
    assert.equal(meshes[0].geometry.index?.count, 36)
  })
})

describe('web view: an entity whose geometry is a glTF asset, in chromium', () => {
  const pageAssetRequests: string[] = []
  /** Asset data messages the app sent (answers to the place's requests). */
  const appSaw = { data: 0 }
  let model: string
  let missing: string
  const glbId = assetIdOf(GLB)
  const missingId = assetIdOf(Buffer.from('no agent has these bytes'))

  const live = liveViewSuite({
    app: { name: 'model-app', avatar: { transform: { matrix: at(0, 0, 0) } } },
    async setup({ app }) {
      assert.equal(app.serveAsset(GLB), glbId)
      // Spy (not a mock) on the app's asset channel: what the place asked it for and what it sent back.
      const sendRaw = app.sendRaw.bind(app)
      app.sendRaw = (channel, data, reliable) => {
        if (channel === CHANNEL.assets) {
          const m = decodeAsset(Buffer.from(data as Uint8Array))
          if (typeof m !== 'string' && m.mid === ASSET_DATA && m.header.id === glbId) appSaw.data++
        }
        return sendRaw(channel, data, reliable)
      }
      model = await app.spawnEntity({
        transform: { matrix: at(0, 1.2, -2) },
        geometry: { type: 'asset', name: glbId },
        collider: { type: 'box', width: 0.5, height: 0.3, depth: 0.2 },
      })
      missing = await app.spawnEntity({
        transform: { matrix: at(0.8, 1.2, -2) },
        geometry: { type: 'asset', name: missingId },
      })
    },
    beforeLoad(page) {
      page.on('request', (r) => {
        if (new URL(r.url()).pathname.startsWith('/asset/')) pageAssetRequests.push(r.url())
      })
    },
  })

  it('fetches the model through the place and draws its mesh', async () => {
    const { page } = live
    await waitPage(page, (v, id) => v.assetsLoaded.includes(id as string), glbId)
    const meshes = await page.evaluate(
      (id) => (globalThis as unknown as { __assistView: PageView }).__assistView.meshesOf(id),
      model,
    )
    assert.deepEqual(
      meshes.map((m) => [m.vertices, m.indices]),
      [[24, 36]],
      'one mesh, with the fixture box: 24 vertices, 36 indices',
    )
    // baseColorFactor [1, 0.4, 0, 1] is linear; three shows it as sRGB #ffaa00.
    assert.equal(meshes[0].color, `#${new THREE.Color().setRGB(1, 0.4, 0).getHexString()}`)
    const rendered = await page.evaluate(
      (id) => (globalThis as unknown as { __assistView: PageView }).__assistView.rendered[id],
      model,
    )
    assert.equal(rendered, 'asset')
    assert.ok(
      pageAssetRequests.some((u) => u.endsWith(`/asset/${encodeURIComponent(glbId)}`)),
      `the page asked the view server for the asset: ${pageAssetRequests}`,
    )
    assert.ok(
      appSaw.data >= 1,
      'the app answered the place with the bytes: the view got them through the place',
    )
    // The model is on screen: the pixel at its centre is the box's orange, not the background.
    const p = await page.evaluate(
      (id) => (globalThis as unknown as { __assistView: PageView }).__assistView.screenPointOf(id),
      model,
    )
    assert.ok(p, 'the model has a screen position')
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}view-gltf.png` })
    const [r, g, b] = await pixelAt(page, p)
    assert.ok(
      r > 150 && r > b + 80 && g > b,
      `orange-ish box at the model's centre, got rgb(${r}, ${g}, ${b})`,
    )
  })

  it('an asset no agent has becomes an asset error for that entity; the page keeps working', async () => {
    const { page, errors } = live
    await waitPage(page, (v, id) => id in v.assetErrors, missingId)
    const state = await page.evaluate(
      ([id, m]) => {
        const v = (globalThis as unknown as { __assistView: PageView }).__assistView
        return { error: v.assetErrors[id], rendered: v.rendered[m] }
      },
      [missingId, missing],
    )
    assert.match(state.error, new RegExp(`model of ${missing}`))
    assert.equal(state.rendered, 'asset')
    // The only console errors are the browser's own line for the failed request.
    assert.deepEqual(
      errors.filter((e) => !/Failed to load resource/.test(e)),
      [],
    )
  })
  it("the page's own hand is drawn (a palm and a finger), though its entity has no geometry", async () => {
    const { page, view } = live
    await waitPage(page, (v) => {
      const self = (v as unknown as { self: { handId: string | null } }).self
      return self.handId !== null && v.rendered[self.handId] === 'hand'
    })
    const { handId, meshes, components } = await page.evaluate(() => {
      const v = (globalThis as unknown as { __assistView: PageView & { self: { handId: string } } })
        .__assistView
      const id = v.self.handId
      return { handId: id, meshes: v.meshesOf(id), components: v.entity(id)?.components }
    })
    assert.equal(handId, view.hand.handId)
    assert.equal(components?.geometry, undefined, 'the place entity stays without geometry')
    assert.equal(meshes.length, 2)
    // Step back (mouse wheel: the orbit controls dolly out) until the hand, in front of where a
    // visitor stands, is in view too; then its pixel is the hand's light blue.
    const canvas = page.locator('#scene')
    const box = await canvas.boundingBox()
    assert.ok(box)
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
    for (let i = 0; i < 8; i++) await page.mouse.wheel(0, 400)
    await waitPage(
      page,
      (v, id) => {
        const p = v.screenPointOf(id as string)
        return p !== null && p.x > 0 && p.y > 40 && p.x < 860 && p.y < 800
      },
      handId,
    )
    await page.screenshot({ path: `${ARTIFACTS}view-gltf-hand.png` })
    const p = await page.evaluate(
      (id) => (globalThis as unknown as { __assistView: PageView }).__assistView.screenPointOf(id),
      handId,
    )
    assert.ok(p)
    const [r, , b] = await pixelAt(page, p)
    assert.ok(b > 150 && b > r + 50, `the hand's light blue at its centre, got rgb ${r}…${b}`)
  })
})
