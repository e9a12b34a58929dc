/**
 * Property animations (src/core/place/animation.ts), checked against what allonet's
 * `src/simulation/animation.c` / `animation_prop.c` and mathc do: timing, easings, paths,
 * value kinds, the matrix helpers, removal, and bad input left alone without a crash.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  animateEntity,
  animValueOf,
  applyAnimation,
  EASINGS,
  ease,
  interpolate,
  rotationMatrix,
  timingAt,
} from '../../../src/core/place/animation.js'

const FAMILIES = ['quad', 'cubic', 'quart', 'quint', 'sine', 'circular', 'exp', 'elastic', 'back', 'bounce']
/** Every name allonet's `_ease` knows. */
const ALLONET_EASINGS = ['linear', ...FAMILIES.flatMap((f) => [`${f}In`, `${f}Out`, `${f}InOut`])]

const close = (a: number, b: number, eps = 1e-9) => Math.abs(a - b) <= eps
function assertClose(actual: number[] | number, expected: number[] | number, eps = 1e-9, msg = ''): void {
  const a = Array.isArray(actual) ? actual : [actual]
  const e = Array.isArray(expected) ? expected : [expected]
  assert.equal(a.length, e.length, `length ${msg}`)
  for (const [i, x] of a.entries())
    assert.ok(close(x, e[i], eps), `${msg} [${i}]: ${x} ≠ ${e[i]} (got ${JSON.stringify(a)})`)
}

const translate = (x: number, y: number, z: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]
const anim = (extra: Record<string, unknown>) => ({
  path: 'transform.matrix.rotation.y',
  from: 0,
  to: 1,
  start_at: 10,
  duration: 2,
  easing: 'linear',
  repeats: false,
  autoreverses: false,
  ...extra,
})
const entity = (anims: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  transform: { matrix: translate(1, 2, 3) },
  property_animations: { animations: anims },
  ...extra,
})
const matrixOf = (c: Record<string, unknown>) => (c.transform as { matrix: number[] }).matrix
const unit = fc.double({ min: 0, max: 1, noNaN: true })
/** Inside (0, 1): exp easings special-case exactly 0 and 1 (a 2⁻¹⁰ jump there, as in AHEasing). */
const inner = fc.double({ min: 1e-6, max: 1 - 1e-6, noNaN: true })

describe('easings', () => {
  it('has exactly the easings allonet knows', () => {
    assert.deepEqual(Object.keys(EASINGS).sort(), [...ALLONET_EASINGS].sort())
  })

  it('every easing starts at 0 and ends at 1', () => {
    for (const name of ALLONET_EASINGS) {
      assert.ok(close(ease(name, 0), 0), `${name}(0) = ${ease(name, 0)}`)
      assert.ok(close(ease(name, 1), 1), `${name}(1) = ${ease(name, 1)}`)
    }
  })

  it('known values (AHEasing formulas)', () => {
    assertClose(ease('quadIn', 0.5), 0.25)
    assertClose(ease('quadOut', 0.5), 0.75)
    assertClose(ease('quadInOut', 0.25), 0.125)
    assertClose(ease('cubicIn', 0.5), 0.125)
    assertClose(ease('quartOut', 0.5), 1 - 0.0625)
    assertClose(ease('quintInOut', 0.25), 16 / 1024)
    assertClose(ease('sineInOut', 0.5), 0.5)
    assertClose(ease('expIn', 0.5), 2 ** -5)
    assertClose(ease('bounceOut', 4 / 11), 1)
    assertClose(ease('bounceOut', 0.5), (363 / 40) * 0.25 - (99 / 10) * 0.5 + 17 / 5)
    assertClose(ease('backIn', 0.5), 0.125 - 0.5)
    assertClose(ease('elasticIn', 0.5), Math.sin(13 * (Math.PI / 2) * 0.5) * 2 ** -5)
    // Overshoot and undershoot, as these easings do.
    assert.ok(ease('backIn', 0.3) < 0)
    assert.ok(ease('elasticOut', 0.1) > 1)
  })

  it('unknown, missing or non-string easings are linear', () => {
    fc.assert(
      fc.property(
        unit,
        fc.oneof(fc.constant('nope'), fc.constant(undefined), fc.integer(), fc.constant('__proto__')),
        (p, e) => close(ease(e, p), p),
      ),
    )
  })

  it('Out is In mirrored: out(p) = 1 − in(1 − p)', () => {
    fc.assert(
      fc.property(inner, fc.constantFrom(...FAMILIES), (p, f) =>
        close(ease(`${f}Out`, p), 1 - ease(`${f}In`, 1 - p), 1e-9),
      ),
    )
  })

  it('InOut is point-symmetric about (½, ½): f(p) + f(1 − p) = 1', () => {
    fc.assert(
      fc.property(inner, fc.constantFrom(...FAMILIES), (p, f) =>
        close(ease(`${f}InOut`, p) + ease(`${f}InOut`, 1 - p), 1, 1e-9),
      ),
    )
  })

  it('the monotonic easings never decrease', () => {
    const monotonic = [
      'linear',
      ...['quad', 'cubic', 'quart', 'quint', 'sine', 'circular', 'exp'].flatMap((f) => [
        `${f}In`,
        `${f}Out`,
        `${f}InOut`,
      ]),
    ]
    fc.assert(
      fc.property(unit, unit, fc.constantFrom(...monotonic), (a, b, name) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        return ease(name, lo) <= ease(name, hi) + 1e-12
      }),
    )
  })
})

