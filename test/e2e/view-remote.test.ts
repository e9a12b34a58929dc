/**
 * `assist view alloplace://…`: the web view as a client of a place in another process. The place
 * is `assist place` (real UDP ENet, its own process, not constructed by the test); the app that owns
 * the entities and a second, observing client are real allonet clients in this process; the view is
 * the built CLI; the page runs in Debian's chromium through playwright-core. Checked: the page shows
 * every entity the second client sees (textures fetched over the asset channel), Poke and a click
 * reach the owning app as point → poke true → poke false → point-exit from the view's hand, a drag
 * moves a grabbable entity, the place restarting shows "reconnecting" and then the new world, the
 * page title follows the place's name, and Ctrl-C leaves the place cleanly.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { AlloClient, type Interaction } from '../../src/core/place/client.js'
import { launchBrowser, openPage } from '../helpers/browser.js'
import { CliProcess, killAllCli, runCli } from '../helpers/cli.js'
import { buttonSpec, type PageView, quadGeometry, surfaceSpec, waitPage } from '../helpers/view.js'

const VIEW_URL = /Web view: (http:\/\/127\.0\.0\.1:\d+\/)/
const PLACE_URL = /listening on alloplace:\/\/127\.0\.0\.1:(\d+)/
const png = readFileSync(new URL('../fixtures/view/quit.png', import.meta.url))

function startPlace(port: number | 0): CliProcess {
  return new CliProcess(['place', '--port', String(port), '--no-view', '--name', 'Remote test'])
}

async function joinApp(
  port: number,
): Promise<{ app: AlloClient; surface: string; hello: string; quit: string }> {
  const app = await AlloClient.connect({ host: '127.0.0.1', port })
  await app.announce({ identity: { display_name: 'remote-app' }, avatar: surfaceSpec() })
  const surface = app.avatarId!
  const texture = app.serveAsset(png)
  const hello = await app.spawnEntity({
    ...buttonSpec(-0.2, [0.7, 0.5, 0.9, 1], 'Hello!'),
    relationships: { parent: surface },
  })
  const quit = await app.spawnEntity({
    ...buttonSpec(0.25, [0.9, 0.3, 0.3, 1], 'Quit'),
    material: { color: [1, 1, 1, 1], texture },
    geometry: quadGeometry(0.1, 0.1, 0.06),
    relationships: { parent: surface },
  })
  return { app, surface, hello, quit }
}

const view = (page: Page) =>
  page.evaluate(() => {
    const g = globalThis as unknown as { __assistView: PageView; document: { title: string } }
    const v = g.__assistView
    return {
      entities: v.entities,
      self: v.self,
      statusText: v.statusText,
      placeStatus: v.placeStatus,
      title: g.document.title,
      source: v.source,
    }
  })

describe('assist view alloplace://… against assist place in another process', () => {
  let place: CliProcess
  let port: number
  let viewer: CliProcess
  let url: string
  let browser: Browser
  let page: Page
  let errors: string[]
  let app: AlloClient
  let observer: AlloClient
  let ids: { surface: string; hello: string; quit: string }
  const got: Interaction[] = []

  before(async () => {
    place = startPlace(0)
    await place.waitFor(PLACE_URL)
    port = Number(PLACE_URL.exec(place.output)![1])
    const joined = await joinApp(port)
    app = joined.app
    ids = joined
    app.on('interaction', (i) => got.push(i))
    observer = await AlloClient.connect({ host: '127.0.0.1', port })
    await observer.announce({ identity: { display_name: 'observer' } })
    viewer = new CliProcess(['view', `alloplace://127.0.0.1:${port}`, '--name', 'remote view'])
    await viewer.waitFor(VIEW_URL)
    url = VIEW_URL.exec(viewer.output)![1]
    browser = await launchBrowser()
    ;({ page, errors } = await openPage(browser, url))
  })

  after(async () => {
    await browser?.close()
    await app?.disconnect().catch(() => {})
    await observer?.disconnect().catch(() => {})
    await killAllCli()
  })

  it('shows every entity a second client sees, with the texture fetched over the asset channel', async () => {
    await viewer.waitFor(/Joined "Remote test" at alloplace:\/\/127\.0\.0\.1:\d+ as "remote view"/)
    // Everything the observer sees once the view's own agent is in the place too.
    await waitPage(page, (v) => v.statusText === 'live' && v.self.handId !== null)
    const mine = (await view(page)).self
    const seen = await observer.waitForState(
      (s) => mine.handId !== null && mine.handId in s.entities && ids.quit in s.entities,
    )
    const want = Object.keys(seen.entities)
    assert.ok(want.length >= 11, `place, app (7), view (2), observer: ${want}`)
    await waitPage(page, (v, w) => w.every((id) => v.entities.includes(id)), want)
    await waitPage(page, (v, id) => v.rendered[id] === 'inline', ids.surface)
    await waitPage(page, (v, id) => v.assetsLoaded.length > 0 && v.rendered[id] === 'inline', ids.quit)
    const s = await view(page)
    assert.equal(s.title, 'Remote test · allo-assist', 'the page title follows the place name')
    assert.deepEqual(s.source, { kind: 'remote', url: `alloplace://127.0.0.1:${port}` })
    // Owners a client can know: the root of each tree.
    const row = page.locator(`[data-entity-id="${ids.hello}"]`)
    assert.equal(await row.locator('.owner').textContent(), 'app')
    assert.equal(await page.locator(`[data-entity-id="${mine.handId}"] .owner`).textContent(), 'remote view')
    assert.deepEqual(errors, [])
  })

  it('the Poke button makes the owning app receive point → poke true → poke false → point-exit from the hand', async () => {
    const { handId } = (await view(page)).self
    const from = got.length
    await page.click(`[data-entity-id="${ids.hello}"]`)
    await page.waitForSelector('#poke')
    await page.click('#poke')
    const seq = await nextFour(app, got, from, ids.hello)
    assert.deepEqual(
      seq
        .map((i) => [i.type, i.body])
        .map(([t, b]) => [t, (b as unknown[])[0], (b as unknown[])[1] === true]),
      [
        ['oneway', 'point', false],
        ['request', 'poke', true],
        ['request', 'poke', false],
        ['oneway', 'point-exit', false],
      ],
    )
    assert.ok(
      seq.every((i) => i.sender === handId),
      'all from the view’s hand entity',
    )
    // The page's log holds what the view's own hand sent.
    await waitPage(page, (v, id) => v.log.filter((e) => e.to === id).length >= 4, ids.hello)
  })

  it('a click on a collider in the 3D view sends the same press', async () => {
    const from = got.length
    const p = await page.evaluate(
      (id) => (globalThis as unknown as { __assistView: PageView }).__assistView.screenPointOf(id),
      ids.hello,
    )
    assert.ok(p)
    await page.mouse.click(p.x, p.y)
    const seq = await nextFour(app, got, from, ids.hello)
    assert.deepEqual(
      seq.map((i) => (i.body as unknown[])[0]),
      ['point', 'poke', 'poke', 'point-exit'],
    )
  })

  it('dragging the grabbable surface moves it (the place applies the grab)', async () => {
    const x0 = (observer.state.entities[ids.surface].components.transform as { matrix: number[] }).matrix[12]
    const p = await page.evaluate(
      (id) => (globalThis as unknown as { __assistView: PageView }).__assistView.screenPointOf(id),
      ids.surface,
    )
    assert.ok(p)
    // Start below the buttons, on the surface itself.
    const y = p.y + 40
    await page.mouse.move(p.x, y)
    await page.mouse.down()
    for (let i = 1; i <= 10; i++) await page.mouse.move(p.x + i * 12, y)
    await observer.waitForState((s) => {
      const t = s.entities[ids.surface]?.components.transform as { matrix: number[] } | undefined
      return t !== undefined && t.matrix[12] > x0 + 0.05
    }, 20_000)
    await page.mouse.up()
  })

  it('the place restarting shows "reconnecting", then the new world', async () => {
    const before = (await view(page)).self.avatarId
    place.signal('SIGINT')
    await place.closed
    await waitPage(page, (v) => v.statusText === 'reconnecting to the place…')
    // The old world stays visible meanwhile (dimmed).
    assert.ok((await view(page)).entities.includes(ids.hello))
    await app.disconnect().catch(() => {})
    await observer.disconnect().catch(() => {})
    place = startPlace(port)
    await place.waitFor(PLACE_URL)
    const joined = await joinApp(port)
    app = joined.app
    ids = joined
    await waitPage(
      page,
      (v, [a, b]) =>
        v.statusText === 'live' && v.entities.includes(a as string) && !v.entities.includes(b as string),
      [ids.hello, before],
    )
    await viewer.waitFor((out) => (out.match(/Joined "Remote test"/g) ?? []).length >= 2)
    assert.match(viewer.output, /Lost the place/)
    assert.deepEqual(errors, [])
  })

  it('Ctrl-C leaves the place cleanly (the place sees a disconnect, not a timeout)', async () => {
    viewer.signal('SIGINT')
    const { code } = await viewer.closed
    assert.equal(code, 0)
    assert.match(viewer.output, /Left the place\./)
    await place.waitFor(/disconnected: "remote view"/)
    assert.doesNotMatch(place.output, /disconnected \(timed out\): "remote view"/)
  })
})

async function nextFour(app: AlloClient, got: Interaction[], from: number, receiver: string) {
  const mine = () => got.slice(from).filter((i) => i.receiver === receiver)
  while (mine().length < 4) await app.waitForInteraction((i) => i.receiver === receiver, 20_000)
  return mine().slice(0, 4)
}

describe('assist view: mistakes are one-line errors', () => {
  it('a bad URL, an unknown host, bad --identity', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['view', 'http://localhost'], /Invalid place URL "http:\/\/localhost": the scheme is "http:"/],
      [['view', 'alloplace://no-such-host.invalid'], /Cannot find the place's host "no-such-host.invalid"/],
      [['view', 'alloplace://localhost', '--identity', '{nope'], /--identity is not valid JSON/],
      [['view', 'alloplace://localhost', '--identity', '[1]'], /--identity must be a JSON object/],
      [['view', 'alloplace://[::1]'], /IPv4 only/],
      [['run', 'alloplace://localhost', '--no-view', '--open'], /--no-view turns the web view off/],
    ]
    for (const [args, re] of cases) {
      const r = await runCli(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, re)
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    }
  })
})
