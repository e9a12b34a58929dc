/**
 * The page in chromium against recorded worlds (the real place's states of the template app and
 * allo-clock): it draws every kind of thing those apps use — inline meshes, textures fetched
 * through the asset endpoint, text labels — with no console errors, and the inspector shows
 * components as formatted JSON.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { RecordedWorld, RecordingHand } from '../../../src/core/view/recorded.js'
import { startViewServer, type ViewServer } from '../../../src/core/view/server.js'
import { launchBrowser, openPage } from '../../helpers/browser.js'
import { ARTIFACTS, pageState, waitPage } from '../../helpers/view.js'

const fixture = (name: string) => new URL(`../../fixtures/view/${name}`, import.meta.url)
const QUIT_TEXTURE = 'asset:sha256:148b9563c22ca9fab3d1f8f29c4d45aa2da0a1b23a2be304e82395a1b18533c0'

describe('web view of recorded worlds, in chromium', () => {
  let browser: Browser
  const servers: ViewServer[] = []

  before(async () => {
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    for (const s of servers) await s.close()
  })

  async function show(
    file: string,
    assets: Buffer[] = [],
  ): Promise<{ page: Page; errors: string[]; world: RecordedWorld }> {
    const world = new RecordedWorld(JSON.parse(readFileSync(fixture(file), 'utf8')))
    const server = await startViewServer({ world, hand: new RecordingHand(assets) })
    servers.push(server)
    const { page, errors } = await openPage(browser, server.url)
    return { page, errors, world }
  }

  it('template app: surface and cubes as meshes, the quit texture through the asset relay', async () => {
    const { page, errors } = await show('world-state-template-app.json', [readFileSync(fixture('quit.png'))])
    await waitPage(page, (v, id) => v.assetsLoaded.includes(id), QUIT_TEXTURE)
    const s = await pageState(page)
    assert.equal(s.entities.length, 8)
    assert.deepEqual(
      Object.entries(s.rendered)
        .filter(([, k]) => k === 'inline')
        .map(([id]) => id)
        .sort(),
      ['mhrlypyhtn', 'mysnoxqwdb', 'rikhaamkxh'],
    )
    // Inspector: components as formatted JSON; a Poke button only with a collider.
    await page.click('[data-entity-id="rikhaamkxh"]')
    assert.equal(await page.locator('#poke').count(), 0)
    const json = (await page.locator('#components').textContent()) ?? ''
    assert.deepEqual(
      JSON.parse(json).material.color,
      [0.72549019607843, 0.56078431372549, 0.85490196078431, 1],
    )
    assert.match(json, /"matrix": \[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1\]/)
    await page.click('[data-entity-id="xgnppfjxrk"]')
    assert.equal(await page.locator('#poke').count(), 1)
    assert.deepEqual(errors, [])
  })

  it('allo-clock: text labels drawn, a missing asset reported without breaking the page', async () => {
    const { page, errors, world } = await show('world-state-allo-clock.json')
    await waitPage(page, (v) => v.entities.length === 25)
    // Nobody serves the two button textures here: they fail, and the buttons keep their colour.
    await waitPage(page, (v) => Object.keys(v.assetErrors).length === 2)
    // Two animation frames: the page has drawn the buttons without their textures.
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))')
    const s = await pageState(page)
    assert.ok(Object.values(s.rendered).includes('text'), 'the digital clock text')
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}view-allo-clock.png` })
    // The only console errors are the 404s of the assets nobody serves here.
    assert.ok(
      errors.every((e) => /404/.test(e)),
      errors.join('\n'),
    )
    // Changes are pushed: a removed entity disappears.
    const gone = s.entities.find((id) => id !== 'place')!
    world.remove(gone)
    await waitPage(page, (v, id) => !v.entities.includes(id), gone)
  })
})
