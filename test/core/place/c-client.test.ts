/**
 * Our place against a client written in C on the libraries liballonet is built on — the real C
 * ENet (Debian libenet) and the real cJSON (Debian libcjson): test/fixtures/place/allo-c-client.c
 * applies world states by allonet's client rules (64-state history, set / merge from patch_from,
 * last state per poll, ack in the intent) and stops with "FATAL" wherever liballonet or alloui
 * would crash on what the place sent (docs/compatibility-audit.md). liballonet itself cannot be
 * built here (no network), so this is the closest real-library check; the test says so.
 *
 * Needs cc, libenet-dev and libcjson-dev.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { AlloClient } from '../../../src/core/place/client.js'
import type { Place } from '../../../src/core/place/place.js'
import { CPeer, fnv1a } from '../../helpers/enet.js'
import { connectClient, spinAnimation, startTestPlace } from '../../helpers/place.js'
import { seededRandom } from '../../helpers/rng.js'

const SOURCE = fileURLToPath(new URL('../../fixtures/place/allo-c-client.c', import.meta.url))
let dir = ''
let bin = ''
const peers: CPeer[] = []

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'allo-c-client-'))
  bin = join(dir, 'allo-c-client')
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, SOURCE, '-lenet', '-lcjson', '-lm'], { stdio: 'pipe' })
  } catch (err) {
    const e = err as { stderr?: Buffer }
    throw new Error(
      `cannot compile the C allonet stand-in (needs cc, libenet-dev and libcjson-dev): ${e.stderr?.toString() ?? err}`,
    )
  }
})

after(async () => {
  for (const p of peers) await p.kill9().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

function startC(place: Place): CPeer {
  const c = new CPeer(bin, ['127.0.0.1', String(place.port)])
  peers.push(c)
  return c
}

/** Sends a stdin command and waits for the first line after it matching `re`. */
async function step(c: CPeer, line: string, re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  const from = c.lines.length
  c.command(line)
  return c.waitFor(re, timeoutMs, from)
}

function noFatal(c: CPeer): void {
  const bad = c.lines.filter((l) => /^(FATAL|BROKEN|announce-refused)/.test(l))
  assert.deepEqual(bad, [], `the C client hit trouble:\n${c.lines.slice(-40).join('\n')}`)
}

/** Numbers and strings in every form JSON.stringify prints that cJSON then has to parse. */
function values(r: () => number): () => unknown {
  const strings = [
    '',
    'Hello!',
    'tab\there',
    'quote " and \\ backslash',
    'ctl \u0001\u001f',
    'é ✓ 😀',
    '\u2028',
  ]
  return () => {
    switch (Math.floor(r() * 9)) {
      case 0:
        return Math.floor(r() * 1000) - 500
      case 1:
        return r() * 1000 - 500
      case 2:
        return (r() - 0.5) * 1e-7
      case 3:
        return r() * 1e21
      case 4:
        return 2 ** 31 + Math.floor(r() * 1000)
      case 5:
        return strings[Math.floor(r() * strings.length)]
      case 6:
        return r() < 0.5
      case 7:
        return Array.from({ length: 16 }, () => Math.round((r() - 0.5) * 1e6) / 1e3)
      default:
        return { nested: { deeper: [r(), 'x'] } }
    }
  }
}

/**
 * JSON equality where numbers may differ in the last bit: the C client's dump is printed by cJSON,
 * whose printer keeps %1.15g when it reads back within DBL_EPSILON (cJSON.c print_number), so its
 * text can lose the last binary digit of a double it holds exactly.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number')
    return a === b || Math.abs(a - b) <= Math.max(Math.abs(a), Math.abs(b)) * Number.EPSILON
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  return ka.every(
    (k) =>
      Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  )
}

function entitiesAt(place: Place, rev: number): Record<string, unknown> {
  const snap = place.world.snapshotAt(rev)
  assert.ok(snap, `the place no longer has revision ${rev}`)
  const out: Record<string, unknown> = {}
  for (const rec of snap.entities.values()) out[rec.id] = { id: rec.id, components: rec.components }
  return out
}

/** Waits until the C client applied a revision ≥ `rev`, dumps its state and compares it to the place's. */
async function assertSameState(c: CPeer, place: Place, rev: number): Promise<void> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const applied = c.matching(/^applied (\d+) /).map((m) => Number(m[1]))
    if (applied.length && Math.max(...applied) >= rev) break
    assert.ok(
      Date.now() < deadline,
      `the C client did not apply revision ${rev}:\n${c.lines.slice(-20).join('\n')}`,
    )
    await c.waitFor(/^applied /, 15_000, c.lines.length)
  }
  const m = await step(c, 'dump', /^state (\d+) (.*)$/s)
  const cRev = Number(m[1])
  assert.ok(cRev >= rev)
  const theirs = JSON.parse(m[2]) as Record<string, unknown>
  const ours = entitiesAt(place, cRev)
  assert.deepEqual(Object.keys(theirs).sort(), Object.keys(ours).sort(), `entity ids at revision ${cRev}`)
  for (const id of Object.keys(ours))
    assert.ok(
      sameJson(theirs[id], ours[id]),
      `entity ${id} at revision ${cRev}:\nC:     ${JSON.stringify(theirs[id])}\nplace: ${JSON.stringify(ours[id])}`,
    )
}

