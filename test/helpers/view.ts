/**
 * Helpers for the web view's tests: the transport the place runs on, the test app's entities, and
 * the place + app + view server + chromium that every live view test starts and tears down.
 */
import { after, before } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import type { AlloClient } from '../../src/core/place/client.js'
import type { Place, PlaceOptions } from '../../src/core/place/place.js'
import type { Transport } from '../../src/core/place/transport.js'
import { type PlaceView, startPlaceView } from '../../src/core/view/live.js'
import { launchBrowser, openPage } from './browser.js'
import { FakeNetwork } from './fake-enet.js'
import { connectClient, startTestPlace } from './place.js'

/**
 * The real UDP ENet transport when src/core/enet is present, else the in-memory stand-in (the
 * view and the browser are real either way; only the place's wire would be simulated).
 */
export async function viewTestTransport(): Promise<{ transport: Transport | undefined; real: boolean }> {
  try {
    const spec = '../../src/core/enet/index.js'
    const mod = (await import(spec)) as { EnetHost?: Transport }
    if (mod.EnetHost) return { transport: undefined, real: true }
  } catch {}
  return { transport: new FakeNetwork(), real: false }
}

const I = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
export const at = (x: number, y: number, z: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]

/** An inline box geometry of size w×h×d, like alloui's Cube. */
export function box(w: number, h: number, d: number): Record<string, unknown> {
  const [x, y, z] = [w / 2, h / 2, d / 2]
  return {
    type: 'inline',
    vertices: [
      [-x, -y, z],
      [x, -y, z],
      [-x, y, z],
      [x, y, z],
      [-x, -y, -z],
      [x, -y, -z],
      [-x, y, -z],
      [x, y, -z],
    ],
    uvs: [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ],
    triangles: [
      [0, 1, 2],
      [1, 3, 2],
      [2, 3, 6],
      [3, 7, 6],
      [1, 7, 3],
      [5, 7, 1],
      [5, 1, 0],
      [4, 5, 0],
      [4, 0, 2],
      [4, 2, 6],
      [4, 6, 5],
      [5, 6, 7],
    ],
  }
}

/** The test app's main view, like the template app's surface (grabbable, with a collider). */
/** An inline textured quad (two triangles) of half-size w × h at depth z, as alloui's views make. */
export function quadGeometry(w: number, h: number, z: number): Record<string, unknown> {
  return {
    type: 'inline',
    vertices: [
      [-w, -h, z],
      [w, -h, z],
      [-w, h, z],
      [w, h, z],
    ],
    uvs: [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ],
    triangles: [
      [0, 1, 3],
      [0, 3, 2],
    ],
  }
}

export function surfaceSpec(): Record<string, unknown> {
  return {
    transform: { matrix: at(0, 1.2, -2), size: [1, 0.5, 0.01] },
    ui: { view_id: 'surfaceview00001' },
    collider: { type: 'box', width: 1, height: 0.5, depth: 0.01 },
    grabbable: { grabbable: true },
    geometry: quadGeometry(0.5, 0.25, 0),
    material: { color: [0.9, 0.9, 0.95, 1] },
  }
}

/** A button: a collider with a coloured cube and a label, like alloui's Button. */
export function buttonSpec(x: number, color: number[], label: string): Record<string, unknown> {
  return {
    transform: { matrix: at(x, 0, 0.05), size: [0.2, 0.2, 0.1] },
    ui: { view_id: `button${label.padEnd(10, '0').slice(0, 10)}` },
    collider: { type: 'box', width: 0.2, height: 0.2, depth: 0.1 },
    children: [
      { transform: { matrix: I }, geometry: box(0.2, 0.2, 0.1), material: { color } },
      {
        transform: { matrix: at(0, 0, 0.058), size: [0.18, 0.14, 0.001] },
        text: { string: label, height: 0.07, width: 0.18, halign: 'center', valign: 'middle', wrap: false },
        material: { color: [1, 1, 1, 1] },
      },
    ],
  }
}

export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

