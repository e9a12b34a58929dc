import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  type Components,
  IDENTITY,
  invert,
  multiply,
  transformPoint,
  treeParents,
  worldMatrix,
} from '../../../src/core/view/protocol.js'
import { assetIdOf } from '../../../src/core/view/recorded.js'
import { isClientMessage, pokePoints, sniffAssetType } from '../../../src/core/view/server.js'
import {
  ARM_LENGTH,
  defaultPokePoints,
  EntityDiffer,
  grabIntent,
  handTip,
  pointingHand,
  pokeSequence,
  RemoteWorldBuilder,
  rootOf,
  treeKind,
  worldFromState,
} from '../../../src/core/view/world.js'

const fixture = (name: string) => new URL(`../../fixtures/view/${name}`, import.meta.url)
const templateState = JSON.parse(readFileSync(fixture('world-state-template-app.json'), 'utf8'))
const at = (x: number, y: number, z: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]

describe('view world helpers', () => {
  it('reads a recorded world state: every entity, owned by the agent at the root of its parent chain', () => {
    const w = worldFromState(templateState, { agentNames: { mhrlypyhtn: 'template-app' } })
    assert.equal(w.entities.size, 8)
    assert.equal(w.entities.get('place')?.owner, null)
    for (const [id, e] of w.entities) if (id !== 'place') assert.equal(e.owner, 'template-app', id)
    assert.deepEqual(w.agents, [{ id: 'agent-mhrlypyhtn', name: 'template-app', avatarId: 'mhrlypyhtn' }])
    assert.throws(() => worldFromState({ nope: 1 }), /not a world state/)
  })

  it('rootOf stops at missing parents and at cycles', () => {
    const comps: Record<string, Components> = {
      a: { relationships: { parent: 'b' } },
      b: { relationships: { parent: 'a' } },
      c: { relationships: { parent: 'gone' } },
    }
    const lookup = (id: string) => comps[id]
    assert.ok(['a', 'b'].includes(rootOf('a', lookup)))
    assert.equal(rootOf('c', lookup), 'c')
  })

  it('world matrices follow the hierarchy (the quit button cube sits on the surface)', () => {
    const ents = templateState.entities as Record<string, { components: Components }>
    const lookup = (id: string) => ents[id]?.components
    const m = worldMatrix('mysnoxqwdb', lookup)
    assert.deepEqual(
      transformPoint(m, [0, 0, 0]).map((v) => Math.round(v * 1000) / 1000),
      [0.52, 1.45, -1.975],
    )
  })

  it('the differ sends changed and removed entities only', () => {
    const d = new EntityDiffer()
    const e = (id: string, v: number) => ({ id, components: { v: { v } }, owner: 'a', ownerId: 'x' })
    d.reset([e('a', 1), e('b', 1)])
    const delta = d.next(
      new Map([
        ['a', e('a', 1)],
        ['c', e('c', 1)],
      ]),
    )
    assert.deepEqual(
      delta.changed.map((x) => x.id),
      ['c'],
    )
    assert.deepEqual(delta.removed, ['b'])
    assert.deepEqual(d.next(new Map([['a', e('a', 2)]])).changed, [e('a', 2)])
  })

  it('a poke is point (oneway), poke true, poke false (requests), then point-exit (oneway), ~100 ms apart', () => {
    const seq = pokeSequence([0, 1, 0], [0, 1, -1])
    assert.deepEqual(
      seq.map((s) => [s.delayMs, s.type, s.body]),
      [
        [0, 'oneway', ['point', [0, 1, 0], [0, 1, -1]]],
        [100, 'request', ['poke', true]],
        [200, 'request', ['poke', false]],
        [300, 'oneway', ['point-exit']],
      ],
    )
  })

  it("the hand is at arm's length from the viewer toward the hit, never past it", () => {
    assert.deepEqual(handTip([0, 1.6, 1], [0, 1.6, -2]), [0, 1.6, 0.45])
    assert.equal(ARM_LENGTH, 0.55)
    // alloui opens a popup 0.8 m beyond the hand: in front of an app 3 m away, not behind it.
    const tip = handTip([0, 1.6, 1], [0, 1.6, -2])
    assert.ok(tip[2] - 0.8 > -2)
    // A target closer than arm's length: the finger stops 5 cm short of it.
    assert.deepEqual(handTip([0, 0, 0], [0, 0, -0.3]), [0, 0, -0.25])
    assert.deepEqual(handTip([1, 1, 1], [1, 1, 1]), [1, 1, 1.05])
    fc.assert(
      fc.property(
        fc.tuple(
          fc.double({ min: -9, max: 9, noNaN: true }),
          fc.double({ min: -9, max: 9, noNaN: true }),
          fc.double({ min: -9, max: 9, noNaN: true }),
        ),
        fc.tuple(
          fc.double({ min: -9, max: 9, noNaN: true }),
          fc.double({ min: -9, max: 9, noNaN: true }),
          fc.double({ min: -9, max: 9, noNaN: true }),
        ),
        (viewer, hit) => {
          const t = handTip(viewer, hit)
          const d = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2])
          assert.ok(d(t, viewer) <= ARM_LENGTH + 0.01)
          if (d(viewer, hit) > 0.1) assert.ok(d(t, hit) < d(viewer, hit))
        },
      ),
    )
  })

  it('the pointing hand has its tip at the finger and looks (−z) at the target, upright', () => {
    const m = pointingHand([0, 1.6, 0.45], [1, 1.6, -2])
    assert.deepEqual(m.slice(12), [0, 1.6, 0.45, 1])
    const fwd = transformPoint(m, [0, 0, -1]).map((v, i) => v - [0, 1.6, 0.45][i])
    const want = [1, 0, -2.45].map((v) => v / Math.hypot(1, 0, 2.45))
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(fwd[i] - want[i]) < 1e-9)
    assert.ok(Math.abs(m[5] - 1) < 1e-9, 'up stays up')
    // Straight down still gives a valid rotation.
    const down = pointingHand([0, 2, 0], [0, 0, 0])
    assert.ok(down.every(Number.isFinite))
  })

  it('a click gives the hit and the viewer; the Poke button only the viewer', () => {
    const comps: Record<string, Components> = {
      b: {
        transform: { matrix: at(0, 1.2, -2) },
        collider: { type: 'box', width: 0.2, height: 0.2, depth: 0.1 },
      },
    }
    const lookup = (id: string) => comps[id]
    assert.deepEqual(pokePoints({ entityId: 'b', from: [1, 1, 1], to: [2, 2, 2] }, lookup), [
      [1, 1, 1],
      [2, 2, 2],
    ])
    assert.deepEqual(pokePoints({ entityId: 'b', to: [0, 1.2, -1.95], viewer: [0, 1.2, 0] }, lookup), [
      [0, 1.2, -0.55],
      [0, 1.2, -1.95],
    ])
    assert.deepEqual(pokePoints({ entityId: 'b', viewer: [0, 1.2, 1] }, lookup), [
      [0, 1.2, 0.45],
      [0, 1.2, -1.95],
    ])
  })

  it("without a viewer, the hand pokes the front of the collider from arm's length of someone 1.5 m in front", () => {
    const comps: Record<string, Components> = {
      s: { transform: { matrix: at(0, 1.2, -2) } },
      b: {
        transform: { matrix: at(0.5, 0, 0.05) },
        relationships: { parent: 's' },
        collider: { type: 'box', width: 0.2, height: 0.2, depth: 0.1 },
      },
    }
    const [from, to] = defaultPokePoints('b', (id) => comps[id])
    assert.deepEqual(to, [0.5, 1.2, -1.9])
    assert.deepEqual(from, [0.5, 1.2, -0.95])
  })

  it('grabIntent: hand × grabber_from_entity_transform is the entity (property)', () => {
    const num = fc.double({ min: -5, max: 5, noNaN: true })
    fc.assert(
      fc.property(
        num,
        num,
        num,
        num,
        num,
        num,
        fc.double({ min: 0, max: 6, noNaN: true }),
        (x, y, z, hx, hy, hz, a) => {
          const rot = [
            Math.cos(a),
            0,
            -Math.sin(a),
            0,
            0,
            1,
            0,
            0,
            Math.sin(a),
            0,
            Math.cos(a),
            0,
            x,
            y,
            z,
            1,
          ]
          const comps: Record<string, Components> = { e: { transform: { matrix: rot } } }
          const hand = at(hx, hy, hz)
          const g = grabIntent('e', hand, (id) => comps[id])
          const back = multiply(hand, g.grabber_from_entity_transform)
          for (const [i, v] of back.entries()) assert.ok(Math.abs(v - rot[i]) < 1e-9)
        },
      ),
    )
    assert.deepEqual(
      multiply(invert(at(1, 2, 3)), at(1, 2, 3)).map((v) => v + 0),
      IDENTITY,
    )
  })

  it('treeParents keeps real parents and cuts cycles and missing parents', () => {
    const ents = new Map<string, { components: Components }>(
      Object.entries({
        a: { components: { relationships: { parent: 'b' } } },
        b: { components: { relationships: { parent: 'a' } } },
        s: { components: { relationships: { parent: 's' } } },
        c: { components: { relationships: { parent: 'gone' } } },
        d: { components: { relationships: { parent: 'a' } } },
        e: { components: {} },
        f: { components: { relationships: { parent: 'e' } } },
      }),
    )
    const p = treeParents(ents)
    assert.equal(p.size, 7)
    // Exactly one of a, b became a root; the other hangs under it.
    assert.deepEqual([p.get('a'), p.get('b')].filter((x) => x === null).length, 1)
    assert.equal(p.get('s'), null)
    assert.equal(p.get('c'), null)
    assert.equal(p.get('d'), 'a')
    assert.equal(p.get('f'), 'e')
    // No chain loops: every entity reaches a root.
    for (const id of p.keys()) {
      const seen = new Set<string>()
      let cur: string | null = id
      while (cur !== null) {
        assert.ok(!seen.has(cur), `cycle through ${id}`)
        seen.add(cur)
        cur = p.get(cur) ?? null
      }
    }
  })

  it("a remote world: owners are the root of each tree, agents one per root, the view's own tree by its name", () => {
    const b = new RemoteWorldBuilder()
    const raw: Record<string, unknown> = {
      place: { id: 'place', components: { clock: { time: 1 } } },
      app: { id: 'app', components: { ui: { view_id: 'x' } } },
      btn: { id: 'btn', components: { relationships: { parent: 'app' } } },
      me: { id: 'me', components: {} },
      hand: { id: 'hand', components: { relationships: { parent: 'me' } } },
      vis: { id: 'vis', components: { visor: {} } },
      broken: { id: 'broken', components: 'nope' },
      alsoBroken: 7,
    }
    const w = b.build(raw, 'P', { avatarId: 'me', name: 'web view' })
    assert.equal(w.placeName, 'P')
    assert.deepEqual([...w.entities.keys()].sort(), ['app', 'btn', 'hand', 'me', 'place', 'vis'])
    assert.deepEqual(
      [...w.entities.values()].map((e) => [e.id, e.owner, e.ownerId]),
      [
        ['place', null, null],
        ['app', 'app', 'app'],
        ['btn', 'app', 'app'],
        ['me', 'web view', 'me'],
        ['hand', 'web view', 'me'],
        ['vis', 'visor', 'vis'],
      ],
    )
    assert.deepEqual(
      w.agents.map((a) => [a.id, a.name]),
      [
        ['app', 'app'],
        ['vis', 'visor'],
        ['me', 'web view'],
      ],
    )
    assert.equal(treeKind(undefined), 'agent')
    // Unchanged state objects keep their view objects (the differ skips them); changed ones do not.
    const again = b.build(
      { ...raw, btn: { id: 'btn', components: { relationships: { parent: 'app' } } } },
      'P',
      {
        avatarId: 'me',
        name: 'web view',
      },
    )
    assert.equal(again.entities.get('app'), w.entities.get('app'))
    assert.notEqual(again.entities.get('btn'), w.entities.get('btn'))
    const d = new EntityDiffer()
    d.reset(w.entities.values())
    assert.deepEqual(d.next(again.entities), { changed: [], removed: [] }, 'same content: nothing to send')
  })

  it('validates what the page sends', () => {
    const good = [
      { type: 'poke', entityId: 'abc' },
      { type: 'poke', entityId: 'abc', from: [0, 0, 0], to: [1, 1, 1] },
      { type: 'poke', entityId: 'abc', to: [1, 1, 1], viewer: [0, 1.6, 1] },
      { type: 'grab', entityId: 'abc', hand: IDENTITY },
      { type: 'grab-move', hand: IDENTITY },
      { type: 'release' },
    ]
    const bad = [
      null,
      [],
      'poke',
      { type: 'poke' },
      { type: 'poke', entityId: 3 },
      { type: 'poke', entityId: 'a', from: [0, 0] },
      { type: 'poke', entityId: 'a', to: [0, 0, Number.NaN] },
      { type: 'poke', entityId: 'a', viewer: 'here' },
      { type: 'grab', entityId: 'a', hand: [1, 2, 3] },
      { type: 'grab-move' },
      { type: 'explode' },
    ]
    for (const m of good) assert.equal(isClientMessage(m), true, JSON.stringify(m))
    for (const m of bad) assert.equal(isClientMessage(m), false, JSON.stringify(m))
  })

  it('asset bytes: named by their SHA-256 and typed by their magic numbers', () => {
    const png = readFileSync(fixture('quit.png'))
    assert.equal(
      assetIdOf(png),
      (templateState.entities.mysnoxqwdb.components.material as { texture: string }).texture,
    )
    assert.equal(sniffAssetType(png), 'image/png')
    assert.equal(sniffAssetType(Buffer.from('glTF....')), 'model/gltf-binary')
    assert.equal(sniffAssetType(Buffer.from([0xff, 0xd8, 0xff])), 'image/jpeg')
    assert.equal(sniffAssetType(Buffer.from('{"asset":{}}')), 'model/gltf+json')
    assert.equal(sniffAssetType(Buffer.from([1, 2, 3])), 'application/octet-stream')
  })
})
