/** Kept help texts: which requests they answer, where they live, how they are named and pruned. */
import assert from 'node:assert/strict'
import { readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  type HelpInputs,
  helpCacheDir,
  helpCacheName,
  helpRequestKey,
  readCachedHelp,
  writeCachedHelp,
} from '../../src/core/help-cache.js'
import { tempDir } from '../helpers/app.js'

test("which arguments ask for which help (only this package's commands and topics)", () => {
  const known = new Set(['run', 'generate', 'generate:systemd'])
  const isKnown = (id: string) => known.has(id)
  const cases: Array<[string[], string | null]> = [
    [[], 'root'],
    [['--help'], 'root'],
    [['-h'], 'root'],
    [['help'], 'root'],
    [['run', '--help'], 'run'],
    [['run', '-h'], 'run'],
    [['help', 'run'], 'help:run'],
    [['generate', '--help'], 'generate'],
    [['generate', 'systemd', '--help'], 'generate:systemd'],
    [['help', 'generate', 'systemd'], 'help:generate:systemd'],
    [['rnu', '--help'], null], // a typo: oclif answers (and suggests)
    [['run', 'alloplace://x', '--help'], null], // arguments: not a kept help
    [['run', '--luajit', 'x', '--help'], null],
    [['--help', 'run'], null],
    [['help', '--help'], null],
    [['run'], null],
    [['--version'], null],
    [['-hv'], null],
  ]
  for (const [args, key] of cases) assert.equal(helpRequestKey(args, isKnown), key, args.join(' '))
})

test('the cache folder follows XDG_CACHE_HOME, and ASSIST_NO_HELP_CACHE switches it off', () => {
  assert.equal(helpCacheDir({ XDG_CACHE_HOME: '/c' }), '/c/allo-assist/help')
  assert.equal(helpCacheDir({ XDG_CACHE_HOME: '/c', ASSIST_NO_HELP_CACHE: '1' }), null)
  assert.equal(helpCacheDir({ XDG_CACHE_HOME: '/c', ASSIST_NO_HELP_CACHE: '0' }), '/c/allo-assist/help')
  assert.match(String(helpCacheDir({})), /allo-assist\/help$/)
})

test('every input is in the name, and the name is a plain file name', () => {
  const base: HelpInputs = {
    key: 'root',
    version: '1.2.3',
    manifest: '39199-1795646333828',
    node: 'v20.20.2',
    platform: 'linux-x64',
    width: 'pipe',
    color: false,
  }
  const name = helpCacheName(base)
  assert.match(name, /^help-[A-Za-z0-9._-]+\.txt$/)
  const variants: Partial<HelpInputs>[] = [
    { key: 'run' },
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

test('kept texts are written whole and the oldest go beyond thirty-two', () => {
  const dir = join(tempDir(), 'help')
  assert.equal(readCachedHelp(dir, 'help-a.txt'), null, 'nothing kept yet')
  for (let i = 0; i < 34; i++) {
    writeCachedHelp(dir, `help-${i}.txt`, `help ${i}\n`)
    // Distinct, increasing mtimes, whatever the file system's time resolution.
    utimesSync(join(dir, `help-${i}.txt`), 1_000_000 + i, 1_000_000 + i)
  }
  writeCachedHelp(dir, 'help-34.txt', 'help 34\n')
  const kept = readdirSync(dir).sort()
  assert.equal(kept.length, 32)
  for (const gone of ['help-0.txt', 'help-1.txt', 'help-2.txt']) assert.ok(!kept.includes(gone), gone)
  assert.equal(readCachedHelp(dir, 'help-34.txt'), 'help 34\n')
  assert.ok(!kept.some((f) => f.endsWith('.tmp')), 'no temp file left')
  writeFileSync(join(dir, 'help-empty.txt'), '')
  assert.equal(readCachedHelp(dir, 'help-empty.txt'), null, 'an empty file is not a help text')
})
