import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  validateAbsolutePath,
  validateAccountName,
  validateDomain,
  validateDuration,
  validateEnvPair,
  validateHost,
  validateHostPort,
  validateListen,
  validatePort,
  validateRate,
  validateUnitName,
} from '../../src/core/deploy/validate.js'
import { UserError } from '../../src/core/errors.js'

function refuses(fn: () => unknown, option: string, re?: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`)
    assert.ok(e.message.includes(option), `message does not name ${option}: ${e.message}`)
    if (re) assert.match(e.message, re)
    assert.ok(!e.message.includes('\n'), 'message must be one line')
    return true
  })
}

// Characters that could inject configuration into a systemd unit or an nginx site.
const INJECTION = ['\n', '\r', ';', '{', '}', '"', "'", '$', '%', '\\', '#', ' ', '\t', '\u0000', '`']

describe('deploy validators', () => {
  test('domains', () => {
    assert.equal(validateDomain('--domain', 'Apps.Example.COM'), 'apps.example.com')
    assert.equal(validateDomain('--domain', 'localhost'), 'localhost')
    refuses(() => validateDomain('--domain', 'a..b'), '--domain')
    refuses(() => validateDomain('--domain', '-a.com'), '--domain')
    refuses(() => validateDomain('--domain', 'a.com.'), '--domain')
    refuses(() => validateDomain('--domain', '*.a.com'), '--domain', /"\*"/)
    refuses(() => validateDomain('--domain', `${'a'.repeat(64)}.com`), '--domain')
    refuses(() => validateDomain('--domain', '10.0.0.1'), '--domain', /IP address/)
  })

  test('hosts and host:port', () => {
    assert.equal(validateHost('--host', '::1'), '::1')
    assert.equal(validateHost('--host', '[::1]'), '::1')
    assert.equal(validateHost('--host', '0.0.0.0'), '0.0.0.0')
    refuses(() => validateHost('--host', '300.1.1.1'), '--host')
    assert.deepEqual(validateHostPort('--upstream', '[fe80::1]:8000'), { host: 'fe80::1', port: 8000 })
    assert.deepEqual(validateHostPort('--upstream', 'gw.local:80'), { host: 'gw.local', port: 80 })
    refuses(() => validateHostPort('--upstream', '::1:8000'), '--upstream', /HOST:PORT/)
    refuses(() => validateHostPort('--upstream', 'a:99999'), '--upstream', /65535/)
    refuses(() => validateHostPort('--upstream', 'unix:/run/x.sock'), '--upstream')
  })

  test('ports and listen specs', () => {
    assert.equal(validatePort('--port', '8000'), 8000)
    refuses(() => validatePort('--port', '0'), '--port')
    refuses(() => validatePort('--port', '80 81'), '--port')
    assert.deepEqual(validateListen('--listen-https', '443'), { port: 443 })
    assert.deepEqual(validateListen('--listen-https', '[::1]:8443'), { address: '::1', port: 8443 })
    refuses(() => validateListen('--listen-https', '443 ssl'), '--listen-https')
  })

  test('absolute paths', () => {
    assert.equal(validateAbsolutePath('--cert', '/etc/ssl//a.pem'), '/etc/ssl/a.pem')
    assert.equal(validateAbsolutePath('--acme-root', '/var/www/le/'), '/var/www/le')
    refuses(() => validateAbsolutePath('--cert', 'a.pem'), '--cert', /absolute/)
    refuses(() => validateAbsolutePath('--cert', '/etc/../root/k'), '--cert', /\.\./)
    refuses(() => validateAbsolutePath('--cert', '/etc/my cert.pem'), '--cert', /a space/)
    refuses(() => validateAbsolutePath('--cert', '/etc/a\nb'), '--cert', /U\+000a/)
  })

  test('user, group and unit names', () => {
    assert.equal(validateAccountName('--user', 'allo'), 'allo')
    assert.equal(validateAccountName('--user', '1001'), '1001')
    assert.equal(validateAccountName('--user', '_svc.allo-1'), '_svc.allo-1')
    refuses(() => validateAccountName('--user', 'al lo'), '--user')
    refuses(() => validateAccountName('--user', '-allo'), '--user')
    refuses(() => validateAccountName('--group', 'a'.repeat(33)), '--group')
    assert.equal(validateUnitName('--name', 'allo-gw.service'), 'allo-gw')
    refuses(() => validateUnitName('--name', 'a/b'), '--name')
    refuses(() => validateUnitName('--name', '-x'), '--name')
  })

  test('env pairs', () => {
    assert.deepEqual(validateEnvPair('--env', 'A_1=hello world=ok'), { key: 'A_1', value: 'hello world=ok' })
    assert.deepEqual(validateEnvPair('--env', 'EMPTY='), { key: 'EMPTY', value: '' })
    refuses(() => validateEnvPair('--env', 'NOVALUE'), '--env', /KEY=VALUE/)
    refuses(() => validateEnvPair('--env', '1A=x'), '--env', /name/)
    refuses(() => validateEnvPair('--env', 'A-B=x'), '--env')
    refuses(() => validateEnvPair('--env', 'A=$(id)'), '--env', /"\$"/)
    refuses(() => validateEnvPair('--env', 'A=%h'), '--env', /environment-file/)
  })

  test('rates and durations', () => {
    assert.equal(validateRate('--rate-limit', '10r/m'), '10r/m')
    refuses(() => validateRate('--rate-limit', '0r/s'), '--rate-limit')
    refuses(() => validateRate('--rate-limit', '10r/h'), '--rate-limit')
    assert.equal(validateDuration('--max-lifetime', '12h'), 43_200_000)
    assert.equal(validateDuration('--max-lifetime', '1500'), 1_500_000)
    assert.equal(validateDuration('--max-lifetime', '1500', 'ms'), 1500)
    refuses(() => validateDuration('--max-lifetime', '1.5h'), '--max-lifetime')
  })

  test('property: a value containing any injection character is refused by every text validator', () => {
    const validators: Array<[string, (v: string) => unknown]> = [
      ['--domain', (v) => validateDomain('--domain', `a${v}.example.com`)],
      ['--upstream', (v) => validateHostPort('--upstream', `gw${v}:8000`)],
      ['--cert', (v) => validateAbsolutePath('--cert', `/etc/ssl/${v}x.pem`)],
      ['--user', (v) => validateAccountName('--user', `al${v}lo`)],
      ['--name', (v) => validateUnitName('--name', `gw${v}x`)],
      // A space or "#" is harmless inside an env value (double-quoted, not at line start): test those in the key.
      ['--env', (v) => validateEnvPair('--env', /[ #]/.test(v) ? `KE${v}Y=value` : `KEY=va${v}lue`)],
      ['--rate-limit', (v) => validateRate('--rate-limit', `10r/m${v}`)],
      ['--listen-https', (v) => validateListen('--listen-https', `443${v}`)],
    ]
    fc.assert(
      fc.property(
        fc.constantFrom(...INJECTION),
        fc.string({ maxLength: 5 }),
        fc.constantFrom(...validators),
        (bad, noise, [option, fn]) => {
          const value = `${noise.replace(/[^a-z]/g, '')}${bad}`
          refuses(() => fn(value), option)
        },
      ),
      { numRuns: 400 },
    )
  })
})
