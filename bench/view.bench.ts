/**
 * The web view as a client of a place (`assist view URL`) next to the built-in place's in-process
 * view, on the same world in the same run: `assist place` (built CLI, its own process, with its
 * view) holds 1,000 entities owned by 50 agents (20 each, small inline boxes, spawned by this
 * process); chromium (Debian's, through playwright-core) opens one view or the other.
 *
 * - start-up: from starting `assist view URL` to the page's first frame with all 1,000 entities
 *   drawn; the anchor is the built-in view from opening its page (its server runs inside the place
 *   already). Also page open → first complete frame for both, with `assist view` already joined.
 * - under load: while the 50 agents change their 20 entities each 10×/s (change_components with a
 *   new transform, 10,000 changes/s wanted, at most one in flight per entity), animation frames per second in the page (how
 *   responsive it stays) and frames drawn per second (how often it shows a new world), each view
 *   in turn for the same window. VIEW_BENCH_HZ changes the rate, VIEW_BENCH_PER_AGENT the entities per
 * agent, VIEW_BENCH_STARTS the start-up repeats.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { AlloClient } from '../src/core/place/client.js'
import { launchBrowser } from '../test/helpers/browser.js'
import { median, printTable } from './lib.js'

const CLI = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const AGENTS = 50
const ENTITIES = Number(process.env.VIEW_BENCH_PER_AGENT ?? 20)
const STARTS = Number(process.env.VIEW_BENCH_STARTS ?? 3)
const WINDOW_MS = 5000
const HZ = Number(process.env.VIEW_BENCH_HZ ?? 10)

interface Cli {
  child: ChildProcess
  lines: string[]
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
}

/** Every process started, so that a failed run stops them too. */
const started = new Set<Cli>()

function cli(args: string[]): Cli {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  })
  const lines: string[] = []
  const waiters: Array<() => void> = []
  for (const s of [child.stdout, child.stderr]) {
    createInterface({ input: s as NodeJS.ReadableStream }).on('line', (l) => {
      lines.push(l)
      for (const w of waiters) w()
    })
  }
  const c: Cli = {
    child,
    lines,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const l of lines) {
            const m = re.exec(l)
            if (m) {
              clearTimeout(timer)
              resolve(m)
              return true
            }
          }
          return false
        }
        const timer = setTimeout(() => reject(new Error(`no ${re} in:\n${lines.join('\n')}`)), timeoutMs)
        if (!check()) waiters.push(check)
      })
    },
  }
  started.add(c)
  return c
}

function stop(c: Cli): Promise<void> {
  return new Promise((resolve) => {
    if (c.child.exitCode !== null) return resolve()
    c.child.once('exit', () => resolve())
    c.child.kill('SIGINT')
  })
}

const box = (s: number) => ({
  type: 'inline',
  vertices: [
    [-s, -s, s],
    [s, -s, s],
    [-s, s, s],
    [s, s, s],
    [-s, -s, -s],
    [s, -s, -s],
    [-s, s, -s],
    [s, s, -s],
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
})

const at = (x: number, y: number, z: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]

/** CPU seconds (user + system) a process has used so far, from /proc (Linux; 0 elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}

/** Opens `url` and resolves with the ms until a frame shows every id in `ids` drawn. */
async function firstCompleteFrame(
  browser: Browser,
  url: string,
  ids: string[],
): Promise<{ ms: number; page: Page }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  const t0 = performance.now()
  await page.goto(url)
  await page
    .waitForFunction(
      (want) => {
        const v = (globalThis as unknown as { __assistView?: { rendered: Record<string, string> } })
          .__assistView
        return v !== undefined && want.every((id) => v.rendered[id] === 'inline')
      },
      ids,
      { timeout: 120_000, polling: 'raf' },
    )
    .catch(async (err: Error) => {
      const seen = await page.evaluate(
        '(() => { const v = window.__assistView; return v && { rendered: Object.keys(v.rendered).length, status: v.statusText, messages: v.messages } })()',
      )
      throw new Error(`${url}: not every entity drawn (${JSON.stringify(seen)}): ${err.message}`)
    })
  // The frame that draws them: the next animation frame after the scene has them.
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => r()))')
  return { ms: performance.now() - t0, page }
}