describe('timing', () => {
  it('nothing before the start; progress through the duration; written at 1 then done', () => {
    const a = anim({})
    assert.equal(timingAt(a, 9.99), null)
    assert.deepEqual(timingAt(a, 10), { progress: 0, done: false, swap: false })
    assert.deepEqual(timingAt(a, 11), { progress: 0.5, done: false, swap: false })
    assert.deepEqual(
      timingAt(a, 12),
      { progress: 1, done: false, swap: false },
      'exactly the end: not yet done',
    )
    assert.deepEqual(timingAt(a, 12.001), { progress: 1, done: true, swap: false })
    assert.deepEqual(timingAt(a, 1e6), { progress: 1, done: true, swap: false })
  })

  it('repeats (only `true`) take the time modulo the duration and never finish', () => {
    const r = anim({ repeats: true })
    assert.ok(close(timingAt(r, 15)?.progress ?? -1, 0.5))
    assert.equal(timingAt(r, 15)?.done, false)
    assert.equal(timingAt(r, 5), null, 'a repeating animation also waits for its start')
    for (const notTrue of [1, 'true', 'yes', null])
      assert.equal(
        timingAt(anim({ repeats: notTrue }), 15)?.done,
        true,
        `repeats: ${JSON.stringify(notTrue)}`,
      )
  })

  it('autoreverses swaps from/to on odd iterations, only when repeating', () => {
    const r = anim({ repeats: true, autoreverses: true })
    assert.equal(timingAt(r, 11)?.swap, false)
    assert.equal(timingAt(r, 13)?.swap, true)
    assert.equal(timingAt(r, 15)?.swap, false)
    assert.equal(timingAt(r, 17)?.swap, true)
    assert.equal(timingAt(anim({ autoreverses: true }), 13)?.swap, false)
    assert.equal(timingAt(anim({ repeats: true }), 13)?.swap, false)
  })

  it('without numbers in start_at/duration, or with a zero duration at its start, nothing is written', () => {
    assert.equal(timingAt(anim({ start_at: '10' }), 11), null)
    assert.equal(timingAt(anim({ duration: undefined }), 11), null)
    assert.equal(timingAt(anim({ duration: 0 }), 10), null)
    assert.equal(timingAt(anim({ duration: 0, repeats: true }), 11), null)
    assert.equal(timingAt(anim({ duration: 0 }), 11)?.done, true, 'past the start a zero duration is over')
  })

  it('autoreversing: a value on a way back mirrors the way there (v_odd + v_even = from + to), for every easing', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALLONET_EASINGS),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.integer({ min: 0, max: 50 }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        (easing, p, k, from, to) => {
          const a = {
            path: 'v.x',
            from,
            to,
            start_at: 3,
            duration: 0.5,
            repeats: true,
            autoreverses: true,
            easing,
          }
          const at = (t: number) => (applyAnimation({ v: { x: 0 } }, a, t).components.v as { x: number }).x
          const even = at(3 + (2 * k + p) * 0.5)
          const odd = at(3 + (2 * k + 1 + p) * 0.5)
          return close(even + odd, from + to, 1e-6 * (1 + Math.abs(from) + Math.abs(to)))
        },
      ),
    )
  })
})

