/**
 * A world state bigger than ENet accepts in one message (32 MiB by default; a small limit here) is
 * held back with a warning instead of being sent: a C ENet client refuses the fragments of such a
 * packet without acknowledging them, so the place would otherwise time that client out.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connectClient, startTestPlace, waitForPlace } from '../../helpers/place.js'

test('a state over maxStateBytes is held back with one warning, and flows again once the world shrinks', async () => {
  const { place, log } = await startTestPlace(undefined, { maxStateBytes: 4000 })
  try {
    const a = await connectClient(place, undefined, 'a')
    const big = await a.spawnEntity({ text: { string: 'x'.repeat(5000) } })
    await waitForPlace(place, () => log.has(/world state is \d+ bytes, more than ENet clients accept/))
    const held = a.state.revision
    const heldAt = place.revision
    await waitForPlace(place, () => place.revision >= heldAt + 3)
    assert.equal(a.state.revision, held, 'no state was sent while the world was too big')
    assert.equal(a.state.entities[big], undefined)
    assert.equal(log.count(/world state is \d+ bytes/), 1, 'warned once')
    await a.removeEntity(big)
    await a.waitForState((s) => s.revision > heldAt + 3)
    assert.ok(log.has(/fits in one message again/))
    await a.disconnect()
  } finally {
    await place.close()
  }
})
