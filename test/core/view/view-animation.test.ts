/**
 * Property animations in the web view, in a real browser (Debian's chromium via playwright-core):
 * an app's entity turns with a repeating `transform.matrix.rotation.y` animation; the page runs
 * the animation itself every frame at its estimate of the place's clock, so the drawn transform
 * changes from one frame to the next even while no state arrives (the place here sends states
 * only every 1.5 s). Screenshot in test-artifacts/view-animation.png.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { ARTIFACTS, at, box, liveViewSuite, waitPage } from '../../helpers/view.js'

interface Sample {
  messages: number
  frames: number
  matrix: number[] | null
  placeTime: number | null
}

/**
 * Samples the page's drawn matrix of `id` on `count` consecutive animation frames. (Source text:
 * tsx would add helpers to a function's text that do not exist in the page.)
 */
function sampleFrames(page: Page, id: string, count: number): Promise<Sample[]> {
  return page.evaluate(`new Promise((resolve) => {
    const v = globalThis.__assistView
    const out = []
    const step = () => {
      out.push({ messages: v.messages, frames: v.frames, matrix: v.drawnMatrix(${JSON.stringify(id)}), placeTime: v.placeTime() })
      if (out.length >= ${count}) resolve(out)
      else requestAnimationFrame(step)
    }
    requestAnimationFrame(step)
  })`) as Promise<Sample[]>
}

describe('web view: property animations run in the page every frame', () => {
  let spinner: string
  const live = liveViewSuite({
    placeOptions: { tickMs: 1500 },
    app: {
      name: 'spinner-app',
      avatar: {
        transform: { matrix: at(0, 1.2, -2) },
        geometry: box(0.4, 0.4, 0.1),
        material: { color: [0.3, 0.6, 0.9, 1] },
      },
    },
    async setup({ app, place }) {
      spinner = app.avatarId as string
      // A still label above it, for the screenshot.
      await app.spawnEntity({
        transform: { matrix: at(0, 1.65, -2), size: [1.2, 0.12, 0.001] },
        text: { string: 'rotation.y · sineInOut · autoreverses', height: 0.08, width: 1.2, halign: 'center' },
        material: { color: [1, 1, 1, 1] },
      })
      const res = await app.request('place', [
        'add_property_animation',
        {
          path: 'transform.matrix.rotation.y',
          from: 0,
          to: 3,
          start_at: place.serverTime(),
          duration: 4,
          easing: 'sineInOut',
          repeats: true,
          autoreverses: true,
        },
      ])
      assert.equal(res[1], 'ok')
    },
  })

  it('the drawn transform changes between frames with no new state, as a turn about y with the translation kept', async () => {
    const { page, place, errors } = live
    await waitPage(
      page,
      (v, id) => {
        const x = v as unknown as {
          animating: number
          placeTime(): number | null
          drawnMatrix(id: string): unknown
        }
        return x.animating >= 1 && x.placeTime() !== null && x.drawnMatrix(id) !== null
      },
      spinner,
    )
    let moved = false
    for (let attempt = 0; attempt < 5 && !moved; attempt++) {
      const samples = await sampleFrames(page, spinner, 12)
      for (const s of samples) {
        const m = s.matrix as number[]
        assert.ok(Math.abs(Math.hypot(m[0], m[8]) - 1) < 1e-6, 'a pure rotation about y')
        assert.equal(m[5], 1)
        assert.deepEqual(
          [m[12], m[13], m[14]].map((v) => Math.round(v * 1e6) / 1e6),
          [0, 1.2, -2],
        )
        const angle = Math.atan2(m[8], m[0])
        assert.ok(angle >= -1e-6 && angle <= 3 + 1e-6, `angle ${angle} within from…to`)
      }
      for (let i = 1; i < samples.length; i++) {
        const [a, b] = [samples[i - 1], samples[i]]
        if (
          a.messages === b.messages &&
          b.frames > a.frames &&
          JSON.stringify(a.matrix) !== JSON.stringify(b.matrix)
        )
          moved = true
      }
    }
    assert.ok(moved, 'two consecutive frames between state messages draw different transforms')
    // The page's clock is the place's (not a stale or local one).
    const [s] = await sampleFrames(page, spinner, 1)
    const drift = Math.abs((s.placeTime as number) - place.serverTime())
    assert.ok(drift < 2, `page's place time is off by ${drift} s`)
    // For a human: the spinner selected, its property_animations in the inspector.
    await page.locator(`[data-entity-id="${spinner}"]`).first().click()
    await waitPage(page, (v, id) => v.selected === id, spinner)
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}view-animation.png` })
    assert.deepEqual(errors, [])
  })

  it('the state the page gets carries the animated value too (the place runs it each tick)', async () => {
    const { page } = live
    const first = await page.evaluate(
      (id) =>
        JSON.stringify(
          (
            globalThis as unknown as {
              __assistView: { entity(id: string): { components: Record<string, unknown> } }
            }
          ).__assistView.entity(id).components.transform,
        ),
      spinner,
    )
    await waitPage(page, (v, a) => JSON.stringify(v.entity(a.id)?.components.transform) !== a.first, {
      id: spinner,
      first,
    })
  })
})
