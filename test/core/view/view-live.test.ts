/**
 * The web view against a live place, in a real browser (Debian's chromium via playwright-core):
 * a test app owns a surface with two buttons; the page must show them (state + screenshot in
 * test-artifacts/), a click in the 3D view and the inspector's Poke button must each reach the
 * app as point → poke true → poke false from the view's hand, and entities the app removes (or
 * all of them, when it leaves) disappear.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { AlloClient, Interaction } from '../../../src/core/place/client.js'
import { connectClient } from '../../helpers/place.js'
import {
  ARTIFACTS,
  buttonSpec,
  liveViewSuite,
  pageState,
  screenPoint,
  surfaceSpec,
  waitPage,
} from '../../helpers/view.js'

/** Collects what the app receives, so a test can wait for the next three interactions to one entity. */
function recorder(app: AlloClient) {
  const got: Interaction[] = []
  app.on('interaction', (i) => got.push(i))
  return {
    got,
    async nextN(receiver: string, from: number, n: number): Promise<Interaction[]> {
      const mine = () => got.slice(from).filter((i) => i.receiver === receiver)
      while (mine().length < n) await app.waitForInteraction((i) => i.receiver === receiver, 20_000)
      return mine().slice(0, n)
    },
  }
}

describe('web view of a live place, in chromium', () => {
  let surface: string
  let hello: string
  let quit: string
  let rec: ReturnType<typeof recorder>
  const live = liveViewSuite({
    app: { name: 'test-app', avatar: surfaceSpec() },
    async setup({ app }) {
      surface = app.avatarId!
      hello = await app.spawnEntity({
        ...buttonSpec(-0.2, [0.7, 0.5, 0.9, 1], 'Hello!'),
        relationships: { parent: surface },
      })
      quit = await app.spawnEntity({
        ...buttonSpec(0.25, [0.9, 0.3, 0.3, 1], 'Quit'),
        relationships: { parent: surface },
      })
      rec = recorder(app)
    },
  })

  it('shows every entity of the app in the tree and the 3D view, with owner names', async () => {
    const { page, place, errors } = live
    await waitPage(page, (v, ids) => ids.every((id) => v.entities.includes(id) && id in v.rendered), [
      surface,
      hello,
      quit,
    ])
    // The page's own agent joins the place when the page connects.
    await waitPage(page, (v) => v.agents.some((a) => a.self))
    const s = await pageState(page)
    assert.equal(s.connected, true)
    // The page title and header follow the place's name (the suite's place is "Test place").
    assert.equal(await page.title(), 'Test place · allo-assist')
    assert.equal(await page.locator('#place-name').textContent(), 'Test place')
    const appEntities = place.snapshot().entities.filter((e) => e.ownerName === 'test-app')
    assert.equal(appEntities.length, 7, 'surface + 2 × (button, cube, label)')
    for (const e of appEntities) assert.ok(s.entities.includes(e.id), `${e.id} in the tree`)
    const kinds = Object.values(s.rendered)
    assert.equal(kinds.filter((k) => k === 'text').length, 2, 'two labels drawn as text')
    assert.equal(kinds.filter((k) => k === 'inline').length, 3, 'surface + two cubes drawn as meshes')
    // Tree rows carry the id and the owning agent's name.
    const row = page.locator(`[data-entity-id="${hello}"]`)
    assert.equal(await row.locator('.id').textContent(), hello)
    assert.equal(await row.locator('.owner').textContent(), 'test-app')
    // Agents: the app and the page's own agent.
    assert.deepEqual(s.agents.map((a) => a.name).sort(), ['test-app', 'web view'])
    assert.equal(s.agents.find((a) => a.self)?.name, 'web view')
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}view-live.png` })
    assert.deepEqual(errors, [])
  })

  it('a click on a button in the 3D view selects it and pokes it like a hand: point, poke true, poke false, point-exit', async () => {
    const { page, view, place } = live
    const from = rec.got.length
    const p = await screenPoint(page, hello)
    assert.ok(p, 'the button is on screen')
    await page.mouse.click(p.x, p.y)
    const [point, down, up, exit] = await rec.nextN(hello, from, 4)
    const handId = view.hand.handId
    assert.ok(handId)
    // Everything the app got since the click, for the message if the sequence is not the expected one.
    const seen = JSON.stringify(
      rec.got
        .slice(from)
        .map((i) => [i.type, i.receiver === hello ? 'hello' : i.receiver, i.body, i.sender === handId]),
    )
    assert.equal(point.type, 'oneway', seen)
    assert.equal((point.body as unknown[])[0], 'point', seen)
    assert.equal(point.sender, handId, seen)
    assert.equal(down.type, 'request', seen)
    assert.deepEqual(down.body, ['poke', true], seen)
    assert.equal(down.sender, handId, seen)
    assert.equal(up.type, 'request', seen)
    assert.deepEqual(up.body, ['poke', false], seen)
    assert.equal(exit.type, 'oneway', seen)
    assert.deepEqual(exit.body, ['point-exit'], seen)
    assert.equal(exit.sender, handId, seen)
    // The finger tip is at arm's length from the viewer (the page's camera), well in front of the
    // button; and the hand entity stands there (pointing at it) when the press arrives, so that
    // alloui's popups (0.8 m beyond the hand) open in front of the app.
    const [tip, hit] = (point.body as [string, number[], number[]]).slice(1) as [number[], number[]]
    const camera = await page.evaluate(() =>
      (globalThis as unknown as { __assistView: { viewer(): number[] } }).__assistView.viewer(),
    )
    const dist = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2])
    assert.ok(
      Math.abs(dist(tip, camera) - 0.55) < 0.01,
      `tip ${tip} is arm's length from the camera ${camera}`,
    )
    assert.ok(dist(tip, hit) > 0.8, `the popup place (0.8 m beyond the tip) is still in front of the button`)
    const handNow = place.snapshot().entities.find((e) => e.id === handId)!
    const hm = (handNow.components.transform as { matrix: number[] }).matrix
    assert.ok(dist(hm.slice(12, 15), tip) < 0.01, `the hand entity is at the tip: ${hm.slice(12, 15)}`)
    assert.equal((await pageState(page)).selected, hello)
    // The page's interaction log shows them too (reported by the place).
    await waitPage(
      page,
      (v, id) => v.log.filter((e) => e.to === id && JSON.stringify(e.body).includes('poke')).length >= 2,
      hello,
    )
  })

  it("the inspector's Poke button sends the same sequence to the selected entity", async () => {
    const { page, view } = live
    await page.click(`[data-entity-id="${quit}"]`)
    await page.waitForSelector('#poke')
    const from = rec.got.length
    await page.click('#poke')
    const got = await rec.nextN(quit, from, 4)
    assert.deepEqual(
      got.map((i) => [i.type, ...(i.body as unknown[]).slice(0, 1), (i.body as unknown[])[1] === true]),
      [
        ['oneway', 'point', false],
        ['request', 'poke', true],
        ['request', 'poke', false],
        ['oneway', 'point-exit', false],
      ],
    )
    assert.ok(got.every((i) => i.sender === view.hand.handId))
    await waitPage(page, (v, id) => v.log.filter((e) => e.to === id).length >= 4, quit)
    await page.screenshot({ path: `${ARTIFACTS}view-live-poked.png` })
  })

  it('dragging the grabbable surface grabs it with the hand, and the place moves it', async () => {
    const { page, place } = live
    const before = place.snapshot().entities.find((e) => e.id === surface)!
    const x0 = (before.components.transform as { matrix: number[] }).matrix[12]
    const p = await screenPoint(page, surface)
    assert.ok(p)
    await page.mouse.move(p.x, p.y)
    await page.mouse.down()
    for (let i = 1; i <= 10; i++) await page.mouse.move(p.x + i * 12, p.y)
    // The place applies the grab at its ticks; the page shows the moved surface once it has.
    await waitPage(
      page,
      (v, [id, x]) => {
        const t = v.entity(id as string)?.components.transform as { matrix: number[] } | undefined
        return t !== undefined && t.matrix[12] > (x as number) + 0.05
      },
      [surface, x0],
    )
    await page.mouse.up()
    const moved = place.snapshot().entities.find((e) => e.id === surface)!
    const m = (moved.components.transform as { matrix: number[] }).matrix
    assert.ok(m[12] > x0 + 0.05, `moved right: ${x0} → ${m[12]}`)
    assert.ok(Math.abs(m[13] - 1.2) < 0.05, 'dragged sideways, not up or down')
    const actions = await page.evaluate(() =>
      (
        globalThis as unknown as { __assistView: { actions: Array<{ type: string }> } }
      ).__assistView.actions.map((a) => a.type),
    )
    assert.deepEqual([actions.at(-1), actions.find((a) => a === 'grab')], ['release', 'grab'])
    assert.ok(!actions.slice(actions.indexOf('grab')).includes('poke'), 'a drag is not a poke')
  })

  it('entities the app removes disappear from the tree and the 3D view without a reload', async () => {
    const { page, errors, app } = live
    await app.removeEntity(quit)
    await waitPage(page, (v, id) => !v.entities.includes(id) && !(id in v.rendered), quit)
    const s = await pageState(page)
    assert.ok(s.entities.includes(hello))
    assert.equal(
      s.selected,
      null,
      `the removed entity is no longer selected (quit ${quit}, hello ${hello}, surface ${surface})`,
    )
    assert.equal(await page.locator(`[data-entity-id="${quit}"]`).count(), 0)
    assert.deepEqual(errors, [])
  })

  it('when the app leaves (a hot reload) its entities go, and the new ones appear', async () => {
    const { page, place, errors, transport } = live
    const old = place
      .snapshot()
      .entities.filter((e) => e.ownerName === 'test-app')
      .map((e) => e.id)
    await live.app.disconnect()
    await waitPage(page, (v, ids) => ids.every((id) => !v.entities.includes(id)), old)
    assert.ok((await pageState(page)).entities.includes('place'))
    live.app = await connectClient(place, transport, 'test-app', { avatar: surfaceSpec() })
    await waitPage(page, (v, id) => id in v.rendered, live.app.avatarId!)
    assert.deepEqual(errors, [])
  })
})
