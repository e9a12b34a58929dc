/**
 * Property-based tests (fast-check): random spawn/change/remove sequences.
 * 1. Pure: for every revision and every acknowledged revision still in history, applying the merge
 *    message to the acked state gives exactly the full state.
 * 2. End to end: agents drive a real place; an observer client whose state messages are randomly
 *    lost holds, after every revision it applies, exactly the place's state at that revision, and
 *    converges to the place's current state once losses stop.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import fc from 'fast-check'
import type { AlloClient } from '../../../src/core/place/client.js'
import { applyMergePatch } from '../../../src/core/place/merge-patch.js'
import { HISTORY_LENGTH, parseSpec, setEntities, World } from '../../../src/core/place/world.js'
import { connectClient, startTestPlace, transportsUnderTest } from '../../helpers/place.js'

const componentNames = ['transform', 'text', 'material', 'collider', 'ui', 'grabbable']
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer({ min: -5, max: 5 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }),
    fc.string({ maxLength: 4 }),
    fc.boolean(),
  ),
  arr: fc.array(tie('leaf'), { maxLength: 4 }),
  obj: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'string', 'matrix'), fc.oneof(tie('leaf'), tie('arr')), {
    maxKeys: 3,
  }),
})).obj
const components = fc.dictionary(fc.constantFrom(...componentNames), value, { maxKeys: 3 })

type Op =
  | {
      kind: 'spawn'
      by: number
      parent: number | null
      components: Record<string, unknown>
      children: number
    }
  | { kind: 'change'; by: number; target: number; add: Record<string, unknown>; remove: string[] }
  | { kind: 'remove'; by: number; target: number; reparent: boolean }
  | { kind: 'tick' }

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('spawn' as const),
      by: fc.nat(1),
      parent: fc.option(fc.nat(20)),
      components,
      children: fc.nat(2),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('change' as const),
      by: fc.nat(1),
      target: fc.nat(20),
      add: components,
      remove: fc.subarray(componentNames, { maxLength: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('remove' as const),
      by: fc.nat(1),
      target: fc.nat(20),
      reparent: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'tick' as const }) },
)

function specOf(o: Extract<Op, { kind: 'spawn' }>, parentId?: string): Record<string, unknown> {
  const comps: Record<string, unknown> = { ...o.components }
  if (parentId) comps.relationships = { parent: parentId }
  return {
    ...comps,
    children: Array.from({ length: o.children }, (_, i) => ({ text: { string: `child ${i}` } })),
  }
}

test('pure: merge(state at ack, message) equals the full state, for every ack in history', () => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
      const world = new World()
      const ids: string[] = []
      const states = new Map<number, unknown>()
      const commit = () => {
        const snap = world.commit()
        states.set(snap.revision, JSON.parse(JSON.stringify(setEntities(snap))))
        const full = JSON.parse(world.messageFor(0))
        assert.equal(full.patch_style, 'set')
        assert.deepEqual(full.entities, states.get(snap.revision))
        for (let ack = Math.max(1, snap.revision - HISTORY_LENGTH - 2); ack <= snap.revision; ack++) {
          const msg = JSON.parse(world.messageFor(ack))
          if (!states.has(ack) || ack <= snap.revision - HISTORY_LENGTH) {
            assert.equal(msg.patch_style, 'set', `ack ${ack} is out of history: a set`)
            continue
          }
          assert.equal(msg.patch_style, 'merge')
          assert.equal(msg.patch_from, ack)
          assert.deepEqual(applyMergePatch(states.get(ack), msg.entities), states.get(snap.revision))
        }
      }
      commit()
      for (const o of ops) {
        if (o.kind === 'tick') commit()
        else if (o.kind === 'spawn') {
          const parent = o.parent === null ? undefined : ids[o.parent]
          ids.push(
            ...world.spawn(
              parseSpec(specOf(o, world.has(parent ?? '') ? parent : undefined)),
              `agent${o.by}`,
            ),
          )
        } else if (o.kind === 'change') {
          const id = ids[o.target]
          if (id && world.has(id)) world.change(id, o.add, o.remove)
        } else {
          const id = ids[o.target]
          if (id && world.has(id)) o.reparent ? world.removeReparent(id) : world.removeCascade([id])
        }
      }
      commit()
    }),
    { numRuns: 200 },
  )
})

const transports = await transportsUnderTest()

for (const [name, make] of transports) {
  describe(`place over ${name}: client state equals the place's at every applied revision, with state loss`, () => {
    const closers: Array<() => Promise<void>> = []
    after(async () => {
      for (const c of closers.reverse()) await c().catch(() => {})
    })

    test('random spawn/change/remove sequences from two agents', async () => {
      const runs = name === 'in-memory' ? 25 : 8
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { minLength: 5, maxLength: 30 }),
          fc.double({ min: 0, max: 0.6, noNaN: true }),
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          async (ops, loss, seed) => {
            let s = seed
            const rand = () => {
              s = (s * 1103515245 + 12345) % 2 ** 31
              return s / 2 ** 31
            }
            const transport = make()
            const { place } = await startTestPlace(transport, { tickMs: 15, minTickGapMs: 5 })
            const clients: AlloClient[] = []
            try {
              let lossOn = true
              const mismatches: string[] = []
              let checked = 0
              const observer = await connectClient(place, transport, 'observer', {
                intentIntervalMs: 10,
                dropIncoming: (ch, _d, reliable) => lossOn && ch === 2 && !reliable && rand() < loss,
              })
              clients.push(observer)
              observer.on('state', (st) => {
                const snap = place.world.snapshotAt(st.revision)
                if (!snap) return
                checked++
                try {
                  assert.deepStrictEqual(st.entities, JSON.parse(JSON.stringify(setEntities(snap))))
                } catch (err) {
                  mismatches.push(`revision ${st.revision}: ${(err as Error).message.slice(0, 500)}`)
                }
              })
              const agents = [
                await connectClient(place, transport, 'a0'),
                await connectClient(place, transport, 'a1'),
              ]
              clients.push(...agents)
              const ids: string[] = []
              for (const o of ops) {
                if (o.kind === 'tick') {
                  await new Promise((r) => setTimeout(r, 20))
                  continue
                }
                const agent = agents[o.by]
                if (o.kind === 'spawn') {
                  const parent = o.parent === null ? undefined : ids[o.parent]
                  const exists = parent !== undefined && place.world.has(parent)
                  ids.push(await agent.spawnEntity(specOf(o, exists ? parent : undefined)))
                } else if (o.kind === 'change') {
                  const id = ids[o.target]
                  if (id && place.world.has(id)) await agent.changeComponents(id, o.add, o.remove)
                } else {
                  const id = ids[o.target]
                  if (id && place.world.has(id))
                    await agent.removeEntity(id, o.reparent ? 'reparent' : 'cascade')
                }
              }
              // Losses stop: the observer must converge on the place's current state.
              lossOn = false
              const target = place.world.revision + 2
              await observer.waitForState((st) => st.revision >= target, 15_000)
              assert.deepEqual(mismatches, [])
              assert.ok(checked > 0)
              const latest = place.world.snapshotAt(observer.state.revision)
              if (latest)
                assert.deepStrictEqual(
                  observer.state.entities,
                  JSON.parse(JSON.stringify(setEntities(latest))),
                )
            } finally {
              for (const c of clients) await c.disconnect().catch(() => {})
              await place.close()
            }
          },
        ),
        { numRuns: runs },
      )
    })
  })
}