/** Animation frames and drawn frames per second in the page over the window. */
interface Fps {
  raf: number
  drawn: number
  /** Messages from the view server applied per second. */
  messages: number
}

async function fps(page: Page, ms: number): Promise<Fps> {
  // A string: tsx's helpers (__name) do not exist in the page.
  return page.evaluate(`(async () => {
    const v = window.__assistView
    let rafs = 0
    let on = true
    function tick() {
      rafs++
      if (on) requestAnimationFrame(tick)
    }
    requestAnimationFrame(tick)
    const f0 = v.frames
    const m0 = v.messages
    const t0 = performance.now()
    await new Promise((r) => setTimeout(r, ${ms}))
    on = false
    const dt = (performance.now() - t0) / 1000
    return { raf: rafs / dt, drawn: (v.frames - f0) / dt, messages: (v.messages - m0) / dt }
  })()`) as Promise<Fps>
}

export default async function viewBench(): Promise<void> {
  const place = cli(['place', '--port', '0'])
  const clients: AlloClient[] = []
  let browser: Browser | undefined
  try {
    const placeUrl = (await place.waitFor(/listening on (alloplace:\/\/127\.0\.0\.1:\d+)/))[1]
    const builtInView = (await place.waitFor(/Web view: (http:\/\/127\.0\.0\.1:\d+\/)/))[1]
    const port = Number(placeUrl.split(':').at(-1))
    const owned = new Map<AlloClient, string[]>()
    for (let i = 0; i < AGENTS; i++) {
      const c = await AlloClient.connect(
        { host: '127.0.0.1', port },
        { trackState: false, requestTimeoutMs: 30_000, connectTimeoutMs: 10_000 },
      )
      await c.announce({ identity: { display_name: `agent ${i}` } })
      clients.push(c)
    }
    await Promise.all(
      clients.map(async (c, i) => {
        const ids: string[] = []
        for (let k = 0; k < ENTITIES; k++) {
          ids.push(
            await c.spawnEntity({
              transform: { matrix: at((i % 10) * 0.3 - 1.5, 0.3 + Math.floor(i / 10) * 0.3, -2 - k * 0.3) },
              geometry: box(0.05),
              material: { color: [0.3 + (i % 7) / 10, 0.5, 0.8 - (k % 5) / 10, 1] },
            }),
          )
        }
        owned.set(c, ids)
      }),
    )
    const ids = [...owned.values()].flat()
    browser = await launchBrowser()

    // ---- start-up -------------------------------------------------------------------------
    const startOurs: number[] = []
    const openOurs: number[] = []
    const openAnchor: number[] = []
    for (let run = 0; run < STARTS; run++) {
      const t0 = performance.now()
      const view = cli(['view', placeUrl])
      const url = (await view.waitFor(/Web view: (http:\/\/127\.0\.0\.1:\d+\/)/))[1]
      const { ms, page } = await firstCompleteFrame(browser, url, ids)
      startOurs.push(performance.now() - t0)
      void ms
      await page.close()
      const again = await firstCompleteFrame(browser, url, ids)
      openOurs.push(again.ms)
      await again.page.close()
      const anchor = await firstCompleteFrame(browser, builtInView, ids)
      openAnchor.push(anchor.ms)
      await anchor.page.close()
      await stop(view)
    }

    // ---- under load ------------------------------------------------------------------------
    const view = cli(['view', placeUrl])
    const url = (await view.waitFor(/Web view: (http:\/\/127\.0\.0\.1:\d+\/)/))[1]
    let sent = 0
    let answered = 0
    const inFlight = new Set<string>()
    // VIEW_BENCH_HZ=0: no changes (the world at rest).
    const timers = (HZ > 0 ? clients : []).map((c) =>
      setInterval(() => {
        const t = performance.now() / 1000
        for (const [k, id] of (owned.get(c) ?? []).entries()) {
          // At most one change per entity in flight: a place that falls behind is not buried under
          // a growing pile of requests (which would stall this process and time its agents out).
          if (inFlight.has(id)) continue
          inFlight.add(id)
          sent++
          c.request('place', [
            'change_components',
            id,
            'add_or_change',
            { transform: { matrix: at(Math.sin(t + k) * 1.5, 1 + Math.cos(t + k) * 0.5, -2 - k * 0.3) } },
            'remove',
            [],
          ]).then(
            () => {
              answered++
              inFlight.delete(id)
            },
            () => inFlight.delete(id),
          )
        }
      }, 1000 / HZ),
    )
    await new Promise((r) => setTimeout(r, 2000))
    const a0 = answered
    const tw = performance.now()
    const cpu0 = { view: cpuSeconds(view.child.pid), place: cpuSeconds(place.child.pid) }
    // One page open at a time (a page behind another gets no animation frames): ours, the
    // anchor, then once more each (the load drifts).
    const oursFps: Fps[] = []
    const anchorFps: Fps[] = []
    for (let i = 0; i < 2; i++) {
      for (const [target, out] of [
        [url, oursFps],
        [builtInView, anchorFps],
      ] as const) {
        const { page } = await firstCompleteFrame(browser, target, ids)
        out.push(await fps(page, WINDOW_MS))
        await page.close()
      }
    }
    const wall = (performance.now() - tw) / 1000
    const rate = (answered - a0) / wall
    const share = (k: 'view' | 'place', pid?: number) =>
      ((100 * (cpuSeconds(pid) - cpu0[k])) / wall).toFixed(0)
    const cpuNote = `CPU over the windows: assist view ${share('view', view.child.pid)}%, the place ${share('place', place.child.pid)}% of one core`
    for (const t of timers) clearInterval(t)
    await stop(view)
    void sent

    const med = (xs: Fps[], k: keyof Fps) => median(xs.map((x) => x[k]))
    const anchorName = "built-in place's in-process view"
    printTable(
      `Web view of a place as a client (assist view) vs the built-in view: ${AGENTS * ENTITIES} entities (machine load average ${loadavg()[0].toFixed(1)})`,
      [
        {
          metric: 'start → first complete frame (ms)',
          ours: median(startOurs),
          anchor: median(openAnchor),
          anchorName: `${anchorName}, page open →`,
          note: `ours from starting \`assist view URL\` (process, join, state, page); median of ${STARTS}: ${startOurs.map((x) => x.toFixed(0)).join(', ')}`,
        },
        {
          metric: 'page open → first complete frame (ms)',
          ours: median(openOurs),
          anchor: median(openAnchor),
          anchorName,
          note: `\`assist view\` already joined; anchor runs: ${openAnchor.map((x) => x.toFixed(0)).join(', ')}`,
        },
        {
          metric:
            HZ > 0
              ? `animation frames/s while ${AGENTS} agents change ${ENTITIES} entities each ${HZ}×/s`
              : 'animation frames/s, the world at rest',
          ours: med(oursFps, 'raf'),
          anchor: med(anchorFps, 'raf'),
          anchorName,
          note: `headless chromium, software WebGL; the place answered ${rate.toFixed(0)} changes/s of ${AGENTS * ENTITIES * HZ} wanted (at most one in flight per entity)`,
        },
        {
          metric: HZ > 0 ? 'frames drawn/s under that load' : 'frames drawn/s, the world at rest',
          ours: med(oursFps, 'drawn'),
          anchor: med(anchorFps, 'drawn'),
          anchorName,
          note: `a frame is drawn when the world changed (the place sends a state every 200 ms); view-server messages applied/s: ours ${med(oursFps, 'messages').toFixed(1)}, anchor ${med(anchorFps, 'messages').toFixed(1)}; ${cpuNote}`,
        },
      ],
    )
  } catch (err) {
    const dropped = place.lines.filter((l) => /disconnected \(timed out\)/.test(l)).length
    throw new Error(
      `${(err as Error).message}\n(the place timed out ${dropped} agents; ${clients.filter((c) => c.connected).length} of ${clients.length} bench agents still connected)`,
    )
  } finally {
    await browser?.close()
    await Promise.all(clients.map((c) => c.vanish().catch(() => {})))
    await Promise.all([...started].map(stop))
  }
}
