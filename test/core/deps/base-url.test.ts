import assert from 'node:assert/strict'
import { test } from 'node:test'
import { latestUrl, libraryUrl, resolveBaseUrl } from '../../../src/core/deps/base-url.js'

test('precedence: --base-url > ALLONET_BASE_URL > alloapp.json', () => {
  const env = { ALLONET_BASE_URL: 'http://env.example/a/' }
  assert.deepEqual(
    resolveBaseUrl({ flag: 'http://flag.example/x', env, configBaseUrl: 'http://cfg.example' }),
    {
      url: 'http://flag.example/x',
      source: '--base-url',
    },
  )
  assert.deepEqual(resolveBaseUrl({ env, configBaseUrl: 'http://cfg.example' }), {
    url: 'http://env.example/a',
    source: 'ALLONET_BASE_URL',
  })
  assert.deepEqual(resolveBaseUrl({ env: {}, configBaseUrl: 'https://cfg.example/m///' }), {
    url: 'https://cfg.example/m',
    source: 'alloapp.json',
  })
})

test('no base configured: explains the bucket is gone and every way out', () => {
  assert.throws(
    () => resolveBaseUrl({ env: { ALLONET_BASE_URL: '  ' } }),
    (err: Error) =>
      /bucket .* is gone/.test(err.message) &&
      err.message.includes('--base-url') &&
      err.message.includes('ALLONET_BASE_URL') &&
      err.message.includes('alloapp.json') &&
      err.message.includes('--from FILE') &&
      err.message.includes('--build'),
  )
})

test('bad base URLs are refused, naming where they came from', () => {
  assert.throws(() => resolveBaseUrl({ flag: 'not a url', env: {} }), /--base-url "not a url" is not a URL/)
  assert.throws(() => resolveBaseUrl({ env: { ALLONET_BASE_URL: 'ftp://x/y' } }), /ALLONET_BASE_URL .* http/)
})

test('URL layout', () => {
  assert.equal(
    libraryUrl('http://m/a', '1.2.3.gabc', 'linux-x64', 'liballonet.so'),
    'http://m/a/1.2.3.gabc/linux-x64/liballonet.so',
  )
  assert.equal(latestUrl('http://m/a', 'main', 'mac-universal'), 'http://m/a/latest_main_mac-universal.json')
})
