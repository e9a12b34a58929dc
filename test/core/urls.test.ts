import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { UserError } from '../../src/core/errors.js'
import { parseAppUrl, parsePlaceUrl } from '../../src/core/urls.js'

describe('parsePlaceUrl', () => {
  const good: Array<[string, string, number, string]> = [
    ['alloplace://localhost', 'localhost', 21337, 'alloplace://localhost:21337'],
    ['alloplace://localhost:21337', 'localhost', 21337, 'alloplace://localhost:21337'],
    ['alloplace://localhost/', 'localhost', 21337, 'alloplace://localhost:21337'],
    ['alloplace://place.example.com:1', 'place.example.com', 1, 'alloplace://place.example.com:1'],
    ['alloplace://10.0.0.7:65535', '10.0.0.7', 65535, 'alloplace://10.0.0.7:65535'],
    ['alloplace://[::1]:9000', '::1', 9000, 'alloplace://[::1]:9000'],
    [
      'alloplace://[fe80::1ff:fe23:4567:890a]',
      'fe80::1ff:fe23:4567:890a',
      21337,
      'alloplace://[fe80::1ff:fe23:4567:890a]:21337',
    ],
    ['ALLOPLACE://Host-1.example', 'Host-1.example', 21337, 'alloplace://Host-1.example:21337'],
  ]
  for (const [input, host, port, href] of good) {
    test(`accepts ${input}`, () => {
      assert.deepEqual(parsePlaceUrl(input), { host, port, href })
    })
  }

  const bad: Array<[string, RegExp]> = [
    ['', /it is empty/],
    ['localhost', /no alloplace:\/\/ scheme/],
    ['http://localhost:21337', /scheme is "http:"/],
    ['alloapp:http://localhost:8000/', /no alloplace:\/\/ scheme/],
    ['alloplace://', /host is empty/],
    ['alloplace://:21337', /host is empty/],
    ['alloplace://localhost:', /port is empty/],
    ['alloplace://localhost:0', /not a number from 1 to 65535/],
    ['alloplace://localhost:65536', /not a number from 1 to 65535/],
    ['alloplace://localhost:-1', /not a number from 1 to 65535/],
    ['alloplace://localhost:abc', /not a number from 1 to 65535/],
    ['alloplace://local host', /spaces or control characters/],
    ['alloplace://localhost\n:21337', /spaces or control characters/],
    ['-alloplace://localhost', /looks like an option/],
    ['--help', /looks like an option/],
    ['alloplace://localhost/path', /no path, query or fragment/],
    ['alloplace://localhost?x=1', /no path, query or fragment/],
    ['alloplace://user@localhost', /no user name or password/],
    ['alloplace://::1:21337', /IPv6 address must be in brackets/],
    ['alloplace://[::1', /no closing/],
    ['alloplace://[nothex]:1', /not an IPv6 address/],
    ['alloplace://300.1.1.1', /not a valid host name/],
    ['alloplace://exa_mple.com', /not a valid host name/],
    ['alloplace://-bad.example', /not a valid host name/],
  ]
  for (const [input, why] of bad) {
    test(`refuses ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parsePlaceUrl(input),
        (err: unknown) => {
          assert.ok(err instanceof UserError)
          assert.match(err.message, why)
          assert.match(err.message, /Expected alloplace:\/\/HOST\[:PORT\]/)
          assert.doesNotMatch(err.message, /\n/)
          return true
        },
      )
    })
  }
})

describe('parseAppUrl', () => {
  test('accepts the hosting doc forms', () => {
    assert.equal(parseAppUrl('alloapp:https://example.com/').gateway.href, 'https://example.com/')
    assert.equal(parseAppUrl('alloapp:http://localhost:8000/allo-clock').gateway.pathname, '/allo-clock')
  })
  test('refuses other schemes and garbage', () => {
    assert.throws(() => parseAppUrl('http://example.com/'), /does not start with "alloapp:"/)
    assert.throws(() => parseAppUrl('alloapp:ftp://example.com/'), /must be http or https/)
    assert.throws(() => parseAppUrl('alloapp:not a url'), /spaces or control characters/)
    assert.throws(() => parseAppUrl('alloapp:nonsense'), /gateway part is not a URL|http or https/)
  })
})