export interface PageView {
  connected: boolean
  entities: string[]
  rendered: Record<string, string>
  selected: string | null
  agents: Array<{ id: string; name: string; self?: boolean }>
  log: Array<{ type: string; to: string; body: unknown }>
  screenPointOf(id: string): { x: number; y: number } | null
  entity(id: string): { components: Record<string, unknown> } | null
  assetsLoaded: string[]
  assetErrors: Record<string, string>
  meshesOf(id: string): Array<{ vertices: number; indices: number; color: string }>
  /** What the status badge says ("live", "reconnecting to the place…", …). */
  statusText: string
  placeStatus: string
  self: { agentId: string | null; avatarId: string | null; handId: string | null }
  source: { kind: string; url?: string } | null
  frames: number
}

export function pageState(page: Page) {
  return page.evaluate(() => {
    const v = (globalThis as unknown as { __assistView: PageView }).__assistView
    return {
      connected: v.connected,
      entities: v.entities,
      rendered: v.rendered,
      selected: v.selected,
      agents: v.agents,
      log: v.log,
    }
  })
}

export function screenPoint(page: Page, id: string) {
  return page.evaluate(
    (eid) => (globalThis as unknown as { __assistView: PageView }).__assistView.screenPointOf(eid),
    id,
  )
}

/**
 * Waits (in the page, re-checked on every animation frame) until `predicate(window.__assistView,
 * arg)` holds. The predicate runs in the browser: it may only use its two parameters.
 */
export async function waitPage<A>(
  page: Page,
  predicate: (view: PageView, arg: A) => unknown,
  arg?: A,
): Promise<void> {
  await page.waitForFunction(
    ([src, a]) => {
      const v = (globalThis as unknown as { __assistView?: unknown }).__assistView
      return v !== undefined && new Function('v', 'a', `return (${src})(v, a)`)(v, a)
    },
    [predicate.toString(), arg] as const,
    { timeout: 20_000 },
  )
}

/** Tears down a live view test in order: the browser, the view server, the app, then the place. */
export async function closeLive(parts: {
  browser?: { close(): Promise<void> }
  view?: { close(): Promise<void> }
  app?: { disconnect(): Promise<void> }
  place?: { close(): Promise<void> }
}): Promise<void> {
  await parts.browser?.close()
  await parts.view?.close()
  await parts.app?.disconnect().catch(() => {})
  await parts.place?.close()
}

/** The running parts of a live view test, filled in by liveViewSuite's before hook. */
export interface LiveView {
  transport: Transport | undefined
  place: Place
  /** The test app: joined as `app.name`, with `app.avatar` as its avatar. */
  app: AlloClient
  view: PlaceView
  browser: Browser
  page: Page
  /** The page's console errors and uncaught exceptions. */
  errors: string[]
}

/**
 * Registers, inside a describe, the before and after hooks of a live view test: a place on
 * viewTestTransport() (with `placeOptions`), the test app joined to it, `setup` (spawn the app's
 * entities), the view server, and chromium showing the view (`beforeLoad` sees the page before
 * it loads); afterwards closeLive. The returned parts are filled in when the before hook has run.
 */
export function liveViewSuite(opts: {
  placeOptions?: Partial<PlaceOptions>
  app: { name: string; avatar: Record<string, unknown> }
  setup?: (live: LiveView) => Promise<void>
  beforeLoad?: (page: Page) => void
}): LiveView {
  const live = {} as LiveView
  before(async () => {
    ;({ transport: live.transport } = await viewTestTransport())
    ;({ place: live.place } = await startTestPlace(live.transport, opts.placeOptions))
    live.app = await connectClient(live.place, live.transport, opts.app.name, { avatar: opts.app.avatar })
    await opts.setup?.(live)
    live.view = await startPlaceView({ place: live.place, transport: live.transport })
    live.browser = await launchBrowser()
    ;({ page: live.page, errors: live.errors } = await openPage(
      live.browser,
      live.view.url,
      undefined,
      opts.beforeLoad,
    ))
  })
  after(() => closeLive(live))
  return live
}
