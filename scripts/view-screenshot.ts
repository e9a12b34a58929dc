/**
 * Regenerates docs/view-template-app.png: the web view showing the template app's scene as the
 * real place recorded it (test/fixtures/view/world-state-template-app.json, a copy of
 * alloverse/traces/world-state-template-app.json), with the quit button's texture (the asset
 * bytes from the recorded session). Needs `npm run build` first and /usr/bin/chromium.
 *
 *   node --import tsx scripts/view-screenshot.ts [out.png]
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { RecordedWorld, RecordingHand } from '../src/core/view/recorded.js'
import { startViewServer } from '../src/core/view/server.js'
import { launchBrowser, openPage } from '../test/helpers/browser.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = process.argv[2] ?? `${root}docs/view-template-app.png`
const state = JSON.parse(readFileSync(`${root}test/fixtures/view/world-state-template-app.json`, 'utf8'))
const world = new RecordedWorld(state, {
  placeName: 'Standalone (recorded)',
  agentNames: { mhrlypyhtn: 'template-app' },
})
const hand = new RecordingHand([readFileSync(`${root}test/fixtures/view/quit.png`)])
const server = await startViewServer({ world, hand, staticDir: `${root}dist/view` })
const browser = await launchBrowser()
try {
  const { page, errors } = await openPage(browser, server.url, { width: 1280, height: 720 })
  await page.waitForFunction(
    () => window.__assistView?.assetsLoaded.length > 0 && window.__assistView.entities.length === 8,
    undefined,
    { timeout: 30_000 },
  )
  // Select the "Hello!" button so the inspector shows a Poke button and its components.
  await page.click('[data-entity-id="xgnppfjxrk"]')
  await page.waitForSelector('#poke')
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
  await page.screenshot({ path: out })
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`)
  console.log(`wrote ${out}`)
} finally {
  await browser.close()
  await server.close()
}
