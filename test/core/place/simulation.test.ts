import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type SimWorld, simulateGrabs } from '../../../src/core/place/simulation.js'

const at = (x: number, y: number, z: number) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]
const I = at(0, 0, 0)

function makeWorld(
  entities: Record<string, { owner: string; components: Record<string, unknown> }>,
): SimWorld & {
  m(id: string): number[]
  writes: number
} {
  let writes = 0
  return {
    get: (id) => (entities[id] ? { id, ...entities[id] } : undefined),
    setComponent(id, name, value) {
      writes++
      entities[id].components = { ...entities[id].components, [name]: value }
    },
    ownedBy: (owner) => Object.keys(entities).filter((id) => entities[id].owner === owner),
    m: (id) => (entities[id].components.transform as { matrix: number[] }).matrix,
    get writes() {
      return writes
    },
  }
}

function scene() {
  return makeWorld({
    avatar: { owner: 'viewer', components: { transform: { matrix: I } } },
    hand: {
      owner: 'viewer',
      components: {
        transform: { matrix: I },
        relationships: { parent: 'avatar' },
        intent: { actuate_pose: 'hand/right' },
      },
    },
    surface: {
      owner: 'app',
      components: { transform: { matrix: at(0, 1.2, -2) }, grabbable: { grabbable: true } },
    },
    handle: {
      owner: 'app',
      components: {
        transform: { matrix: at(0, 0.3, 0) },
        relationships: { parent: 'surface' },
        grabbable: { grabbable: true, actuate_on: '$parent', translation_constraint: [1, 0, 1] },
      },
    },
  })
}

const intent = (handMatrix: number[], grab: Record<string, unknown> = {}) => ({
  poses: { 'hand/right': { matrix: handMatrix, skeleton: [], grab } },
})

describe('place simulation: grabbing', () => {
  it('a grabbed entity follows the hand, keeping the grab offset', () => {
    const w = scene()
    w.setComponent('hand', 'transform', { matrix: at(0.5, 1.4, -1.99) }) // as Place.simulatePoses does
    const held = at(0, 0, -0.01) // surface seen from a hand 1 cm in front of it
    simulateGrabs(w, [
      {
        id: 'viewer',
        avatarId: 'avatar',
        intent: intent(at(0.5, 1.4, -1.99), { entity: 'surface', grabber_from_entity_transform: held }),
      },
    ])
    assert.deepEqual(w.m('surface'), at(0.5, 1.4, -2))
  })

  it('actuate_on $parent moves the parent, within the translation constraint', () => {
    const w = scene()
    w.setComponent('hand', 'transform', { matrix: at(0.4, 2, -1) }) // as Place.simulatePoses does
    simulateGrabs(w, [
      {
        id: 'viewer',
        avatarId: 'avatar',
        intent: intent(at(0.4, 2, -1), { entity: 'handle', grabber_from_entity_transform: I }),
      },
    ])
    // The handle would be at (0.4, 2, -1), so the surface at (0.4, 1.7, -1); y is constrained.
    assert.deepEqual(w.m('surface'), at(0.4, 1.2, -1))
    assert.deepEqual(w.m('handle'), at(0, 0.3, 0))
  })

  it('ignores grabs of missing or non-grabbable entities, agents without avatars, and bad intents', () => {
    const w = scene()
    const before = JSON.stringify(w.m('surface'))
    simulateGrabs(w, [
      {
        id: 'viewer',
        avatarId: 'avatar',
        intent: intent(at(1, 1, 1), { entity: 'hand', grabber_from_entity_transform: I }),
      },
      {
        id: 'viewer',
        avatarId: 'avatar',
        intent: intent(at(1, 1, 1), { entity: 'gone', grabber_from_entity_transform: I }),
      },
      {
        id: 'viewer',
        avatarId: 'avatar',
        intent: intent(at(1, 1, 1), { entity: 'surface', grabber_from_entity_transform: [1] }),
      },
      { id: 'viewer', intent: intent(at(1, 1, 1), { entity: 'surface', grabber_from_entity_transform: I }) },
      { id: 'viewer', avatarId: 'avatar', intent: { poses: 'nope' } },
      { id: 'viewer', avatarId: 'avatar' },
    ])
    assert.equal(JSON.stringify(w.m('surface')), before)
  })
})
