/** The asset relay on its own (no network): sources, failover, bad data, departures, cache. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ASSET_DATA,
  ASSET_FAILURE,
  ASSET_REQUEST,
  decodeAsset,
  encodeAsset,
} from '../../../src/core/place/asset-wire.js'
import { AssetRelay } from '../../../src/core/place/assets.js'

interface P {
  id: string
  got: Array<{ mid: number; header: Record<string, unknown>; data: Buffer }>
}
const peer = (id: string): P => ({ id, got: [] })

function relay(peers: P[], warnings: string[] = []) {
  return new AssetRelay<P>({
    send: (p, msg) => {
      const m = decodeAsset(msg)
      assert.ok(typeof m !== 'string')
      p.got.push(m)
    },
    sourcesFor: (req) => peers.filter((p) => p !== req),
    warn: (_p, m) => void warnings.push(m),
    fetchTimeoutMs: 200,
  })
}

const ID = `asset:sha256:${'a'.repeat(64)}`
const request = (range?: [number, number]) =>
  encodeAsset(ASSET_REQUEST, range ? { id: ID, range } : { id: ID })
const data = (bytes: Buffer, offset = 0, total = bytes.length) =>
  encodeAsset(ASSET_DATA, { id: ID, range: [offset, bytes.length], total_length: total }, bytes)

test('no other agent: the requester gets mid 3 at once', () => {
  const a = peer('a')
  relay([a]).handle(a, request())
  assert.equal(a.got[0].mid, ASSET_FAILURE)
  assert.equal(a.got[0].header.error_reason, 'Server could not find asset')
})

test('a source that lacks it is struck; the next one delivers; later requests come from the cache', () => {
  const [a, b, c] = [peer('a'), peer('b'), peer('c')]
  const r = relay([a, b, c])
  r.handle(a, request())
  assert.equal(b.got[0].mid, ASSET_REQUEST)
  assert.equal(c.got[0].mid, ASSET_REQUEST)
  r.handle(b, encodeAsset(ASSET_FAILURE, { id: ID, error_reason: 'Chunk not available', error_code: 1 }))
  assert.equal(a.got.length, 0)
  r.handle(c, data(Buffer.from('hello')))
  assert.equal(a.got[0].mid, ASSET_DATA)
  assert.equal(a.got[0].data.toString(), 'hello')
  r.handle(b, request([1, 3]))
  assert.deepEqual(b.got.at(-1)?.header, { id: ID, range: [1, 3], total_length: 5 })
  assert.equal(b.got.at(-1)?.data.toString(), 'ell')
  r.handle(b, request([9, 3]))
  assert.equal(b.got.at(-1)?.mid, ASSET_FAILURE)
})

test('data that does not match its header strikes the source; unsolicited data is ignored', () => {
  const warnings: string[] = []
  const [a, b, c] = [peer('a'), peer('b'), peer('c')]
  const r = relay([a, b, c], warnings)
  r.handle(c, data(Buffer.from('nobody asked')))
  r.handle(a, request())
  r.handle(b, encodeAsset(ASSET_DATA, { id: ID, range: [0, 10], total_length: 10 }, Buffer.from('short')))
  assert.ok(warnings.some((w) => /does not match its header/.test(w)))
  assert.equal(a.got.length, 0)
  r.handle(c, data(Buffer.from('right')))
  assert.equal(a.got[0].data.toString(), 'right')
})

test('big assets are fetched chunk by chunk from one source; a source leaving mid-way fails over', () => {
  const [a, b, c] = [peer('a'), peer('b'), peer('c')]
  const r = relay([a, b, c])
  const total = Buffer.alloc(1048576 + 10, 7)
  r.handle(a, request())
  r.handle(b, data(total.subarray(0, 1048576), 0, total.length))
  assert.deepEqual(b.got.at(-1)?.header, { id: ID, range: [1048576, 10] }, 'asks b for the rest')
  r.forget(b)
  assert.deepEqual(c.got.at(-1)?.header, { id: ID, range: [0, 1048576] }, 'starts over with c')
  r.handle(c, data(total.subarray(0, 1048576), 0, total.length))
  r.handle(c, data(total.subarray(1048576), 1048576, total.length))
  assert.equal(a.got[0].mid, ASSET_DATA)
  assert.deepEqual(a.got[0].header, { id: ID, range: [0, 1048576], total_length: total.length })
  r.close()
})

test('every source gone or silent: requesters get mid 3', async () => {
  const [a, b] = [peer('a'), peer('b')]
  const r = relay([a, b])
  r.handle(a, request())
  r.forget(b)
  assert.equal(a.got.at(-1)?.mid, ASSET_FAILURE)
  const c = peer('c')
  const r2 = relay([a, c])
  r2.handle(a, request())
  await new Promise((res) => setTimeout(res, 400))
  assert.equal(a.got.at(-1)?.mid, ASSET_FAILURE, 'timed out')
})

test('the relay asks only the sources the place names for that asset (and passes published_by on)', () => {
  const [a, b, c] = [peer('a'), peer('b'), peer('c')]
  const asked: unknown[] = []
  const r = new AssetRelay<P>({
    send: (p, msg) => {
      const m = decodeAsset(msg)
      assert.ok(typeof m !== 'string')
      p.got.push(m)
    },
    sourcesFor: (req, id, publishedBy) => {
      asked.push([req.id, id, publishedBy])
      return [c]
    },
    warn: () => {},
  })
  r.handle(a, encodeAsset(ASSET_REQUEST, { id: ID, range: [0, 10], published_by: 'someentity' }))
  assert.deepEqual(asked, [['a', ID, 'someentity']])
  assert.equal(b.got.length, 0, 'an agent the place did not name is not asked')
  assert.equal(c.got[0].mid, ASSET_REQUEST)
  r.close()
})
