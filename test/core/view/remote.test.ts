/**
 * RemotePlace: the view's world and hand as a client of a place, over real UDP ENet. Against the
 * development place (in this process, reached only over the network): it joins, keeps the world
 * from the states, says "reconnecting" when the place goes, joins the new place on the same port,
 * and leaves cleanly. Against a place that refuses the announce: it gives up and says why.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EnetHost } from '../../../src/core/enet/index.js'
import { isUserError } from '../../../src/core/errors.js'
import { cjsonPrint } from '../../../src/core/place/json.js'
import type { PlaceStatus } from '../../../src/core/view/protocol.js'
import { RemotePlace, resolvePlaceHost } from '../../../src/core/view/remote.js'
import { connectClient, startTestPlace } from '../../helpers/place.js'
import { surfaceSpec } from '../../helpers/view.js'

function until(test: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const tick = () => {
      if (test()) return resolve()
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`timed out waiting for ${what}`))
      setTimeout(tick, 20)
    }
    tick()
  })
}

describe('RemotePlace', () => {
  it('joins, follows the world, reconnects to a restarted place, and leaves cleanly', async () => {
    let { place, log } = await startTestPlace(undefined, { name: 'First' })
    const port = place.port
    const app = await connectClient(place, undefined, 'an-app', { avatar: surfaceSpec() })
    const button = await app.spawnEntity({
      relationships: { parent: app.avatarId! },
      collider: { type: 'box' },
    })
    const statuses: PlaceStatus['state'][] = []
    const lines: string[] = []
    const remote = new RemotePlace({
      place: { host: '127.0.0.1', port, href: `alloplace://127.0.0.1:${port}` },
      name: 'test view',
      minBackoffMs: 50,
      maxBackoffMs: 200,
      peerTimeoutMs: 2000,
      onInfo: (m) => lines.push(m),
    })
    remote.subscribe({
      onChange() {},
      onInteraction() {},
      onStatus: () => statuses.push(remote.status().state),
    })
    let app2: Awaited<ReturnType<typeof connectClient>> | undefined
    try {
      assert.equal(remote.status().state, 'connecting')
      remote.start()
      await until(
        () => remote.status().state === 'live' && remote.current().entities.has(button),
        'the world',
      )
      const w = remote.current()
      assert.equal(w.placeName, 'First')
      assert.equal(w.entities.get(button)?.owner, 'app')
      assert.equal(w.entities.get(button)?.ownerId, app.avatarId)
      const me = remote.self()
      assert.ok(me.avatarId && me.handId)
      assert.equal(w.entities.get(me.handId!)?.owner, 'test view')
      assert.equal(w.agents.find((a) => a.id === me.avatarId)?.name, 'test view')

      // The place goes (and says goodbye): reconnecting, the last world kept.
      await app.disconnect()
      await place.close()
      await until(() => remote.status().state === 'reconnecting', 'reconnecting')
      assert.ok(remote.current().entities.has(button), 'the last world stays')
      assert.ok(lines.some((l) => /Lost the place/.test(l)))
      await assert.rejects(remote.fetchAsset(`asset:sha256:${'0'.repeat(64)}`), /not connected/)

      // A new place on the same port: joined again, the new world replaces the old.
      ;({ place, log } = await startTestPlace(undefined, { name: 'Second', port }))
      app2 = await connectClient(place, undefined, 'an-app', { avatar: surfaceSpec() })
      await until(
        () =>
          remote.status().state === 'live' &&
          remote.current().entities.has(app2!.avatarId!) &&
          !remote.current().entities.has(button),
        'the new world',
      )
      assert.equal(remote.current().placeName, 'Second')
      assert.deepEqual(
        statuses.filter((s, i) => s !== statuses[i - 1]),
        ['live', 'reconnecting', 'live'],
      )
    } finally {
      await remote.close()
      await app2?.disconnect().catch(() => {})
    }
    // Left with a DISCONNECT: the place says so at once (no timeout).
    await until(() => log.has(/disconnected: "test view"/), 'the place to see the view leave', 5000)
    assert.ok(!log.has(/timed out\): "test view"/))
    await place.close()
  })

  it('a place that refuses the announce (another protocol version) stops it, saying why', async () => {
    const host = await EnetHost.listen({ host: '127.0.0.1', port: 0 })
    host.on('receive', (peer, channel: number, data: Buffer) => {
      if (channel === 1 && data.toString().includes('"announce"'))
        peer.send(
          1,
          Buffer.from(
            cjsonPrint([
              'interaction',
              'response',
              'place',
              '',
              'ANN0',
              ['announce', 'error', 1003, 'Please update your app. Outdated network protocol.'],
            ]),
          ),
          { reliable: true },
        )
    })
    let fatal: Error | null = null
    const remote = new RemotePlace({
      place: { host: '127.0.0.1', port: host.address.port, href: 'alloplace://x' },
      minBackoffMs: 50,
      onFatal: (e) => {
        fatal = e
      },
    })
    try {
      remote.start()
      await until(() => fatal !== null, 'the refusal')
      assert.match((fatal as unknown as Error).message, /announce refused.*Outdated network protocol/)
      assert.notEqual(remote.status().state, 'live')
    } finally {
      await remote.close()
      await host.close()
    }
  })

  it('resolves the place host: IPv4 as is, names by DNS, an unknown name first a UserError, later a retry', async () => {
    assert.equal(await resolvePlaceHost('10.1.2.3', true), '10.1.2.3')
    assert.equal(await resolvePlaceHost('localhost', true), '127.0.0.1')
    const first = await resolvePlaceHost('no-such-host.invalid', true).catch((e) => e)
    assert.ok(isUserError(first), String(first))
    assert.match(first.message, /Cannot find the place's host "no-such-host.invalid"/)
    const later = await resolvePlaceHost('no-such-host.invalid', false).catch((e) => e)
    assert.ok(later instanceof Error && !isUserError(later))
    const v6 = await resolvePlaceHost('::1', true).catch((e) => e)
    assert.ok(isUserError(v6) && /IPv4 only/.test(v6.message))
  })
})