describe('values and paths', () => {
  it('reads numbers, 3-vectors, [angle, x, y, z] rotations and 4×4 matrices; nothing else', () => {
    assert.deepEqual(animValueOf(2), { kind: 'number', v: 2 })
    assert.deepEqual(animValueOf([1, 2, 3]), { kind: 'vec3', v: [1, 2, 3] })
    assert.deepEqual(animValueOf([1, 0, 1, 0]), { kind: 'rotation', angle: 1, axis: [0, 1, 0] })
    assert.equal(animValueOf(translate(0, 0, 0))?.kind, 'mat4')
    for (const bad of ['1', null, true, {}, [], [1, 2], [1, 2, '3'], [1, 2, 3, 4, 5], { x: 1 }])
      assert.equal(animValueOf(bad), null, JSON.stringify(bad))
  })

  it('transform.matrix.rotation.{x,y,z}: a rotation about that axis, as mathc lays it out, translation kept', () => {
    const c = Math.cos(0.5)
    const s = Math.sin(0.5)
    const expected = {
      x: [1, 0, 0, 0, 0, c, s, 0, 0, -s, c, 0, 1, 2, 3, 1],
      y: [c, 0, -s, 0, 0, 1, 0, 0, s, 0, c, 0, 1, 2, 3, 1],
      z: [c, s, 0, 0, -s, c, 0, 0, 0, 0, 1, 0, 1, 2, 3, 1],
    }
    for (const axis of ['x', 'y', 'z'] as const) {
      const comps = entity({})
      const r = applyAnimation(comps, anim({ path: `transform.matrix.rotation.${axis}`, to: 1 }), 11)
      assert.equal(r.applied, true)
      assertClose(matrixOf(r.components), expected[axis], 1e-12, axis)
      assert.deepEqual(matrixOf(comps), translate(1, 2, 3), 'the input is not modified')
    }
  })

  it('rotation replaces the whole 3×3 (a scale is lost), like mat4_rotation_axis', () => {
    const scaled = [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 5, 6, 7, 1]
    const r = applyAnimation({ transform: { matrix: scaled } }, anim({ from: 0, to: 0 }), 11)
    assertClose(matrixOf(r.components), translate(5, 6, 7))
  })

  it('transform.matrix.rotation with [angle, x, y, z] values: quaternion slerp', () => {
    const a = anim({ path: 'transform.matrix.rotation', from: [0, 0, 1, 0], to: [Math.PI, 0, 1, 0] })
    const r = applyAnimation(entity({}), a, 11)
    const expected = rotationMatrix([0, 1, 0], Math.PI / 2)
    expected.splice(12, 3, 1, 2, 3)
    assertClose(matrixOf(r.components), expected, 1e-9)
    // allonet's FIXME: rotations over 180° fold back — a whole turn is no turn at all.
    const whole = anim({ path: 'transform.matrix.rotation', from: [0, 0, 1, 0], to: [2 * Math.PI, 0, 1, 0] })
    assertClose(matrixOf(applyAnimation(entity({}), whole, 11).components), translate(1, 2, 3), 1e-9)
  })

  it('a [angle, x, y, z] value animated in place is slerped and written back as axis-angle', () => {
    const a = { path: 'spin.r', from: [0, 0, 0, 1], to: [1, 0, 0, 1], start_at: 0, duration: 1 }
    const out = applyAnimation({ spin: { r: [0, 0, 0, 1] } }, a, 0.5).components.spin as { r: number[] }
    assertClose(out.r, [0.5, 0, 0, 1], 1e-9)
  })

  it('translation and scale, whole (vec3) or one axis (number)', () => {
    const at = (path: string, from: unknown, to: unknown) =>
      matrixOf(applyAnimation(entity({}), anim({ path, from, to }), 11).components)
    assertClose(at('transform.matrix.translation.y', 0, 4), translate(1, 2, 3).with(13, 2))
    assertClose(at('transform.matrix.translation', [0, 0, 0], [2, 4, 6]), translate(1, 2, 3))
    assertClose(at('transform.matrix.scale.x', 1, 3), translate(1, 2, 3).with(0, 2))
    assertClose(
      at('transform.matrix.scale', [1, 1, 1], [3, 5, 7]),
      [2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0, 1, 2, 3, 1],
    )
  })

  it('plain numbers, array indices and vectors anywhere in the components', () => {
    const comps = { material: { color: [1, 1, 1, 1] }, custom: { value: 10, v: [0, 0, 0] } }
    const run = (path: string, from: unknown, to: unknown) =>
      applyAnimation(comps, { path, from, to, start_at: 0, duration: 4 }, 1).components
    assert.deepEqual((run('material.color.3', 1, 0).material as { color: number[] }).color, [1, 1, 1, 0.75])
    assert.equal((run('custom.value', 10, 30).custom as { value: number }).value, 15)
    assert.deepEqual((run('custom.v', [0, 0, 0], [4, 8, 12]).custom as { v: number[] }).v, [1, 2, 3])
    assert.deepEqual(comps.material.color, [1, 1, 1, 1], 'the input is not modified')
  })

  it('a whole matrix mixes as from·f + to·(1−f), the way round allo_m4x4_interpolate has it', () => {
    const a = translate(0, 0, 0)
    const b = translate(4, 0, 0)
    const at = (t: number) =>
      matrixOf(
        applyAnimation(entity({}), { path: 'transform.matrix', from: a, to: b, start_at: 0, duration: 4 }, t)
          .components,
      )
    assertClose(at(0), b)
    assertClose(at(1), translate(3, 0, 0))
    assertClose(at(4), a)
    assert.deepEqual(interpolate({ kind: 'mat4', v: a }, { kind: 'mat4', v: b }, 0.25)?.kind, 'mat4')
  })

  it('applying again at the same time changes nothing (the view re-runs animations on animated state)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('rotation.x', 'rotation.y', 'rotation.z', 'translation.x', 'scale.z'),
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: 10, max: 20, noNaN: true }),
        (sub, to, t) => {
          const a = anim({ path: `transform.matrix.${sub}`, to, repeats: true })
          const once = applyAnimation(entity({}), a, t).components
          const twice = applyAnimation(once, a, t).components
          return matrixOf(once).every((v, i) => close(v, matrixOf(twice)[i], 1e-12))
        },
      ),
    )
  })
})

