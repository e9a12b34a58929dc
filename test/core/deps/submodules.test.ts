/**
 * The known-good table of `fetch --build`'s submodule fallback, through buildFromSource with a table
 * of the test's own (the shipped table names real allonet commits): real git, real cmake and cc.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildFromSource } from '../../../src/core/deps/build.js'
import { requirePlatform } from '../../../src/core/deps/install.js'
import { readCache } from '../../../src/core/deps/lock.js'
import { formatSource, KNOWN_GOOD } from '../../../src/core/deps/submodules.js'
import { ANSWER, makeAllonetFixture } from '../../helpers/allonet-fixture.js'
import { tempDir } from '../../helpers/app.js'

function answerOf(lib: string): string {
  return execFileSync(
    'luajit',
    [
      '-e',
      `local ffi=require('ffi') ffi.cdef('int allo_standin_answer(void);') io.write(ffi.load('${lib}').allo_standin_answer())`,
    ],
    { encoding: 'utf8' },
  )
}

test('the shipped table: allonet 4.0.79.g30c6901 builds lib/cJSON at the alloverse head b938974', () => {
  assert.equal(
    KNOWN_GOOD['30c6901d49d9a565508929ef000120fab2425092']['lib/cJSON'].commit,
    'b9389742f26cee5a6faf996b0f4fb8038f92c44b',
  )
})

test('a known-good commit for this allonet commit wins over the branch; one warning; the record says what was built', async () => {
  const base = tempDir('assist-known-')
  const fx = makeAllonetFixture(base)
  for (const [known, answer, why] of [
    [fx.cjson.main, ANSWER.main, /known good for allonet .*: kept for the test/],
    // A known-good commit that is not there either: the branch is next.
    ['0123456789abcdef0123456789abcdef01234567', ANSWER.alloverse, /the head of its alloverse branch/],
  ] as const) {
    const root = join(base, `app-${answer}`)
    mkdirSync(join(root, 'allo/lib'), { recursive: true })
    const warnings: string[] = []
    const out = await buildFromSource(root, requirePlatform(), {
      version: fx.version,
      sourceUrl: fx.repo,
      env: { ...process.env, XDG_CACHE_HOME: join(base, `cache-${answer}`) },
      knownGood: { [fx.commit]: { 'lib/cJSON': { commit: known, note: 'kept for the test' } } },
      onWarn: (l) => warnings.push(l),
    })
    assert.equal(warnings.length, 1, warnings.join('\n'))
    assert.match(warnings[0], why)
    assert.equal(answerOf(out.target), String(answer))
    const cjson = out.source?.submodules.find((s) => s.path === 'lib/cJSON')
    assert.equal(cjson?.pinned, fx.cjson.pinned)
    assert.equal(out.source?.allonet, fx.commit)
    assert.match(formatSource(out.source!).join('\n'), /lib\/cJSON [0-9a-f]{40} \(instead of the pinned/)
    assert.equal(readCache(root), undefined, 'buildFromSource installs; the cache file is fetch’s to write')
  }
})
