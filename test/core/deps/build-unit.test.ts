import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildCacheDir, cacheHome, localSource, parseBuildPercent } from '../../../src/core/deps/build.js'

test('CMake/Make/Ninja progress lines', () => {
  assert.equal(parseBuildPercent('[ 42%] Building C object CMakeFiles/allonet.dir/src/a.c.o'), 42)
  assert.equal(parseBuildPercent('[100%] Built target allonet'), 100)
  assert.equal(parseBuildPercent('[3/12] Building C object'), 25)
  assert.equal(parseBuildPercent('-- Configuring done'), undefined)
})

test('cache home honours XDG_CACHE_HOME (absolute only), else ~/.cache', () => {
  assert.equal(cacheHome({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }), '/x/cache/allo-assist')
  assert.equal(cacheHome({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' }), '/home/u/.cache/allo-assist')
  assert.equal(cacheHome({ HOME: '/home/u' }), '/home/u/.cache/allo-assist')
})

test('cache folders are keyed by source and commit', () => {
  const env = { XDG_CACHE_HOME: '/c' }
  const a = buildCacheDir('https://github.com/alloverse/allonet.git', 'abc', env)
  assert.match(a, /^\/c\/allo-assist\/allonet\/[0-9a-f]{16}-abc$/)
  assert.notEqual(a, buildCacheDir('https://github.com/alloverse/allonet.git', 'abd', env))
  assert.notEqual(a, buildCacheDir('https://mirror.example/allonet.git', 'abc', env))
})

test('local sources: paths and file:// URLs; remote URLs are not local', () => {
  assert.equal(localSource('/srv/allonet'), '/srv/allonet')
  assert.equal(localSource('file:///srv/allonet'), '/srv/allonet')
  assert.equal(localSource('https://github.com/alloverse/allonet.git'), undefined)
  assert.equal(localSource('git@github.com:alloverse/allonet.git'), undefined)
})
