/**
 * Helpers for place tests: a place on an ephemeral port, clients connected to it, and a log that
 * tests can read. `transportUnderTest()` is the real UDP ENet transport unless a test passes the
 * in-memory one.
 */
import { AlloClient, type ClientOptions } from '../../src/core/place/client.js'
import { Place, type PlaceOptions } from '../../src/core/place/place.js'
import type { Transport } from '../../src/core/place/transport.js'

export class MemoryLog {
  lines: string[] = []
  info = (m: string) => void this.lines.push(`info ${m}`)
  warn = (m: string) => void this.lines.push(`warn ${m}`)
  debug = (m: string) => void this.lines.push(`debug ${m}`)
  has(re: RegExp): boolean {
    return this.lines.some((l) => re.test(l))
  }
  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length
  }
}

export async function startTestPlace(
  transport: Transport | undefined,
  opts: Partial<PlaceOptions> = {},
): Promise<{ place: Place; log: MemoryLog }> {
  const log = new MemoryLog()
  const place = await Place.start({ host: '127.0.0.1', port: 0, name: 'Test place', log, transport, ...opts })
  return { place, log }
}

export async function connectClient(
  place: Place,
  transport: Transport | undefined,
  name: string,
  opts: ClientOptions & { avatar?: Record<string, unknown>; announce?: boolean } = {},
): Promise<AlloClient> {
  const client = await AlloClient.connect({ host: '127.0.0.1', port: place.port }, { transport, ...opts })
  if (opts.announce !== false)
    await client.announce({ identity: { display_name: name }, avatar: opts.avatar })
  return client
}

/** Resolves when `test` holds, checking after every place revision. */
export function waitForPlace(place: Place, test: () => boolean, timeoutMs = 10_000): Promise<void> {
  if (test()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      place.off('revision', on)
      reject(new Error('place condition not met in time'))
    }, timeoutMs)
    const on = () => {
      if (!test()) return
      clearTimeout(timer)
      place.off('revision', on)
      resolve()
    }
    place.on('revision', on)
  })
}

/**
 * The transports a protocol suite runs over: the real UDP ENet (src/core/enet) and the in-memory
 * stand-in (which can lose messages on purpose).
 */
export async function transportsUnderTest(): Promise<Array<[string, () => Transport]>> {
  const { FakeNetwork } = await import('./fake-enet.js')
  const { EnetHost } = await import('../../src/core/enet/index.js')
  return [
    ['udp enet', () => EnetHost],
    ['in-memory', () => new FakeNetwork()],
  ]
}

/** A repeating linear turn about y (alloui's add_property_animation body), stored by the place as given. */
export function spinAnimation() {
  return {
    path: 'transform.matrix.rotation.y',
    from: 0,
    to: 3.14,
    start_at: 0,
    duration: 2,
    easing: 'linear',
    repeats: true,
    autoreverses: false,
  }
}
