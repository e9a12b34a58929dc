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
  worldMatrix,
} from '../../../src/core/view/protocol.js'
import { assetIdOf } from '../../../src/core/view/recorded.js'
import { isClientMessage, sniffAssetType } from '../../../src/core/view/server.js'
import {
  defaultPokePoints,
  EntityDiffer,
  grabIntent,
  pokeSequence,
  rootOf,
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

  it('a poke is point (oneway), poke true, poke false (requests), ~100 ms apart', () => {
    const seq = pokeSequence([0, 1, 0], [0, 1, -1])
    assert.deepEqual(
      seq.map((s) => [s.delayMs, s.type, s.body]),
      [
        [0, 'oneway', ['point', [0, 1, 0], [0, 1, -1]]],
        [100, 'request', ['poke', true]],
        [200, 'request', ['poke', false]],
      ],
    )
  })

  it('without a hit point, the hand pokes the front of the collider from 0.4 m away', () => {
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
    assert.deepEqual(from, [0.5, 1.2, -1.5])
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

  it('validates what the page sends', () => {
    const good = [
      { type: 'poke', entityId: 'abc' },
      { type: 'poke', entityId: 'abc', from: [0, 0, 0], to: [1, 1, 1] },
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