describe('bad input is left alone (kept, not applied), as allonet does', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['missing component', { path: 'nothing.here' }],
    ['missing key', { path: 'transform.nope' }],
    ['index out of range', { path: 'transform.matrix.16' }],
    ['negative index', { path: 'transform.matrix.-1' }],
    ['an axis that is not x/y/z', { path: 'transform.matrix.rotation.w' }],
    ['axis without rotation/translation/scale', { path: 'transform.matrix.x' }],
    ['empty path', { path: '' }],
    ['trailing dot', { path: 'transform.' }],
    ['number where a vec3 is needed', { path: 'transform.matrix.translation', from: 0, to: 1 }],
    ['rotation needs [angle,x,y,z] or an axis', { path: 'transform.matrix.rotation', from: 0, to: 1 }],
    ['number onto a matrix', { path: 'transform.matrix' }],
    ['string from/to', { from: 'a', to: 'b' }],
    ['object from/to', { from: {}, to: {} }],
    ['from/to of different kinds', { from: 0, to: [1, 2, 3] }],
    ['zero rotation axis', { path: 'transform.matrix.rotation', from: [0, 0, 0, 0], to: [1, 0, 0, 0] }],
    ['path not a string', { path: 42 }],
  ]
  for (const [what, extra] of cases) {
    it(what, () => {
      const comps = entity({ bad: anim(extra) })
      assert.equal(applyAnimation(comps, anim(extra), 11).applied, false)
      // Past its end it is still not applied, and stays in the component (retried each tick).
      assert.equal(animateEntity(comps, 100), null)
    })
  }

  it('never throws and never writes a non-finite number, whatever the animation holds', () => {
    const value = fc.oneof(
      fc.anything(),
      fc.double(),
      fc.array(fc.double(), { minLength: 3, maxLength: 4 }),
      fc.array(fc.double(), { minLength: 16, maxLength: 16 }),
    )
    const path = fc.oneof(
      fc.string(),
      fc.constantFrom(
        'transform.matrix.rotation.y',
        'transform.matrix.rotation',
        'transform.matrix.translation',
        'transform.matrix.scale.z',
        'transform.matrix',
        'transform.matrix.3',
        'material.color.1',
      ),
    )
    fc.assert(
      fc.property(
        fc.record({
          path,
          from: value,
          to: value,
          start_at: fc.oneof(fc.double(), fc.anything()),
          duration: fc.oneof(fc.double(), fc.anything()),
          easing: fc.oneof(fc.constantFrom(...ALLONET_EASINGS), fc.anything()),
          repeats: fc.oneof(fc.boolean(), fc.anything()),
          autoreverses: fc.oneof(fc.boolean(), fc.anything()),
        }),
        fc.double({ noNaN: true }),
        (a, t) => {
          const comps = entity({ a }, { material: { color: [1, 1, 1, 1] } })
          const r = animateEntity(comps, t)
          if (!r) return true
          const color = (r.components.material as { color: unknown[] }).color
          return (
            matrixOf(r.components).length === 16 &&
            matrixOf(r.components).every(Number.isFinite) &&
            color.length === 4 &&
            color.every(Number.isFinite)
          )
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('entities without property_animations, or with a broken one, are skipped', () => {
    assert.equal(animateEntity({ transform: { matrix: translate(0, 0, 0) } }, 5), null)
    assert.equal(animateEntity({ property_animations: { animations: [] } }, 5), null)
    assert.equal(animateEntity({ property_animations: 'x' }, 5), null)
    assert.equal(animateEntity({ property_animations: { animations: { a: 'not an animation' } } }, 5), null)
  })
})

describe('animateEntity', () => {
  it('runs animations in order, removes the finished non-repeating ones at their end value', () => {
    const comps = entity({
      spin: anim({ repeats: true }),
      lift: anim({ path: 'transform.matrix.translation.y', from: 0, to: 5 }),
      later: anim({ path: 'transform.matrix.translation.x', from: 0, to: 9, start_at: 50 }),
    })
    const mid = animateEntity(comps, 11)
    assert.ok(mid)
    assert.deepEqual(mid.changed, ['transform'])
    assert.deepEqual(mid.finished, [])
    assert.equal(matrixOf(mid.components)[13], 2.5)
    assertClose(matrixOf(mid.components)[0], Math.cos(0.5))
    assert.equal(matrixOf(mid.components)[12], 1, 'not started yet: x untouched')

    const end = animateEntity(comps, 12.5)
    assert.ok(end)
    assert.deepEqual(end.finished, ['lift'])
    assert.deepEqual(end.changed.sort(), ['property_animations', 'transform'])
    assert.equal(matrixOf(end.components)[13], 5, 'written at exactly `to`')
    assert.deepEqual(Object.keys((end.components.property_animations as { animations: object }).animations), [
      'spin',
      'later',
    ])
    // The input is untouched.
    assert.deepEqual(Object.keys(comps.property_animations.animations), ['spin', 'lift', 'later'])
  })

  it('null when nothing changes (not started yet)', () => {
    assert.equal(animateEntity(entity({ a: anim({ start_at: 100 }) }), 11), null)
  })
})
