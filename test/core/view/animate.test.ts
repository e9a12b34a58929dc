/**
 * The page's side of property animations (src/view-ui/animate.ts, no DOM needed): its estimate of
 * the place clock, and which entities it animates each frame.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ViewEntity } from '../../../src/core/view/protocol.js'
import { LocalAnimations, PlaceClock } from '../../../src/view-ui/animate.js'

const at = (x: number, y: number, z: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]
const ent = (id: string, components: Record<string, unknown>): ViewEntity => ({
  id,
  components,
  owner: null,
  ownerId: null,
})
const placeAt = (time: number) => ent('place', { transform: { matrix: at(0, 0, 0) }, clock: { time } })

describe('PlaceClock', () => {
  it('nothing before a clock; then the clock plus the page time elapsed', () => {
    const c = new PlaceClock()
    assert.equal(c.now(1000), null)
    c.observe(50, 1000)
    assert.equal(c.now(1000), 50)
    assert.equal(c.now(3500), 52.5)
  })

  it('the least-delayed clock wins; a clock that jumps back (a new place) starts over', () => {
    const c = new PlaceClock()
    c.observe(50, 1000)
    c.observe(50.9, 2000) // arrived 0.1 s late: older than it says
    assert.equal(c.now(2000), 51)
    c.observe(51.3, 2200) // earlier than expected: the first one was late
    assert.ok(Math.abs((c.now(2200) as number) - 51.3) < 1e-9)
    c.observe(2, 3000)
    assert.equal(c.now(3000), 2)
  })
})

describe('LocalAnimations', () => {
  const spin = {
    transform: { matrix: at(1, 2, 3) },
    property_animations: {
      animations: {
        a: { path: 'transform.matrix.rotation.y', from: 0, to: 2, start_at: 100, duration: 2, repeats: true },
      },
    },
  }

  it('animates only entities with animations, at the place time, and says whether anything animates', () => {
    const anim = new LocalAnimations()
    const entities = new Map([
      ['spin', ent('spin', spin)],
      ['still', ent('still', { transform: { matrix: at(0, 0, 0) } })],
    ])
    const set: Array<[string, number[]]> = []
    anim.track(entities.values(), [], 0)
    assert.equal(anim.count, 1)
    assert.equal(
      anim.frame(
        (id) => entities.get(id),
        0,
        (id, m) => set.push([id, m]),
      ),
      false,
      'no clock yet',
    )
    anim.track([placeAt(101)], [], 0)
    assert.equal(
      anim.frame(
        (id) => entities.get(id),
        0,
        (id, m) => set.push([id, m]),
      ),
      true,
    )
    assert.deepEqual(
      set.map(([id]) => id),
      ['spin'],
    )
    const m = set[0][1]
    assert.ok(Math.abs(m[0] - Math.cos(1)) < 1e-12 && Math.abs(m[8] - Math.sin(1)) < 1e-12)
    assert.deepEqual([m[12], m[13], m[14]], [1, 2, 3])
    // Half a second later (page time), the angle has moved on.
    set.length = 0
    anim.frame(
      (id) => entities.get(id),
      500,
      (id, mm) => set.push([id, mm]),
    )
    assert.ok(Math.abs(set[0][1][0] - Math.cos(1.5)) < 1e-12)
  })

  it('stops animating entities whose animations are gone or that were removed', () => {
    const anim = new LocalAnimations()
    anim.track([ent('a', spin), ent('b', spin)], [], 0)
    assert.equal(anim.count, 2)
    anim.track([ent('a', { ...spin, property_animations: { animations: {} } })], ['b'], 0)
    assert.equal(anim.count, 0)
  })
})
