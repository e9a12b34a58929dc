/**
 * The place runs property animations each tick (allonet `allosim_animate`), over real UDP ENet:
 * an app adds an animation to its avatar, another agent sees the animated value move across
 * revisions in its state deltas, and sees the animation removed (at its end value) once a
 * non-repeating one is over; a repeating one runs until removed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { AlloClient, ClientState } from '../../../src/core/place/client.js'
import type { Place } from '../../../src/core/place/place.js'
import { connectClient, startTestPlace } from '../../helpers/place.js'

const at = (x: number, y: number, z: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]

describe('property animations in a live place', () => {
  let place: Place
  let app: AlloClient
  let viewer: AlloClient

  before(async () => {
    ;({ place } = await startTestPlace(undefined, { tickMs: 40 }))
    app = await connectClient(place, undefined, 'animated-app', {
      avatar: { transform: { matrix: at(0, 1, -2) }, geometry: { type: 'hardcoded-model', name: 'box' } },
    })
    viewer = await connectClient(place, undefined, 'viewer')
  })

  after(async () => {
    await app?.disconnect().catch(() => {})
    await viewer?.disconnect().catch(() => {})
    await place?.close()
  })

  const comps = (s: ClientState, id: string) => s.entities[id]?.components ?? {}
  const y = (s: ClientState, id: string) => (comps(s, id).transform as { matrix: number[] }).matrix[13]
  const animations = (s: ClientState, id: string) =>
    (comps(s, id).property_animations as { animations?: Record<string, unknown> } | undefined)?.animations

  it('another agent sees a translation move across revisions, then the finished animation removed', async () => {
    const avatar = app.avatarId as string
    await viewer.waitForState((s) => s.entities[avatar] !== undefined)
    const seen: Array<{ revision: number; y: number; pending: boolean }> = []
    const onState = (s: ClientState) => {
      if (s.entities[avatar])
        seen.push({
          revision: s.revision,
          y: y(s, avatar),
          pending: Object.keys(animations(s, avatar) ?? {}).length > 0,
        })
    }
    viewer.on('state', onState)
    const res = await app.request('place', [
      'add_property_animation',
      {
        path: 'transform.matrix.translation.y',
        from: 1,
        to: 3,
        start_at: place.serverTime() + 0.1,
        duration: 1,
        easing: 'linear',
        repeats: false,
        autoreverses: false,
      },
    ])
    assert.equal(res[1], 'ok')
    const id = String(res[2])
    // Wait until the animation has been added and then removed again.
    const done = await viewer.waitForState(
      (s) =>
        seen.some((x) => x.pending) &&
        animations(s, avatar) !== undefined &&
        !(id in (animations(s, avatar) ?? {})),
      15_000,
    )
    viewer.off('state', onState)
    assert.equal(y(done, avatar), 3, 'left at exactly `to` when removed')
    assert.deepEqual(animations(done, avatar), {}, 'the finished animation is gone')
    const during = seen.filter((x) => x.pending)
    const between = new Set(during.map((x) => x.y).filter((v) => v > 1 && v < 3))
    assert.ok(
      between.size >= 2,
      `the value moves through revisions: ${JSON.stringify(during.map((x) => x.y))}`,
    )
    for (let i = 1; i < during.length; i++)
      assert.ok(during[i].y >= during[i - 1].y, 'linear from 1 to 3: never going back')
    // The rest of the matrix is untouched.
    const m = (comps(done, avatar).transform as { matrix: number[] }).matrix
    assert.deepEqual(m, at(0, 3, -2))
    // The place's own view of the world agrees.
    const rec = place.snapshot().entities.find((e) => e.id === avatar)
    assert.ok(rec)
    assert.deepEqual((rec.components.transform as { matrix: number[] }).matrix, at(0, 3, -2))
  })

  it('a repeating rotation keeps turning past its duration, until removed; then it stays put', async () => {
    const avatar = app.avatarId as string
    const start = place.serverTime()
    const res = await app.request('place', [
      'add_property_animation',
      {
        path: 'transform.matrix.rotation.y',
        from: 0,
        to: Math.PI,
        start_at: start,
        duration: 0.3,
        repeats: true,
      },
    ])
    const id = String(res[2])
    // Past several durations, still there and still changing.
    const first = await viewer.waitForState(
      (s) =>
        id in (animations(s, avatar) ?? {}) &&
        (comps(s, 'place').clock as { time?: number } | undefined)?.time !== undefined &&
        (comps(s, 'place').clock as { time: number }).time > start + 1,
    )
    const m0 = (comps(first, avatar).transform as { matrix: number[] }).matrix
    await viewer.waitForState((s) => {
      const m = (comps(s, avatar).transform as { matrix: number[] }).matrix
      return m[0] !== m0[0]
    })
    const cosSin = (s: ClientState) => {
      const m = (comps(s, avatar).transform as { matrix: number[] }).matrix
      return Math.hypot(m[0], m[2])
    }
    assert.ok(Math.abs(cosSin(viewer.state) - 1) < 1e-9, 'a pure rotation about y')
    assert.equal(
      (comps(viewer.state, avatar).transform as { matrix: number[] }).matrix[13],
      3,
      'translation kept',
    )
    assert.deepEqual(await app.request('place', ['remove_property_animation', id]), [
      'remove_property_animation',
      'ok',
      id,
    ])
    const stopped = await viewer.waitForState((s) => !(id in (animations(s, avatar) ?? {})))
    const still = JSON.stringify(comps(stopped, avatar).transform)
    const rev = stopped.revision
    const later = await viewer.waitForState((s) => s.revision >= rev + 5)
    assert.equal(JSON.stringify(comps(later, avatar).transform), still, 'no animation: no movement')
  })

  it('an animation whose path does not exist stays, harmlessly, and other agents keep getting states', async () => {
    const avatar = app.avatarId as string
    const res = await app.request('place', [
      'add_property_animation',
      { path: 'nothing.here', from: 0, to: 1, start_at: 0, duration: 0.1 },
    ])
    const id = String(res[2])
    const rev = viewer.state.revision
    const later = await viewer.waitForState(
      (s) => s.revision >= rev + 5 && id in (animations(s, avatar) ?? {}),
    )
    assert.equal(comps(later, avatar).nothing, undefined)
  })
})
