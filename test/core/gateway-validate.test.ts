/** Pure parts of the gateway: request checks, identity display names, the registry's limits, log lines. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatHumanLine } from '../../src/core/gateway/log.js'
import { Registry } from '../../src/core/gateway/registry.js'
import { listeningLine } from '../../src/core/gateway/server.js'
import {
  appNameFromTarget,
  checkBootArgs,
  checkContentType,
  checkIdentityHeader,
  checkPlaceHeader,
  displayNameOf,
  HttpError,
  singleHeader,
  unescapeNewlinesOutsideStrings,
} from '../../src/core/gateway/validate.js'
import type { Instance } from '../../src/core/launcher.js'

function statusOf(fn: () => unknown): number {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof HttpError, `expected an HttpError, got ${err}`)
    assert.doesNotMatch(err.message, /\n/, 'error messages are one line')
    return err.status
  }
  return 200
}

describe('appNameFromTarget', () => {
  it('takes the single path segment, ignoring a trailing slash and the query', () => {
    assert.equal(appNameFromTarget('/allo-clock'), 'allo-clock')
    assert.equal(appNameFromTarget('/allo-clock/'), 'allo-clock')
    assert.equal(appNameFromTarget('/allo_clock.v2?x=1&y=2'), 'allo_clock.v2')
    assert.equal(appNameFromTarget('/my%2Dapp'), 'my-app')
  })

  const refused: Array<[string, number]> = [
    ['/', 400],
    ['/..', 400],
    ['/.', 400],
    ['/%2e%2e', 400],
    ['/%2E%2E%2Fetc', 400],
    ['/..%2f..%2fetc', 400],
    ['/.hidden', 400],
    ['/%2ehidden', 400],
    ['/-rf', 400],
    ['/a%00b', 400],
    ['/a%5cb', 400],
    ['/%', 400],
    ['/%zz', 400],
    ['/a b', 400],
    ['/a;id', 400],
    ['/$(id)', 400],
    [`/${'a'.repeat(101)}`, 400],
    ['*', 400],
    ['http://evil.example/alpha', 400],
    ['/a/b', 404],
    ['/../etc/passwd', 404],
    ['//etc', 404],
    ['/alpha/../../outside', 404],
  ]
  for (const [target, status] of refused) {
    it(`refuses ${JSON.stringify(target)} with ${status}`, () => {
      assert.equal(
        statusOf(() => appNameFromTarget(target)),
        status,
      )
    })
  }
})

describe('checkPlaceHeader', () => {
  it('returns the canonical alloplace:// URL', () => {
    assert.equal(checkPlaceHeader('alloplace://localhost:21337'), 'alloplace://localhost:21337')
    assert.equal(checkPlaceHeader('alloplace://place.example.com'), 'alloplace://place.example.com:21337')
    assert.equal(checkPlaceHeader('alloplace://[::1]:9'), 'alloplace://[::1]:9')
  })
  for (const bad of [
    undefined,
    '',
    '-alloplace://x',
    '--help',
    'alloplace://x; rm -rf ~',
    'alloplace://$(id)',
    'alloplace://`id`',
    'alloplace://a b',
    'alloplace://a\tb',
    'alloplace://a\nb',
    'http://localhost',
    'alloplace://localhost:99999',
    'alloplace://u:p@localhost',
    'alloplace://localhost/x',
    `alloplace://${'a'.repeat(400)}`,
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () =>
      assert.equal(
        statusOf(() => checkPlaceHeader(bad)),
        400,
      ))
  }
})

describe('checkIdentityHeader', () => {
  it('passes the value through untouched, decoding UTF-8 from the raw header bytes', () => {
    const identity = '{\\n\t"display_name":\t"launch-app"\\n}'
    assert.equal(checkIdentityHeader(identity), identity)
    const utf8 = '{"display_name":"Åsa 🚀"}'
    assert.equal(checkIdentityHeader(Buffer.from(utf8).toString('latin1')), utf8)
  })
  it('refuses missing, too long, control characters and invalid UTF-8', () => {
    assert.equal(
      statusOf(() => checkIdentityHeader(undefined)),
      400,
    )
    assert.equal(
      statusOf(() => checkIdentityHeader('')),
      400,
    )
    assert.equal(
      statusOf(() => checkIdentityHeader('x'.repeat(9000))),
      400,
    )
    assert.equal(
      statusOf(() => checkIdentityHeader('{"a":"\u0001"}')),
      400,
    )
    assert.equal(
      statusOf(() => checkIdentityHeader('{"a":"\u0000"}')),
      400,
    )
    assert.equal(
      statusOf(() => checkIdentityHeader('\xff\xfe')),
      400,
    )
  })
})

describe('singleHeader', () => {
  it('finds a header case-insensitively and refuses duplicates', () => {
    assert.equal(singleHeader(['X-Alloverse-Server', 'a', 'Host', 'h'], 'x-alloverse-server'), 'a')
    assert.equal(singleHeader(['Host', 'h'], 'x-alloverse-server'), undefined)
    assert.equal(
      statusOf(() =>
        singleHeader(['x-alloverse-server', 'a', 'X-ALLOVERSE-SERVER', 'b'], 'x-alloverse-server'),
      ),
      400,
    )
  })
})

describe('checkContentType and checkBootArgs', () => {
  it('wants application/json', () => {
    checkContentType('application/json')
    checkContentType('Application/JSON; charset=utf-8')
    assert.equal(
      statusOf(() => checkContentType(undefined)),
      415,
    )
    assert.equal(
      statusOf(() => checkContentType('text/plain')),
      415,
    )
    assert.equal(
      statusOf(() => checkContentType('application/x-www-form-urlencoded')),
      415,
    )
  })
  it('returns the body text exactly as received when it is a JSON object', () => {
    const body = '{\n\t"initialLocation":\t[1, 0],\n\t"avatarToken":\t"abc"\n}'
    assert.equal(checkBootArgs(Buffer.from(body)), body)
  })
  for (const bad of ['', '[]', '"x"', '1', 'null', '{bad', '{"a":1', '\u0000{}']) {
    it(`refuses body ${JSON.stringify(bad)}`, () =>
      assert.equal(
        statusOf(() => checkBootArgs(Buffer.from(bad))),
        400,
      ))
  }
  it('refuses a body that is not UTF-8', () => {
    assert.equal(
      statusOf(() => checkBootArgs(Buffer.from([0x7b, 0xff, 0x7d]))),
      400,
    )
  })
})

describe('displayNameOf', () => {
  it('reads the display name from the escaped identity a place sends', () => {
    assert.equal(displayNameOf('{\\n\t"display_name":\t"launch-app"\\n}'), 'launch-app')
    assert.equal(displayNameOf('{"display_name":"plain"}'), 'plain')
    assert.equal(displayNameOf('{\\n\t"display_name":\t"two\\nlines"\\n}'), 'two\nlines')
  })
  it('gives undefined when there is none', () => {
    assert.equal(displayNameOf('not json'), undefined)
    assert.equal(displayNameOf('{"display_name":3}'), undefined)
    assert.equal(displayNameOf('[]'), undefined)
  })
  it('leaves \\n inside strings alone', () => {
    assert.equal(unescapeNewlinesOutsideStrings('{\\n"a":"x\\ny"\\n}'), '{\n"a":"x\\ny"\n}')
    assert.equal(unescapeNewlinesOutsideStrings('"\\\\"\\n'), '"\\\\"\n')
  })
})

describe('Registry limits', () => {
  const fakeInstance = (pid: number) => ({ pid, startedAt: new Date() }) as unknown as Instance
  it('counts starting launches against both limits and frees slots on release and remove', () => {
    const reg = new Registry({ maxInstances: 3, maxPerPlace: 2 })
    const a = reg.reserve('p1')
    const b = reg.reserve('p1')
    assert.equal(
      statusOf(() => reg.reserve('p1')),
      429,
    )
    const c = reg.reserve('p2')
    assert.equal(
      statusOf(() => reg.reserve('p3')),
      503,
    )
    reg.release(c)
    reg.release(c) // twice is harmless
    const rec = reg.add(a, { app: 'alpha', instance: fakeInstance(10) })
    reg.add(b, { app: 'alpha', instance: fakeInstance(11) })
    assert.equal(reg.size, 2)
    assert.equal(reg.starting, 0)
    assert.match(rec.tag, /^alpha#\d+$/)
    assert.match(rec.id, /^[0-9a-f]{12}$/)
    reg.remove(rec.id)
    reg.remove(rec.id)
    assert.equal(reg.size, 1)
    reg.reserve('p1') // a p1 slot is free again
  })
  it('has no limits at 0', () => {
    const reg = new Registry({ maxInstances: 0, maxPerPlace: 0 })
    for (let i = 0; i < 1000; i++) reg.reserve('p')
    assert.equal(reg.starting, 1000)
  })
})

describe('output lines', () => {
  it('says where it listens and what it serves', () => {
    const g = { url: 'http://127.0.0.1:8000/', port: 8000, mode: 'apps-root' as const, serving: '/srv/apps' }
    assert.equal(
      listeningLine(g),
      'Gateway listening on http://127.0.0.1:8000/ (all interfaces, port 8000), serving the apps under /srv/apps: POST /<app> launches one',
    )
    assert.equal(
      listeningLine({ ...g, mode: 'single-app', serving: 'allo-clock' }, '127.0.0.1'),
      'Gateway listening on http://127.0.0.1:8000/, serving allo-clock: POST / launches it',
    )
  })
  it('stamps human log lines with the time', () => {
    assert.equal(
      formatHumanLine('info', 'hello', new Date('2026-01-02T03:04:05.678Z')),
      '03:04:05.678 hello\n',
    )
  })
})