const AVATAR = {
  transform: { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1.2, -2, 1], size: [1, 0.5, 0.01] },
  ui: { view_id: 'cAppMainView0001' },
  collider: { type: 'box', width: 1, height: 0.5, depth: 0.01 },
  grabbable: { grabbable: true },
  children: [],
}

test('a C client on real ENet + cJSON: boots, builds UI, follows 120 random world changes, gets interactions and assets, leaves cleanly', async () => {
  const seed = Number(process.env.PLACE_C_SEED ?? 20261125)
  const r = seededRandom(seed)
  const value = values(r)
  const { place } = await startTestPlace(undefined, { name: 'C test place' })
  let other: AlloClient | undefined
  let viewer: AlloClient | undefined
  try {
    const c = startC(place)
    await c.waitFor(/^connected 6$/)
    const [, avatar, placeName] = await step(
      c,
      `announce c-app ${JSON.stringify(AVATAR)}`,
      /^announced ([a-y]{10}) (.*)$/,
    )
    assert.equal(placeName, 'C test place')
    await c.waitFor(/^clock \d+\.\d+ \d+\.\d+$/)
    // The app's UI, as the template app builds it: a button under the avatar, a label and cube under it.
    const [, button] = await step(
      c,
      `spawn s1 ${JSON.stringify({
        relationships: { parent: avatar },
        ui: { view_id: 'cAppButton000001' },
        transform: { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.1, -0.05, 0.025, 1] },
        collider: { type: 'box', width: 0.2, height: 0.2, depth: 0.1 },
        children: [
          { text: { string: 'Hello! ✓', height: 0.05 } },
          { geometry: { type: 'hardcoded-model', name: 'cube' } },
        ],
      })}`,
      /^response s1 \["spawn_entity","([a-y]{10})"\]$/,
    )
    await step(
      c,
      `change c1 ${button} {"material": {"color": [0.72549019607843, 0.2, 0.1, 1]}, "cursor": []}`,
      /^response c1 \["change_components","ok"\]$/,
    )
    await assertSameState(c, place, place.revision)

    // Another agent changes the world at random while the C client follows.
    other = await connectClient(place, undefined, 'churner')
    let mine: string[] = []
    const components = () => {
      const comps: Record<string, unknown> = {
        transform: { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, r(), r(), r(), 1] },
      }
      for (let k = 0; k < 1 + Math.floor(r() * 3); k++)
        comps[`c${Math.floor(r() * 6)}`] = { v: value(), w: value() }
      return comps
    }
    for (let i = 0; i < 120; i++) {
      mine = mine.filter((id) => place.world.has(id)) // cascades take descendants along
      const dice = r()
      if (dice < 0.4 || mine.length < 3) {
        const spec: Record<string, unknown> = components()
        if (mine.length && r() < 0.5) spec.relationships = { parent: mine[Math.floor(r() * mine.length)] }
        if (r() < 0.3) spec.children = [components(), { children: [components()] }]
        mine.push(await other.spawnEntity(spec))
      } else if (dice < 0.8) {
        const eid = mine[Math.floor(r() * mine.length)]
        await other.changeComponents(eid, components(), r() < 0.3 ? ['c1', 'c2'] : []).catch(() => {})
      } else {
        const k = Math.floor(r() * mine.length)
        const [eid] = mine.splice(k, 1)
        await other.removeEntity(eid, r() < 0.3 ? 'reparent' : 'cascade').catch(() => {})
      }
      if (i % 10 === 9) await new Promise((res) => setTimeout(res, 150 + r() * 250))
    }
    // Moving a view under another parent (the old parent stays): alloui updates its child lists.
    const [p1, p2] = [await other.spawnEntity(components()), await other.spawnEntity(components())]
    const moved = await other.spawnEntity({ ...components(), relationships: { parent: p1 } })
    await new Promise((res) => setTimeout(res, 300))
    await other.changeComponents(moved, { relationships: { parent: p2 } })
    // Property animations, as alloui adds them (stored in the sender entity; visors run them).
    await other.request('place', ['add_property_animation', spinAnimation()], { sender: moved })
    await assertSameState(c, place, place.revision)
    noFatal(c)

    // Interactions routed to the app: a point (oneway) and a poke (request) it answers.
    const pointed = c.lines.length
    other.oneway(button, ['point', [0, 1.2, -1.5], [0.1, 1.15, -1.95]], { sender: other.avatarId })
    await c.waitFor(
      new RegExp(`^interaction oneway ${other.avatarId} ${button} - \\["point",`),
      10_000,
      pointed,
    )
    const poke = other.request(button, ['poke', true], { sender: other.avatarId })
    const [, rid] = await c.waitFor(
      new RegExp(`^interaction request ${other.avatarId} ${button} (\\w+) \\["poke",true\\]$`),
      10_000,
      pointed,
    )
    c.command(`respond ${rid} ${button} ${other.avatarId} ["poke", "ok"]`)
    assert.deepEqual(await poke, ['poke', 'ok'])
    // list_agents from the app.
    const [, agents] = await step(c, 'request la1 place ["list_agents"]', /^response la1 (.*)$/)
    const list = JSON.parse(agents) as [string, string, Array<{ display_name: string }>]
    assert.deepEqual(list.slice(0, 2), ['list_agents', 'ok'])
    assert.deepEqual(list[2].map((a) => a.display_name).sort(), ['c-app', 'churner'])

    // Assets both ways through the place: the app fetches one the other agent has, and serves one.
    const theirs = Buffer.from(Array.from({ length: 3000 }, (_, k) => (k * 7) & 0xff))
    const theirId = other.serveAsset(theirs)
    const [, off, len, total, hash] = await step(
      c,
      `asset-request ${theirId}`,
      /^asset-data \S+ (\d+) (\d+) (\d+) ([0-9a-f]{8})$/,
    )
    assert.deepEqual([Number(off), Number(len), Number(total), hash], [0, 3000, 3000, fnv1a(theirs)])
    const file = join(dir, 'quit.png')
    const ours = Buffer.from(Array.from({ length: 5000 }, (_, k) => (k * 13) & 0xff))
    writeFileSync(file, ours)
    const ourId = `asset:sha256:${createHash('sha256').update(ours).digest('hex')}`
    await step(c, `asset-serve ${ourId} ${file}`, /^serving /)
    await step(
      c,
      `change c2 ${button} {"material": {"texture": "${ourId}"}}`,
      /^response c2 \["change_components","ok"\]$/,
    )
    assert.ok((await other.requestAsset(ourId)).equals(ours))
    // A third agent fetches a texture of the other agent's: only that agent is asked, not the
    // app, which lacks it (alloui would crash answering; the stand-in stops with FATAL).
    const texture = Buffer.from('a texture only the churner has')
    const textureId = other.serveAsset(texture)
    await other.spawnEntity({ material: { texture: textureId } })
    viewer = await connectClient(place, undefined, 'viewer')
    assert.ok((await viewer.requestAsset(textureId)).equals(texture))

    // Broken input from the other agent does not reach or break the app.
    other.sendRaw(
      1,
      `["interaction", "oneway", "${other.avatarId}", "${button}", "", ["announce", "error", 1003, "bye"]]`,
      true,
    )
    other.sendRaw(
      1,
      `["interaction", "request", "${other.avatarId}", "place", "bad1", ["spawn_entity", {"text": {"string": "\\ud800"}}]]`,
      true,
    )
    await other.changeComponents(mine[0] ?? p1, { relationships: { parent: 'nosuchthing' } }).catch(() => {})
    const rev = place.revision + 2
    await assertSameState(c, place, rev)
    noFatal(c)

    // Quitting: DISCONNECT is answered within liballonet's 1 s, and the app's entities go.
    await step(c, 'quit', /^disconnected (clean|timeout)$/)
    assert.ok(c.lines.includes('disconnected clean'), c.lines.slice(-5).join('\n'))
    await other.waitForState((s) => s.entities[avatar] === undefined && s.entities[button] === undefined)
    await c.exited
    assert.equal(c.child.exitCode, 0)
  } finally {
    await other?.disconnect().catch(() => {})
    await viewer?.disconnect().catch(() => {})
    await place.close()
  }
})

test('a C client reads the place’s announce refusals by liballonet’s rules (code number, message string)', async () => {
  const { place } = await startTestPlace(undefined)
  try {
    const c = startC(place)
    await c.waitFor(/^connected 6$/)
    await step(c, 'announce twice {}', /^announced /)
    await step(c, 'announce twice {}', /^announce-refused 1002 Already announced\.$/)
    await c.exited
    assert.equal(c.child.exitCode, 5)
    const c2 = startC(place)
    await c2.waitFor(/^connected 6$/)
    await step(c2, 'announce bad 7', /^announce-refused 1002 Invalid announce: avatar\.$/)
    await c2.exited
    assert.equal(c2.child.exitCode, 5)
  } finally {
    await place.close()
  }
})
