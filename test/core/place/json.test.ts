/** cJSON-style printing and merge patches, checked against bytes from the recorded real sessions. */

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { cjsonNumber, cjsonPrint } from '../../../src/core/place/json.js'
import { buildLaunchRequest, gatewayTarget, identityHeader } from '../../../src/core/place/launch.js'
import { applyMergePatch, generateMergePatch } from '../../../src/core/place/merge-patch.js'

const TRACES = fileURLToPath(new URL('../../fixtures/traces', import.meta.url))
interface Line {
  dir: string
  channel: number
  payload?: { json?: string }
  reassembled?: { json?: string }
}
const lines = (f: string): Line[] =>
  readFileSync(`${TRACES}/${f}`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line)

test('cjsonPrint reproduces every formatted channel 1 and 5 payload of both recordings byte for byte', () => {
  let checked = 0
  for (const file of ['template-app-session.jsonl', 'launch-flow.jsonl']) {
    for (const l of lines(file)) {
      const text = (l.payload ?? l.reassembled)?.json
      if (!text || (l.channel !== 1 && l.channel !== 5)) continue
      assert.equal(cjsonPrint(JSON.parse(text)), text)
      checked++
    }
  }
  assert.ok(checked > 100, `checked ${checked} payloads`)
})

test('cjsonPrint formats intents (empty objects on their own lines) as the real client does', () => {
  const intent = lines('template-app-session.jsonl').find((l) => l.channel === 2 && l.dir === 'client→place')
  const text = intent?.payload?.json as string
  assert.match(text, /"grab":\t\{\n\t+\}/)
  assert.equal(cjsonPrint(JSON.parse(text)), text)
})

test('cjsonNumber follows cJSON: ints plainly, %1.15g, 17 digits when needed, null for non-finite', () => {
  assert.equal(cjsonNumber(1), '1')
  assert.equal(cjsonNumber(-2), '-2')
  assert.equal(cjsonNumber(1.2), '1.2')
  assert.equal(cjsonNumber(6678.111), '6678.111')
  assert.equal(cjsonNumber(0.72549019607843), '0.72549019607843')
  assert.equal(cjsonNumber(0.1 + 0.2), '0.30000000000000004')
  assert.equal(cjsonNumber(1e-5), '1e-05')
  assert.equal(cjsonNumber(1e20), '1e+20')
  assert.equal(cjsonNumber(9007199254740990), '9.00719925474099e+15')
  assert.equal(cjsonNumber(Number.NaN), 'null')
  assert.equal(cjsonNumber(Number.POSITIVE_INFINITY), 'null')
})

test('the launch POST is byte-identical to the 383 bytes the real place sent (launch-flow.txt Part A)', () => {
  const hex = readFileSync(`${TRACES}/launch-flow.txt`, 'utf8')
    .split('PART B')[0]
    .split('\n')
    .filter((l) => /^[0-9a-f]{8}: /.test(l))
    .map((l) => l.slice(10, 49).replace(/ /g, ''))
    .join('')
  const expected = Buffer.from(hex, 'hex')
  assert.equal(expected.length, 383)
  const target = gatewayTarget('alloapp:http://127.0.0.1:8000/')
  assert.ok(target)
  const body = cjsonPrint({
    initialLocation: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1.2, -2, 1],
    avatarToken: 'qjxqqpahyrdqgvhuyph',
  })
  const got = buildLaunchRequest(target, body, { display_name: 'launch-app' }, 'alloplace://localhost:21337')
  assert.equal(got.toString('latin1'), expected.toString('latin1'))
})

test('gatewayTarget: plain HTTP to host:port whatever the scheme, port 80 by default, path and query kept', () => {
  assert.deepEqual(gatewayTarget('alloapp:https://example.com/apps/clock?x=1'), {
    host: 'example.com',
    port: 80,
    hostHeader: 'example.com',
    path: '/apps/clock?x=1',
  })
  assert.equal(gatewayTarget('alloapp:http://[::1]:8000/')?.hostHeader, '[::1]:8000')
  assert.equal(gatewayTarget('alloapp:not a url'), undefined)
  assert.equal(gatewayTarget('http://x/'), undefined)
  assert.equal(identityHeader({ display_name: 'a' }), '{\\n\t"display_name":\t"a"\\n}')
})

test('merge patches: generate then apply gives the target; arrays replaced; deletions are null', () => {
  const from = { a: { b: 1, c: [1, 2] }, d: 'x', e: { f: 1 } }
  const to = { a: { b: 2, c: [1, 2] }, e: { f: 1 }, g: { h: [3] } }
  const patch = generateMergePatch(from, to)
  assert.deepEqual(patch, { d: null, a: { b: 2 }, g: { h: [3] } })
  assert.deepEqual(applyMergePatch(from, patch), to)
  assert.equal(generateMergePatch(to, structuredClone(to)), undefined)
  assert.deepEqual(applyMergePatch({ a: [1] }, { a: { x: 1 } }), { a: { x: 1 } })
})
