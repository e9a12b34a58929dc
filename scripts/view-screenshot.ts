/**
 * Regenerates the pictures of the web view in docs/ from the real code. Needs `npm run build` first
 * (the page's bundle) and /usr/bin/chromium (or ASSIST_CHROMIUM).
 *
 * - docs/view-template-app.png: the template app's scene as the real place recorded it
 *   (test/fixtures/view/world-state-template-app.json, a copy of
 *   alloverse/traces/world-state-template-app.json), with the quit button's texture (the asset
 *   bytes from the recorded session) and the Hello button selected in the inspector.
 * - docs/quickstart-hello.png: the quickstart, for real: the development place and its web view,
 *   examples/hello started through the launcher core as `assist run` starts it, and its button
 *   clicked in the 3D view like a hand (the app counts the poke on its label).
 *
 *   node --import tsx scripts/view-screenshot.ts [template|hello] [out.png]
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { startInstance } from '../src/core/launcher.js'
import type { Reporter } from '../src/core/output.js'
import { startPlace, startView } from '../src/core/place/run.js'
import { findProject } from '../src/core/project.js'
import { launchSpecFor } from '../src/core/runtimes/index.js'
import { RecordedWorld, RecordingHand } from '../src/core/view/recorded.js'
import { startViewServer } from '../src/core/view/server.js'
import { launchBrowser, openPage } from '../test/helpers/browser.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const which = process.argv[2]
if (which !== undefined && which !== 'template' && which !== 'hello') {
  console.error('✖ Usage: node --import tsx scripts/view-screenshot.ts [template|hello] [out.png]')
  process.exit(2)
}

/** Two animation frames, so what the page last changed is drawn. */
function settle(page: Page) {
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
}

async function templateApp(browser: Browser, out: string) {
  const state = JSON.parse(readFileSync(`${root}test/fixtures/view/world-state-template-app.json`, 'utf8'))
  const world = new RecordedWorld(state, {
    placeName: 'Standalone (recorded)',
    agentNames: { mhrlypyhtn: 'template-app' },
  })
  const hand = new RecordingHand([readFileSync(`${root}test/fixtures/view/quit.png`)])
  const server = await startViewServer({ world, hand, staticDir: `${root}dist/view` })
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
    await settle(page)
    await page.screenshot({ path: out })
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`)
  } finally {
    await server.close()
  }
}

async function quickstartHello(browser: Browser, out: string) {
  const output: string[] = []
  const reporter: Reporter = {
    info: (m) => output.push(m),
    warn: (m) => output.push(m),
    error: (m) => output.push(m),
    appLine: (tag, line) => output.push(`[${tag}] ${line}`),
  }
  const place = await startPlace({ host: '127.0.0.1', port: 0, reporter })
  const view = await startView(place, { view: { port: 0 }, reporter })
  const spec = launchSpecFor(findProject(`${root}examples/hello`), place.url)
  const app = await startInstance({ spec, tag: 'hello', onLine: (line) => output.push(`[hello] ${line}`) })
  try {
    if (!view) throw new Error('no web view')
    const { page, errors } = await openPage(browser, view.url, { width: 1280, height: 720 })
    const labelled = (text: string) =>
      page.waitForFunction(
        (t) => {
          const v = window.__assistView
          return v?.entities.some(
            (id) => (v.entity(id)?.components.text as { string?: string })?.string === t,
          )
        },
        text,
        { timeout: 30_000 },
      )
    await labelled('Hello!')
    // The button is the label's parent (the entity with the collider a hand presses).
    const button = await page.evaluate(() => {
      const v = window.__assistView
      const label = v.entities.find(
        (id) => (v.entity(id)?.components.text as { string?: string })?.string === 'Hello!',
      )
      const rel = label ? (v.entity(label)?.components.relationships as { parent?: string }) : undefined
      return rel?.parent ?? null
    })
    if (!button) throw new Error('the Hello! label has no parent button')
    await page.click('#frame')
    await settle(page)
    const p = await page.evaluate((id) => window.__assistView.screenPointOf(id), button)
    if (!p) throw new Error('the button is not on screen')
    // Press near the button's lower left corner (the page is 1280×720 and framed), so the hand
    // drawn there leaves the label readable; the check below fails if that missed the button.
    await page.mouse.click(p.x - 85, p.y + 45)
    await labelled('Hello × 1')
    await page.waitForFunction(() =>
      window.__assistView.log.some((e) => JSON.stringify(e.body).includes('poke')),
    )
    // Fold the inspector (the button's JSON) so the agents and the interaction log with the poke show.
    await page.click('#inspector-box > summary')
    await settle(page)
    await page.screenshot({ path: out })
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`)
    if (!output.includes('[hello] Hello! (1)'))
      throw new Error(`the app did not print Hello! (1):\n${output.join('\n')}`)
  } finally {
    await app.stop()
    await view?.close()
    await place.close()
  }
}

const browser = await launchBrowser()
try {
  if (which !== 'hello') {
    const out = (which && process.argv[3]) || `${root}docs/view-template-app.png`
    await templateApp(browser, out)
    console.log(`wrote ${out}`)
  }
  if (which !== 'template') {
    const out = (which && process.argv[3]) || `${root}docs/quickstart-hello.png`
    await quickstartHello(browser, out)
    console.log(`wrote ${out}`)
  }
} finally {
  await browser.close()
}
