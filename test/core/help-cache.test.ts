/** The kept root help: which requests it answers, where it lives, how it is named and pruned. */
import assert from 'node:assert/strict'
import { readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  type HelpInputs,
  helpCacheDir,
  helpCacheName,
  isRootHelpRequest,
  readCachedHelp,
  writeCachedHelp,
} from '../../src/core/help-cache.js'
import { tempDir } from '../helpers/app.js'

test('only the root help is answered from the cache', () => {
  for (const args of [[], ['--help'], ['-h'], ['help']])
    assert.equal(isRootHelpRequest(args), true, args.join(' '))
  for (const args of [['run', '--help'], ['help', 'run'], ['--help', 'x'], ['--version'], ['run'], ['-hv']])
    assert.equal(isRootHelpRequest(args), false, args.join(' '))
})

test('the cache folder follows XDG_CACHE_HOME, and ASSIST_NO_HELP_CACHE switches it off', () => {
  assert.equal(helpCacheDir({ XDG_CACHE_HOME: '/c' }), '/c/allo-assist/help')
  assert.equal(helpCacheDir({ XDG_CACHE_HOME: '/c', ASSIST_NO_HELP_CACHE: '1' }), null)
  assert.equal(helpCacheDir({ XDG_CACHE_HOME: '/c', ASSIST_NO_HELP_CACHE: '0' }), '/c/allo-assist/help')
  assert.match(String(helpCacheDir({})), /allo-assist\/help$/)
})

test('every input is in the name, and the name is a plain file name', () => {
  const base: HelpInputs = {
    version: '1.2.3',
    manifest: '39199-1795646333828',
    node: 'v20.20.2',
    platform: 'linux-x64',
    width: 'pipe',
    color: false,
  }
  const name = helpCacheName(base)
  assert.match(name, /^root-[A-Za-z0-9._-]+\.txt$/)
  const variants: Partial<HelpInputs>[] = [
    { version: '1.2.4' },
    { manifest: '39199-1795646333829' },
    { node: 'v24.1.0' },
    { platform: 'darwin-arm64' },
    { width: '120' },
    { color: true },
  ]
  for (const v of variants) assert.notEqual(helpCacheName({ ...base, ...v }), name, JSON.stringify(v))
  assert.doesNotMatch(helpCacheName({ ...base, version: '../../etc/x y' }), /\/| /)
})

test('kept texts are written whole and the oldest go beyond sixteen', () => {
  const dir = join(tempDir(), 'help')
  assert.equal(readCachedHelp(dir, 'root-a.txt'), null, 'nothing kept yet')
  for (let i = 0; i < 18; i++) {
    writeCachedHelp(dir, `root-${i}.txt`, `help ${i}\n`)
    // Distinct, increasing mtimes, whatever the file system's time resolution.
    utimesSync(join(dir, `root-${i}.txt`), 1_000_000 + i, 1_000_000 + i)
  }
  writeCachedHelp(dir, 'root-18.txt', 'help 18\n')
  const kept = readdirSync(dir).sort()
  assert.equal(kept.length, 16)
  for (const gone of ['root-0.txt', 'root-1.txt', 'root-2.txt']) assert.ok(!kept.includes(gone), gone)
  assert.equal(readCachedHelp(dir, 'root-18.txt'), 'help 18\n')
  assert.ok(!kept.some((f) => f.endsWith('.tmp')), 'no temp file left')
  writeFileSync(join(dir, 'root-empty.txt'), '')
  assert.equal(readCachedHelp(dir, 'root-empty.txt'), null, 'an empty file is not a help text')
})
