/**
 * Hostile and broken input (allonet-protocol.md §7): every case gets the recommended behaviour —
 * an error response, or a dropped message with a log line — and afterwards the place still serves
 * a bystander agent whose entities are untouched.
 */
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { after, before, describe, test } from 'node:test'
import type { AlloClient } from '../../../src/core/place/client.js'
import { cjsonPrint } from '../../../src/core/place/json.js'
import type { Place } from '../../../src/core/place/place.js'
import { CHANNEL } from '../../../src/core/place/transport.js'
import { connectClient, type MemoryLog, startTestPlace, transportsUnderTest } from '../../helpers/place.js'

const transports = await transportsUnderTest()

const env = (type: string, sender: string, receiver: string, reqId: string, body: unknown) =>
  cjsonPrint(['interaction', type, sender, receiver, reqId, body])

/** JSON text of an object nested `levels` deep (built as text: JSON.stringify would overflow). */
function deepJson(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`
}

function asset(mid: number, header: string, data = Buffer.alloc(0), hlen?: number): Buffer {
  const h = Buffer.from(header)
  const out = Buffer.alloc(4)
  out.writeUInt16BE(mid, 0)
  out.writeUInt16BE(hlen ?? h.length, 2)
  return Buffer.concat([out, h, data])
}

interface Ctx {
  attackerAvatar: string
  bystanderEntity: string
}

interface HostileCase {
  name: string
  channel: number
  reliable?: boolean
  /** What to send; a function gets ids from the running session. */
  data: string | Buffer | ((c: Ctx) => string | Buffer)
  /** A response body the attacker must get (request id HOSTILE). */
  reply?: unknown[]
  /** A log line the place must write. */
  log?: RegExp
  /** The attacker is disconnected. */
  disconnects?: boolean
  /** The attacker must not be announced first. */
  fresh?: boolean
}

const R = 'HOSTILE0000000000'

/** The change_components request (id R) that adds or changes `add` on `entity` and removes nothing. */
const changeComponents = (entity: string, add: Record<string, unknown>) =>
  env('request', '', 'place', R, ['change_components', entity, 'add_or_change', add, 'remove', []])

const cases: HostileCase[] = [
  {
    name: 'non-JSON on the commands channel',
    channel: 1,
    data: '["interaction", "request", ',
    log: /not a JSON array/,
  },
  {
    name: 'JSON object instead of an envelope',
    channel: 1,
    data: '{"interaction": true}',
    log: /not a JSON array/,
  },
  {
    name: 'envelope with fewer than 6 elements',
    channel: 1,
    data: '["interaction", "request", "", "place"]',
    log: /is not \["interaction"/,
  },
  {
    name: 'envelope not starting with "interaction"',
    channel: 1,
    data: '["hello", "request", "", "place", "x", ["list_agents"]]',
    log: /is not \["interaction"/,
  },
  {
    name: 'envelope with a numeric sender',
    channel: 1,
    data: '["interaction", "request", 5, "place", "x", ["list_agents"]]',
    log: /is not a string/,
  },
  {
    name: 'request with a body that is not an array',
    channel: 1,
    data: env('request', '', 'place', R, { announce: 1 }),
    reply: ['', 'error', 'invalid request'],
  },
  {
    name: 'request to an entity with body[0] not a string (not forwarded)',
    channel: 1,
    data: (c) => env('request', c.attackerAvatar, c.bystanderEntity, R, [42, 'x']),
    reply: ['', 'error', 'invalid request'],
  },
  {
    name: 'oneway with a broken body (dropped, not forwarded)',
    channel: 1,
    data: (c) => env('oneway', c.attackerAvatar, c.bystanderEntity, '', { point: 1 }),
    log: /not \["name", …\]/,
  },
  {
    name: 'unknown place interaction',
    channel: 1,
    data: env('request', '', 'place', R, ['lock', 'x']),
    reply: ['lock', 'error', 'invalid request'],
  },
  {
    name: 'request to an entity that does not exist',
    channel: 1,
    data: env('request', '', 'nosuchthing', R, ['poke', true]),
    reply: ['poke', 'error', 'invalid request'],
  },
  {
    name: 'announce with missing elements',
    channel: 1,
    fresh: true,
    data: env('request', '', 'place', R, ['announce', 'version', 4]),
    // liballonet reads a refusal as [.., "error", code number, message string] (client.c parse_interaction)
    reply: ['announce', 'error', 1002, 'Invalid announce.'],
    disconnects: true,
  },
  {
    name: 'announce with an identity that is not an object',
    channel: 1,
    fresh: true,
    data: env('request', '', 'place', R, ['announce', 'version', 4, 'identity', 'me', 'spawn_avatar', {}]),
    reply: ['announce', 'error', 1002, 'Invalid announce: identity.'],
    disconnects: true,
  },
  {
    name: 'announce with a spawn_avatar that is not an entity spec',
    channel: 1,
    fresh: true,
    data: env('request', '', 'place', R, ['announce', 'version', 4, 'identity', {}, 'spawn_avatar', 7]),
    reply: ['announce', 'error', 1002, 'Invalid announce: avatar.'],
    disconnects: true,
  },
  {
    name: 'announce with an avatar parented to an entity that does not exist',
    channel: 1,
    fresh: true,
    data: env('request', '', 'place', R, [
      'announce',
      'version',
      4,
      'identity',
      {},
      'spawn_avatar',
      { relationships: { parent: 'nosuchthing' } },
    ]),
    reply: [
      'announce',
      'error',
      1002,
      'Invalid avatar: relationships.parent names entity "nosuchthing", which does not exist',
    ],
    disconnects: true,
  },
  {
    name: 'second announce from the same agent',
    channel: 1,
    data: env('request', '', 'place', R, ['announce', 'version', 4, 'identity', {}, 'spawn_avatar', {}]),
    reply: ['announce', 'error', 1002, 'Already announced.'],
  },
  {
    name: 'oneway ["announce", "error", …] to another agent’s entity (not forwarded: it would end that agent’s session)',
    channel: 1,
    data: (c) =>
      env('oneway', c.attackerAvatar, c.bystanderEntity, '', ['announce', 'error', 1003, 'go away']),
    log: /only the place answers announces/,
  },
  {
    name: 'request ["announce", <id>] to another agent’s entity (not forwarded: it would replace that agent’s avatar id)',
    channel: 1,
    data: (c) => env('request', c.attackerAvatar, c.bystanderEntity, R, ['announce', 'hijacked', 'x']),
    reply: ['announce', 'error', 1002, 'an announce must be sent to "place"'],
  },
  {
    name: 'interaction with an unpaired surrogate escape (cJSON cannot parse it; never forwarded)',
    channel: 1,
    data: (c) =>
      `["interaction", "oneway", "${c.attackerAvatar}", "${c.bystanderEntity}", "", ["point", "\\ud800"]]`,
    log: /unpaired UTF-16 surrogate/,
  },
  {
    name: 'spawn_entity with an unpaired surrogate escape in a component (would break every C client’s state)',
    channel: 1,
    data: `["interaction", "request", "", "place", "${R}", ["spawn_entity", {"text": {"string": "\\udc00"}}]]`,
    log: /unpaired UTF-16 surrogate/,
  },
  {
    name: 'spawn_entity parented to an entity that does not exist',
    channel: 1,
    data: env('request', '', 'place', R, ['spawn_entity', { relationships: { parent: 'nosuchthing' } }]),
    reply: ['spawn_entity', 'error', 'invalid request'],
    log: /names entity "nosuchthing", which does not exist/,
  },
  {
    name: 'change_components moving an entity under one that does not exist (alloui would crash on it)',
    channel: 1,
    data: (c) => changeComponents(c.attackerAvatar, { relationships: { parent: 'nosuchthing' } }),
    reply: [
      'change_components',
      'error',
      'relationships.parent names entity "nosuchthing", which does not exist',
    ],
  },
  {
    name: 'change_components with property_animations lacking "animations" (visors’ simulation would crash)',
    channel: 1,
    data: (c) => changeComponents(c.attackerAvatar, { property_animations: { spin: true } }),
    reply: ['change_components', 'error', 'property_animations.animations must be an object of animations'],
  },
  {
    name: 'spawn_entity with a property animation without a path',
    channel: 1,
    data: env('request', '', 'place', R, [
      'spawn_entity',
      { property_animations: { animations: { abc: { from: 0, to: 1 } } } },
    ]),
    reply: ['spawn_entity', 'error', 'invalid request'],
    log: /needs a string path, from and to/,
  },
  {
    name: 'change_components making an entity its own parent',
    channel: 1,
    data: (c) => changeComponents(c.attackerAvatar, { relationships: { parent: c.attackerAvatar } }),
    log: /its own ancestor/,
  },
  {
    name: 'change_components with missing fields',
    channel: 1,
    data: env('request', '', 'place', R, ['change_components']),
    reply: ['change_components', 'error', 'invalid request'],
  },
  {
    name: 'change_components on an unknown entity',
    channel: 1,
    data: changeComponents('nosuchthing', {}),
    reply: ['change_components', 'error', 'no such entity'],
  },
  {
    name: 'change_components on the place entity',
    channel: 1,
    data: changeComponents('place', { clock: {} }),
    reply: ['change_components', 'error', 'the place entity cannot be changed'],
  },
  {
    name: 'change_components with a non-object component value (on the bystander’s entity)',
    channel: 1,
    data: (c) => changeComponents(c.bystanderEntity, { text: 'boom' }),
    reply: ['change_components', 'error', 'component "text" must be an object'],
  },
  {
    name: 'change_components with a component value nested 66 deep',
    channel: 1,
    data: (c) =>
      `["interaction", "request", "", "place", "${R}", ["change_components", "${c.attackerAvatar}", "add_or_change", {"x": ${deepJson(66)}}, "remove", []]]`,
    reply: ['change_components', 'error', 'component "x" nests deeper than 64 levels'],
  },
  {
    name: 'change_components with a 10 000-deep component value',
    channel: 1,
    data: (c) =>
      `["interaction", "request", "", "place", "${R}", ["change_components", "${c.attackerAvatar}", "add_or_change", {"x": ${deepJson(10_000)}}, "remove", []]]`,
    reply: ['change_components', 'error', 'invalid request'],
  },
  {
    name: 'spawn_entity with a spec that is not an object',
    channel: 1,
    data: env('request', '', 'place', R, ['spawn_entity', 'cube']),
    reply: ['spawn_entity', 'error', 'invalid request'],
  },
  {
    name: 'spawn_entity with children nested 100 deep',
    channel: 1,
    data: () => {
      let spec: Record<string, unknown> = {}
      for (let i = 0; i < 100; i++) spec = { children: [spec] }
      return JSON.stringify(['interaction', 'request', '', 'place', R, ['spawn_entity', spec]])
    },
    reply: ['spawn_entity', 'error', 'invalid request'],
  },
  {
    name: 'spawn_entity with relationships.parent not a string',
    channel: 1,
    data: env('request', '', 'place', R, ['spawn_entity', { relationships: { parent: 5 } }]),
    reply: ['spawn_entity', 'error', 'invalid request'],
  },
  {
    name: 'launch_app from a sender entity that does not exist',
    channel: 1,
    data: env('request', 'nosuchthing', 'place', R, ['launch_app', 'alloapp:http://127.0.0.1:9/']),
    reply: ['launch_app', 'error', 'invalid request'],
  },
  {
    name: 'launch_app before announcing',
    channel: 1,
    fresh: true,
    data: env('request', '', 'place', R, ['launch_app', 'alloapp:http://127.0.0.1:9/']),
    reply: ['launch_app', 'error', 'invalid request'],
  },
  {
    name: 'launch_app with a missing URL',
    channel: 1,
    data: (c) => env('request', c.attackerAvatar, 'place', R, ['launch_app']),
    reply: ['launch_app', 'error', 'invalid request'],
  },
  {
    name: 'launch_app with a non-string URL',
    channel: 1,
    data: (c) => env('request', c.attackerAvatar, 'place', R, ['launch_app', 42]),
    reply: ['launch_app', 'error', 'invalid request'],
  },
  {
    name: 'launch_app with an http: URL (not alloapp:)',
    channel: 1,
    data: (c) => env('request', c.attackerAvatar, 'place', R, ['launch_app', 'http://127.0.0.1:9/']),
    reply: ['launch_app', 'error', 'invalid request'],
  },
  {
    name: 'add_property_animation from a sender entity that does not exist',
    channel: 1,
    data: env('request', 'nosuchthing', 'place', R, [
      'add_property_animation',
      { path: 'a', from: 0, to: 1 },
    ]),
    reply: ['add_property_animation', 'failed', 'no such sender entity'],
  },
  {
    name: 'allocate_track from a sender entity that does not exist',
    channel: 1,
    data: env('request', 'nosuchthing', 'place', R, ['allocate_track', 'audio', 'opus', {}]),
    reply: ['allocate_track', 'failed', 'no such sender entity'],
  },
  {
    name: 'media_track without id or verb',
    channel: 1,
    data: env('request', '', 'place', R, ['media_track']),
    reply: ['media_track', 'failed', 'missing id or verb'],
  },
  {
    name: 'malformed JSON intent',
    channel: 2,
    reliable: false,
    data: '{"cmd": "intent", "intent": {',
    log: /not \{"cmd": "intent"/,
  },
  {
    name: 'intent without zmovement',
    channel: 2,
    reliable: false,
    data: '{"cmd":"intent","intent":{"xmovement":0,"yaw":0,"pitch":0,"ack_state_rev":0}}',
    log: /without a numeric "zmovement"/,
  },
  {
    name: 'malformed JSON on the clock channel',
    channel: 5,
    reliable: false,
    data: '{"client_time":',
    log: /clock message/,
  },
  {
    name: 'clock message with a string client_time',
    channel: 5,
    reliable: false,
    data: '{"client_time":"now"}',
    log: /clock message/,
  },
  {
    name: 'asset message shorter than 4 bytes',
    channel: 3,
    data: Buffer.from([0, 1, 0]),
    log: /shorter than its 4-byte header/,
  },
  {
    name: 'asset header length past the end',
    channel: 3,
    data: asset(1, '{"id":"x"}', undefined, 500),
    log: /runs past the end/,
  },
  { name: 'asset header that is not JSON', channel: 3, data: asset(1, '{"id":'), log: /not a JSON object/ },
  {
    name: 'asset request without an id (answered with mid 3, code 2)',
    channel: 3,
    data: asset(1, '{"range":[0,10]}'),
    log: /malformed asset request/,
  },
  {
    name: 'asset message with an unknown mid',
    channel: 3,
    data: asset(9, '{"id":"x"}'),
    log: /unknown mid 9/,
  },
  {
    name: 'media packet shorter than 7 bytes',
    channel: 0,
    data: Buffer.from([0, 0, 0, 1, 2]),
    log: /shorter than 7 bytes/,
  },
  {
    name: 'oversized reliable message (over the cap)',
    channel: 1,
    data: Buffer.alloc(300_000, 0x20),
    disconnects: true,
    log: /300000-byte message/,
  },
]

for (const [name, make] of transports) {
  describe(`hostile input over ${name}`, () => {
    let place: Place
    let log: MemoryLog
    let bystander: AlloClient
    let bystanderEntity: string
    let before_: string
    const transport = make()
    const open: AlloClient[] = []

    before(async () => {
      ;({ place, log } = await startTestPlace(transport, { maxMessageBytes: 256 * 1024 }))
      bystander = await connectClient(place, transport, 'bystander')
      open.push(bystander)
      bystanderEntity = await bystander.spawnEntity({
        text: { string: 'mine' },
        children: [{ collider: { type: 'box' } }],
      })
      await bystander.waitForState((s) => s.entities[bystanderEntity] !== undefined)
      before_ = bystanderView()
    })
    after(async () => {
      for (const c of open) await c.disconnect().catch(() => {})
      await place.close()
    })

    function bystanderView(): string {
      const snap = place.snapshot()
      return JSON.stringify(snap.entities.filter((e) => e.ownerName === 'bystander'))
    }

    /** The place still answers the bystander and sends it states, and none of its entities changed. */
    async function assertBystanderServedAndUntouched(): Promise<void> {
      const agents = await bystander.listAgents()
      assert.ok(agents.some((x) => x.display_name === 'bystander'))
      const rev = bystander.state.revision
      await bystander.waitForState((s) => s.revision > rev)
      assert.equal(bystanderView(), before_)
    }

    let attacker: AlloClient | undefined
    async function getAttacker(fresh: boolean): Promise<AlloClient> {
      if (attacker && (fresh || !attacker.connected || attacker.avatarId === undefined)) {
        await attacker.disconnect().catch(() => {})
        attacker = undefined
      }
      if (!attacker) {
        attacker = await connectClient(place, transport, 'attacker', {
          announce: !fresh,
          intentIntervalMs: 0,
          clockIntervalMs: 0,
        })
        open.push(attacker)
      }
      return attacker
    }

    test(`the table has at least 20 cases (${cases.length})`, () => assert.ok(cases.length >= 20))

    for (const c of cases) {
      test(c.name, async () => {
        const a = await getAttacker(c.fresh === true)
        const data =
          typeof c.data === 'function'
            ? c.data({ attackerAvatar: a.avatarId ?? '', bystanderEntity })
            : c.data
        const linesBefore = log.lines.length
        const forwarded: unknown[] = []
        const onFwd = (i: { sender: string; receiver: string }) => {
          if (i.receiver === bystanderEntity) forwarded.push(i)
        }
        bystander.on('interaction', onFwd)
        const reply = c.reply ? a.waitForInteraction((i) => i.requestId === R) : undefined
        const gone = c.disconnects ? new Promise((r) => a.once('disconnected', r)) : undefined
        a.sendRaw(
          c.channel,
          data,
          c.reliable ?? (c.channel === CHANNEL.commands || c.channel === CHANNEL.assets),
        )
        if (reply) assert.deepEqual((await reply).body, c.reply)
        if (gone) await gone
        if (c.log) {
          const re = c.log
          await waitFor(
            () => log.lines.slice(linesBefore).some((l) => re.test(l)),
            () => log.lines.slice(linesBefore).join('\n'),
          )
        }
        // The place still serves the bystander, and nothing of the bystander's changed.
        await assertBystanderServedAndUntouched()
        bystander.off('interaction', onFwd)
        assert.deepEqual(forwarded, [], 'nothing broken was forwarded to the bystander')
      })
    }

    if (name === 'udp enet') {
      const datagrams: Array<[string, Buffer]> = [
        ['datagram with the COMPRESSED bit', Buffer.from('40001234860100010005aaaaaaaaaa', 'hex')],
        ['datagram over 4096 bytes', Buffer.alloc(5000, 0x86)],
        ['truncated command', Buffer.from('8fff12348201', 'hex')],
        ['unknown command number', Buffer.from('8fff12348dff0001', 'hex')],
        ['CONNECT with channelCount 0', connectDatagram(0)],
        ['CONNECT with channelCount 300', connectDatagram(300)],
        ['data for a peer slot that does not exist', Buffer.from('807712348601000100036162', 'hex')],
      ]
      for (const [what, bytes] of datagrams) {
        test(`raw UDP: ${what}`, async () => {
          const sock = createSocket('udp4')
          await new Promise<void>((r) => sock.send(bytes, place.port, '127.0.0.1', () => r()))
          sock.close()
          await assertBystanderServedAndUntouched()
        })
      }
    }
  })
}

function connectDatagram(channels: number): Buffer {
  const b = Buffer.alloc(52)
  b.writeUInt16BE(0x8fff, 0)
  b.writeUInt16BE(0x1234, 2)
  b.set([0x82, 0xff, 0x00, 0x01], 4)
  b.writeUInt16BE(0, 8)
  b[10] = 0xff
  b[11] = 0xff
  b.writeUInt32BE(1400, 12)
  b.writeUInt32BE(65536, 16)
  b.writeUInt32BE(channels, 20)
  b.writeUInt32BE(5000, 32)
  b.writeUInt32BE(2, 36)
  b.writeUInt32BE(2, 40)
  b.writeUInt32BE(0xdeadbeef, 44)
  return b
}

async function waitFor(test: () => boolean, show: () => string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!test()) {
    if (Date.now() - start > timeoutMs) assert.fail(`condition not met; log:\n${show()}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
