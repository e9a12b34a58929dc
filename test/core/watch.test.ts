import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { createIgnoreMatcher, watchApp } from '../../src/core/watch.js'
import { makeLuaApp, writeFile } from '../helpers/app.js'
import { sleep } from '../helpers/cli.js'

describe('ignore rules', () => {
  test('defaults, the app .gitignore and extra patterns', () => {
    const root = makeLuaApp('ign', { files: { '.gitignore': 'build/\n*.cache\n!keep.cache\n' } })
    mkdirSync(join(root, 'build'), { recursive: true })
    const ignored = createIgnoreMatcher({ root, extra: ['data/**'] })
    const yes = [
      '.git/HEAD',
      'node_modules/x/index.js',
      'allo/deps/alloui/lua/alloui/app.lua',
      'allo/lib/liballonet.so',
      'app.log',
      'lua/.main.lua.swp',
      'lua/main.lua~',
      'lua/4913',
      'lua/.#main.lua',
      'lua/#main.lua#',
      'build',
      'build/out.lua',
      'x.cache',
      'data/a/b.json',
      '../outside.lua',
    ]
    const no = [
      'lua/main.lua',
      'images/quit.png',
      'info.json',
      'keep.cache',
      'allo/boot.lua',
      'lua/deps/lib.lua',
    ]
    for (const p of yes) assert.equal(ignored(join(root, p)), true, `${p} should be ignored`)
    for (const p of no) assert.equal(ignored(join(root, p)), false, `${p} should be watched`)
  })

  test('useGitignore false skips the app .gitignore', () => {
    const root = makeLuaApp('ign2', { files: { '.gitignore': '*.lua\n' } })
    assert.equal(createIgnoreMatcher({ root, useGitignore: false })(join(root, 'lua/main.lua')), false)
    assert.equal(createIgnoreMatcher({ root })(join(root, 'lua/main.lua')), true)
  })
})

describe('watchApp', () => {
  test('a burst of 20 saves 20 ms apart is one change; ignored files are none', async () => {
    const root = makeLuaApp('burst')
    const changes: string[][] = []
    let burstStarts = 0
    const w = await watchApp({
      root,
      // A quiet time far above the 20 ms rhythm, so a loaded machine stalling this loop for a few
      // hundred ms cannot split the burst (the adaptive part is unit-tested below).
      debounceMs: 1000,
      onBurstStart: () => burstStarts++,
      onChange: (files) => changes.push(files),
    })
    try {
      for (let i = 0; i < 20; i++) {
        writeFileSync(join(root, 'lua/main.lua'), `print(${i})\n`)
        await sleep(20)
      }
      writeFile(join(root, 'lua/other.lua'), 'x')
      for (let i = 0; i < 100 && changes.length === 0; i++) await sleep(50)
      await sleep(300)
      assert.equal(changes.length, 1, `one burst, got ${JSON.stringify(changes)}`)
      assert.equal(burstStarts, 1)
      assert.deepEqual(changes[0], ['lua/main.lua', 'lua/other.lua'])
      writeFileSync(join(root, 'app.log'), 'log line\n')
      writeFileSync(join(root, 'record.json'), '{}') // ignored by the app's .gitignore
      await sleep(1500) // longer than the quiet time, so a change they caused would have fired
      assert.equal(changes.length, 1, 'ignored files caused no change')
    } finally {
      await w.close()
    }
  })
})

describe('quiet time', () => {
  test('a single save waits the configured time; a rhythm of saves stretches it, within a bound', async () => {
    const { quietTime, MAX_ADAPTIVE_QUIET_MS } = await import('../../src/core/watch.js')
    assert.equal(quietTime(40, 0), 40)
    assert.equal(quietTime(40, 15), 40)
    assert.equal(quietTime(40, 30), 60)
    assert.equal(quietTime(40, 10_000), MAX_ADAPTIVE_QUIET_MS)
    assert.equal(quietTime(1000, 10_000), 1000, 'an explicit long --delay is kept')
  })
})
