/**
 * The place's protocol, driven by our allonet client: entities, ownership, interactions,
 * list_agents, clock, assets, announce rules, media and animations. Runs over the real UDP ENet
 * transport and over the in-memory one.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import type { AlloClient, Interaction } from '../../../src/core/place/client.js'
import type { RevisionEvent } from '../../../src/core/place/place.js'
import { CHANNEL } from '../../../src/core/place/transport.js'
import {
  connectClient,
  spinAnimation,
  startTestPlace,
  transportsUnderTest,
  waitForPlace,
} from '../../helpers/place.js'

const transports = await transportsUnderTest()

for (const [name, make] of transports) {
  describe(`place protocol over ${name}`, () => {
    const cleanup: Array<() => Promise<void>> = []
    after(async () => {
      for (const f of cleanup.reverse()) await f().catch(() => {})
    })
    async function setup(opts: Parameters<typeof startTestPlace>[1] = {}) {
      const transport = make()
      const { place, log } = await startTestPlace(transport, opts)
      cleanup.push(() => place.close())
      const clients: AlloClient[] = []
      const join = async (who: string, o: Parameters<typeof connectClient>[3] = {}) => {
        const c = await connectClient(place, transport, who, o)
        clients.push(c)
        cleanup.push(() => c.disconnect())
        return c
      }
      return { place, log, join, transport }
    }

    test('announce: avatar spawned with its children, place name answered, first state is a set', async () => {
      const { place, join } = await setup()
      const alice = await join('alice', {
        avatar: {
          transform: { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] },
          children: [{ intent: { actuate_pose: 'hand/right' } }],
        },
      })
      assert.equal(alice.placeName, 'Test place')
      const firstSet = new Promise((resolve) => alice.once('state', (_s, m) => resolve(m.patchStyle)))
      const state = await alice.waitForState((s) => s.entities[alice.avatarId as string] !== undefined)
      const hand = Object.values(state.entities).find(
        (e) => (e.components.relationships as { parent?: string })?.parent === alice.avatarId,
      )
      assert.ok(hand, 'the avatar child exists, parented to the avatar')
      assert.deepEqual(hand.components.intent, { actuate_pose: 'hand/right' })
      assert.ok(state.entities.place.components.clock, 'the place entity carries the clock')
      assert.ok(['set', 'merge'].includes((await firstSet) as string))
      const snap = place.snapshot()
      assert.equal(snap.entities.find((e) => e.id === alice.avatarId)?.ownerName, 'alice')
      assert.equal(snap.entities.find((e) => e.id === 'place')?.owner, null)
    })

    test('intents: a hand with intent.actuate_pose follows the pose in its agent’s intents', async () => {
      const { join } = await setup()
      const visor = await join('visor', {
        avatar: {
          children: [
            {
              intent: { actuate_pose: 'hand/right' },
              transform: { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], size: [1, 1, 1] },
            },
          ],
        },
      })
      const other = await join('other')
      const st = await other.waitForState((s) =>
        Object.values(s.entities).some((e) => e.components.intent !== undefined),
      )
      const hand = Object.values(st.entities).find((e) => e.components.intent !== undefined)?.id as string
      const pose = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.2, 1.3, -0.5, 1]
      const poses = (visor.intent.poses as Record<string, unknown>) ?? {}
      visor.intent = {
        ...visor.intent,
        poses: { ...poses, 'hand/right': { matrix: pose, skeleton: [], grab: {} } },
      }
      const moved = await other.waitForState(
        (s) => (s.entities[hand]?.components.transform as { matrix?: number[] })?.matrix?.[12] === 0.2,
      )
      assert.deepEqual(moved.entities[hand].components.transform, { matrix: pose, size: [1, 1, 1] })
      // A broken pose (not 16 numbers) is ignored.
      visor.intent = { ...visor.intent, poses: { ...poses, 'hand/right': { matrix: ['x'] } } }
      const rev = other.state.revision
      await other.waitForState((s) => s.revision > rev + 3)
      assert.deepEqual((other.state.entities[hand].components.transform as { matrix: number[] }).matrix, pose)
    })

    test('event stream: agent connected/announced/disconnected, interactions with their route, revisions', async () => {
      const { place, join } = await setup()
      const agentEvents: string[] = []
      const routes: string[] = []
      let revisions = 0
      place.on('agent', (e) => agentEvents.push(`${e.kind}:${e.agent.displayName ?? '?'}`))
      place.on('interaction', (e) => routes.push(`${e.route}:${String((e.body as unknown[])[0])}`))
      place.on('revision', () => revisions++)
      const a = await join('a')
      const b = await join('b')
      const thing = await b.spawnEntity({ ui: { view_id: 'x' } })
      a.oneway(thing, ['point', [0, 0, 0], [0, 0, 1]])
      await b.waitForInteraction((i) => i.type === 'oneway')
      await a.request('nothing-here', ['poke', true])
      await a.disconnect()
      await waitForPlace(place, () => agentEvents.includes('disconnected:a'))
      assert.deepEqual(agentEvents, [
        'connected:?',
        'announced:a',
        'connected:?',
        'announced:b',
        'disconnected:a',
      ])
      assert.deepEqual(routes, [
        'place:announce',
        'place:announce',
        'place:spawn_entity',
        'forwarded:point',
        'dropped:poke',
      ])
      const next = await new Promise<RevisionEvent>((r) => place.once('revision', r))
      assert.ok(revisions > 0)
      assert.equal(next.entityCount, 3, 'place, b’s avatar and b’s entity')
    })

    test('states: a set until the agent acks, then merges from exactly the acked revision', async () => {
      const { join } = await setup()
      const bob = await join('bob', { intentIntervalMs: 0 })
      const first = await new Promise<{ style: string }>((r) =>
        bob.once('state', (_s, m) => r({ style: m.patchStyle })),
      )
      assert.equal(first.style, 'set', 'no ack yet: a full set')
      const acked = bob.state.revision
      bob.sendIntent()
      const merge = await new Promise<{ style: string; from?: number }>((resolve) => {
        const on = (_s: unknown, m: { patchStyle: string; patchFrom?: number }) => {
          if (m.patchStyle !== 'merge') return
          bob.off('state', on)
          resolve({ style: m.patchStyle, from: m.patchFrom })
        }
        bob.on('state', on)
      })
      assert.equal(merge.from, acked)
    })

    test('two agents see each other’s entities, changes and removals', async () => {
      const { join } = await setup()
      const alice = await join('alice')
      const bob = await join('bob')
      const box = await alice.spawnEntity({
        transform: { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1.5, -1, 1] },
        collider: { type: 'box', width: 1, height: 1, depth: 1 },
        children: [{ text: { string: 'label' } }],
      })
      const seen = await bob.waitForState((s) => s.entities[box] !== undefined)
      assert.deepEqual(seen.entities[box].components.collider, { type: 'box', width: 1, height: 1, depth: 1 })
      const label = Object.values(seen.entities).find(
        (e) => (e.components.relationships as { parent?: string })?.parent === box,
      )
      assert.ok(label, 'the child entity arrives with relationships.parent')
      const bobsThing = await bob.spawnEntity({ material: { color: [1, 0, 0, 1] } })
      await alice.waitForState((s) => s.entities[bobsThing] !== undefined)
      assert.deepEqual(
        (await alice.waitForState((s) => s.entities[bobsThing] !== undefined)).entities[bobsThing].components
          .transform,
        { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] },
        'an entity without a transform gets the identity',
      )
      await alice.changeComponents(box, { text: { string: 'hi' } }, ['collider'])
      const changed = await bob.waitForState((s) => s.entities[box]?.components.text !== undefined)
      assert.equal(changed.entities[box].components.collider, undefined)
      assert.deepEqual(changed.entities[box].components.text, { string: 'hi' })
      await alice.removeEntity(box)
      const removed = await bob.waitForState((s) => s.entities[box] === undefined)
      assert.equal(removed.entities[label.id], undefined, 'cascade removed the child')
    })

    test('ownership: foreign change/remove allowed with a warning; an agent’s entities leave with it', async () => {
      const { place, log, join } = await setup()
      const alice = await join('alice')
      const bob = await join('bob')
      const a1 = await alice.spawnEntity({
        text: { string: 'a1' },
        children: [{ text: { string: 'a1 child' } }],
      })
      const a2 = await alice.spawnEntity({ text: { string: 'a2' } })
      const b1 = await bob.spawnEntity({ text: { string: 'b1' } })
      const owners = new Map(place.snapshot().entities.map((e) => [e.id, e.ownerName]))
      assert.equal(owners.get(a1), 'alice')
      assert.equal(owners.get(b1), 'bob')
      await bob.changeComponents(a2, { text: { string: 'bob was here' } })
      assert.ok(log.has(/warn .*"bob".*changed entity .* owned by "alice"/), log.lines.join('\n'))
      assert.equal(
        place.snapshot().entities.find((e) => e.id === a2)?.owner,
        place.agentList().find((a) => a.displayName === 'alice')?.agentId,
        'ownership does not move',
      )
      const aliceAgent = place.agentList().find((a) => a.displayName === 'alice')
      await bob.waitForState((s) => s.entities[a1] !== undefined && s.entities[a2] !== undefined)
      await alice.disconnect()
      await waitForPlace(place, () => !place.snapshot().entities.some((e) => e.owner === aliceAgent?.agentId))
      const left = await bob.waitForState((s) => s.entities[a1] === undefined)
      assert.equal(left.entities[a2], undefined)
      assert.equal(left.entities[alice.avatarId as string], undefined)
      assert.ok(left.entities[b1], 'bob keeps his entity')
      assert.equal(
        Object.values(left.entities).filter(
          (e) => (e.components.text as { string?: string })?.string === 'a1 child',
        ).length,
        0,
      )
      assert.ok(log.has(/disconnected: "alice".*removed 4 entities/), log.lines.join('\n'))
    })

    test('interactions: request/response and oneway routed to the owner; unknown receivers answered', async () => {
      const { join } = await setup()
      const app = await join('app')
      const visor = await join('visor')
      const button = await app.spawnEntity({ ui: { view_id: 'button' } })
      app.on('interaction', (i: Interaction) => {
        if (i.type === 'request' && Array.isArray(i.body) && i.body[0] === 'poke')
          app.respond(i, ['poke', 'ok', i.body[1]])
      })
      const oneway = app.waitForInteraction((i) => i.type === 'oneway')
      visor.oneway(button, ['point', [0, 1, 0], [0, 1, -1]])
      const got = await oneway
      assert.equal(got.sender, visor.avatarId)
      assert.equal(got.receiver, button)
      assert.equal(got.requestId, '')
      assert.deepEqual(got.body, ['point', [0, 1, 0], [0, 1, -1]])
      assert.deepEqual(await visor.request(button, ['poke', true]), ['poke', 'ok', true])
      assert.deepEqual(await visor.request('nosuchentity', ['poke', true]), [
        'poke',
        'error',
        'invalid request',
      ])
      assert.deepEqual(await visor.request('', ['hello']), ['hello', 'error', 'invalid request'])
      assert.deepEqual(await visor.request('place', ['subscribe', 'x']), [
        'subscribe',
        'error',
        'invalid request',
      ])
    })

    test('list_agents lists announced agents only, with avatar ids and visor flags', async () => {
      const { join } = await setup()
      const app = await join('app')
      await join('visor', { avatar: { visor: { display_name: 'v' } } })
      await join('lurker', { announce: false })
      const list = await app.listAgents()
      assert.deepEqual(list.map((a) => a.display_name).sort(), ['app', 'visor'])
      const v = list.find((a) => a.display_name === 'visor')
      assert.equal(v?.is_visor, true)
      assert.equal(typeof v?.agent_id, 'string')
      assert.equal(String(v?.agent_id).length, 16)
      assert.equal(list.find((a) => a.display_name === 'app')?.avatar_id, app.avatarId)
    })

    test('kick_agent disconnects the agent; unknown agents are reported', async () => {
      const { place, join } = await setup()
      const admin = await join('admin')
      const victim = await join('victim')
      const gone = new Promise((r) => victim.once('disconnected', r))
      const id = place.agentList().find((a) => a.displayName === 'victim')?.agentId
      assert.deepEqual(await admin.request('place', ['kick_agent', id]), ['list_agents', 'ok'])
      await gone
      assert.deepEqual(await admin.request('place', ['kick_agent', 'nobody']), [
        'list_agents',
        'error',
        'agent not found',
      ])
      assert.deepEqual(await admin.request('place', ['kick_agent']), [
        'kick_agent',
        'error',
        'invalid request',
      ])
    })

    test('clock: the reply echoes client_time and adds server_time; the same clock is in the state', async () => {
      const { place, join } = await setup()
      const alice = await join('alice')
      const sample = await alice.syncClock()
      assert.ok(sample.serverTime > 0)
      assert.ok(Math.abs(sample.serverTime - place.serverTime()) < 5)
      const state = await alice.waitForState((s) => s.revision > 0)
      assert.equal(typeof (state.entities.place.components.clock as { time: number }).time, 'number')
    })

    test('assets: requests go to the other agents, the answer is relayed (large ones in chunks) and cached', async () => {
      const { join } = await setup()
      const app = await join('app')
      const visor = await join('visor')
      const small = Buffer.from('quit.png stand-in bytes')
      const smallId = app.serveAsset(small)
      assert.deepEqual(await visor.requestAsset(smallId), small)
      const big = Buffer.alloc(1048576 * 2 + 1234)
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251
      const bigId = app.serveAsset(big)
      assert.ok((await visor.requestAsset(bigId, 30_000)).equals(big))
      await app.disconnect()
      assert.deepEqual(await visor.requestAsset(smallId), small, 'cached by the place after its source left')
      await assert.rejects(visor.requestAsset(`asset:sha256:${'0'.repeat(64)}`), /not available/)
    })

    test('announce: protocol 3 gets 1003 and is disconnected without an avatar; a second announce is refused', async () => {
      const { place, log, join } = await setup()
      const old = await join('old', { announce: false })
      const disconnected = new Promise((r) => old.once('disconnected', r))
      await assert.rejects(old.announce({ version: 3 }), (err: Error & { body?: unknown }) => {
        assert.deepEqual(err.body, [
          'announce',
          'error',
          1003,
          'Please update your app. Outdated network protocol.',
        ])
        return true
      })
      await disconnected
      assert.equal(place.snapshot().entities.length, 1, 'only the place entity: no avatar was created')
      assert.ok(log.has(/refused .*protocol version 3/))
      const twice = await join('twice')
      const res = await twice.request('place', ['announce', 'version', 4, 'identity', {}, 'spawn_avatar', {}])
      assert.deepEqual(res, ['announce', 'error', 1002, 'Already announced.'])
      assert.equal(place.snapshot().entities.filter((e) => e.ownerName === 'twice').length, 1)
    })

    test('remove_entity: failed for unknown ids; reparent keeps the children as roots', async () => {
      const { join } = await setup()
      const a = await join('a')
      const parent = await a.spawnEntity({
        children: [{ text: { string: 'c1' } }, { text: { string: 'c2' } }],
      })
      await a.waitForState((st) => st.entities[parent] !== undefined)
      assert.deepEqual(await a.request('place', ['remove_entity', 'nosuchthing']), [
        'remove_entity',
        'failed',
      ])
      assert.deepEqual(await a.request('place', ['remove_entity', 'place']), ['remove_entity', 'failed'])
      await a.removeEntity(parent, 'reparent')
      const s = await a.waitForState((st) => st.entities[parent] === undefined)
      const orphans = Object.values(s.entities).filter((e) =>
        (e.components.text as { string?: string })?.string?.startsWith('c'),
      )
      assert.equal(orphans.length, 2)
      for (const o of orphans) assert.equal(o.components.relationships, undefined)
    })

    test('property animations are stored in the sender entity and removable', async () => {
      const { join } = await setup()
      const a = await join('a')
      const anim = spinAnimation()
      const res = await a.request('place', ['add_property_animation', anim])
      assert.equal(res[1], 'ok')
      const id = String(res[2])
      assert.match(id, /^[a-y]{8}$/)
      const s = await a.waitForState(
        (st) => st.entities[a.avatarId as string]?.components.property_animations !== undefined,
      )
      assert.deepEqual(s.entities[a.avatarId as string].components.property_animations, {
        animations: { [id]: anim },
      })
      assert.deepEqual(await a.request('place', ['add_property_animation', { path: 'x' }]), [
        'add_property_animation',
        'failed',
        'invalid argument',
      ])
      assert.deepEqual(await a.request('place', ['remove_property_animation', id]), [
        'remove_property_animation',
        'ok',
        id,
      ])
      assert.deepEqual(await a.request('place', ['remove_property_animation', id]), [
        'remove_property_animation',
        'failed',
        "can't remove that animation because it doesn't exist",
      ])
      assert.deepEqual(await a.request('place', ['remove_property_animation']), [
        'remove_property_animation',
        'failed',
        'missing animation ID',
      ])
    })

    test('media: allocate_track adds live_media; subscribers get the origin’s packets, others’ are dropped', async () => {
      const { join } = await setup()
      const speaker = await join('speaker')
      const listener = await join('listener')
      const res = await speaker.request('place', [
        'allocate_track',
        'audio',
        'opus',
        { sample_rate: 48000, channel_count: 1 },
      ])
      assert.deepEqual(res, ['allocate_track', 'ok', 1])
      assert.deepEqual(await speaker.request('place', ['allocate_track', 'audio', 'opus', {}]), [
        'allocate_track',
        'failed',
        'only one track allowed per entity',
      ])
      const st = await listener.waitForState(
        (s) => s.entities[speaker.avatarId as string]?.components.live_media !== undefined,
      )
      assert.deepEqual(st.entities[speaker.avatarId as string].components.live_media, {
        track_id: 1,
        type: 'audio',
        format: 'opus',
        metadata: { sample_rate: 48000, channel_count: 1 },
      })
      assert.deepEqual(await listener.request('place', ['media_track', 1, 'subscribe']), [
        'media_track',
        'ok',
        1,
      ])
      assert.deepEqual(await listener.request('place', ['media_track', 9, 'subscribe']), [
        'media_track',
        'failed',
        'invalid track id',
      ])
      assert.deepEqual(await listener.request('place', ['media_track', 1, 'listen']), [
        'media_track',
        'failed',
        'incorrect verb',
      ])
      const packets: Buffer[] = []
      const got = new Promise<void>((resolve) => {
        listener.on('media', (channel, data) => {
          assert.equal(channel, CHANNEL.audio)
          packets.push(data)
          resolve()
        })
      })
      const forged = Buffer.from([0, 0, 0, 1, 9, 9, 9, 9])
      listener.sendRaw(CHANNEL.audio, forged, true) // not the origin: dropped
      const frame = Buffer.from([0, 0, 0, 1, 1, 2, 3, 4, 5])
      speaker.sendRaw(CHANNEL.audio, frame, true)
      await got
      assert.deepEqual(packets, [frame])
    })
  })
}
