import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
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
      'lua/main.lua.tmp.19305',
      'lua/sed9LWcw9',
      'lua/.goutputstream-XYZ123',
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
      'lua/sedan.lua', // sed + 6 characters, but not sed's temporary name
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

/** Watches `root` with run's default quiet time and collects every burst. */
async function collect(root: string, extra: { ignoreFiles?: string[] } = {}) {
  const changes: string[][] = []
  let burstStarts = 0
  const w = await watchApp({
    root,
    debounceMs: 40,
    ...extra,
    onBurstStart: () => burstStarts++,
    onChange: (files) => changes.push(files),
  })
  return {
    changes,
    starts: () => burstStarts,
    async settle(atLeast: number) {
      for (let i = 0; i < 200 && changes.length < atLeast; i++) await sleep(25)
      // Longer than any echo of the save we know of (chokidar's atomic-save delay is 100 ms), so a
      // second burst caused by the same save would have been seen.
      await sleep(1000)
    },
    close: () => w.close(),
  }
}

describe('saves through a temporary file', () => {
  test('sed -i (writes sedXXXXXX beside the file, renames it over) is one change named after the file', async () => {
    const root = makeLuaApp('sedi')
    const main = join(root, 'lua/main.lua')
    const c = await collect(root)
    try {
      for (let round = 1; round <= 3; round++) {
        const r = spawnSync('sed', ['-i', `s/print("main[^"]*")/print("main ${round}")/`, main])
        assert.equal(r.status, 0, String(r.stderr))
        await c.settle(round)
        assert.match(readFileSync(main, 'utf8'), new RegExp(`main ${round}`), 'sed really edited the file')
        assert.equal(c.changes.length, round, `one change per save, got ${JSON.stringify(c.changes)}`)
        assert.deepEqual(c.changes[round - 1], ['lua/main.lua'])
      }
      assert.equal(c.starts(), 3, 'one burst per save')
    } finally {
      await c.close()
    }
  })

  // Written and renamed at once, and as a slower editor does (the temporary file sits there for
  // 150 ms: long enough for the watcher to report it, then its rename, then its late echo).
  for (const gapMs of [0, 150]) {
    test(`an editor writing main.lua.tmp.<pid> and renaming it over main.lua ${gapMs} ms later is one change named main.lua`, async () => {
      const root = makeLuaApp(`rename${gapMs}`)
      const main = join(root, 'lua/main.lua')
      const c = await collect(root)
      try {
        for (let round = 1; round <= 3; round++) {
          const tmp = `${main}.tmp.${process.pid}${round}`
          writeFileSync(tmp, `print("saved ${round}")\n`)
          if (gapMs) await sleep(gapMs)
          renameSync(tmp, main)
          await c.settle(round)
          assert.equal(c.changes.length, round, `one change per save, got ${JSON.stringify(c.changes)}`)
          assert.deepEqual(c.changes[round - 1], ['lua/main.lua'])
        }
        assert.equal(c.starts(), 3, 'one burst per save')
      } finally {
        await c.close()
      }
    })
  }

  test('a temporary name not in the ignore list that vanishes is dropped from the report', async () => {
    const root = makeLuaApp('vanish')
    const main = join(root, 'lua/main.lua')
    const c = await collect(root)
    try {
      const tmp = join(root, 'lua/.save-in-progress')
      writeFileSync(tmp, 'print("new")\n')
      renameSync(tmp, main)
      await c.settle(1)
      assert.deepEqual(
        c.changes,
        [['lua/main.lua']],
        'one change, named after the file that ended up changed',
      )
    } finally {
      await c.close()
    }
  })

  test('what is not an echo still counts: touch, and a second same-size save right after the first', async () => {
    const root = makeLuaApp('notecho')
    const main = join(root, 'lua/main.lua')
    const c = await collect(root)
    try {
      writeFileSync(main, 'print("a")\n')
      await c.settle(1)
      writeFileSync(main, 'print("b")\n') // same size, moments later
      await c.settle(2)
      const r = spawnSync('touch', [main])
      assert.equal(r.status, 0)
      await c.settle(3)
      assert.deepEqual(c.changes, [['lua/main.lua'], ['lua/main.lua'], ['lua/main.lua']])
    } finally {
      await c.close()
    }
  })

  test('deleting a file is still a change, named after the deleted file', async () => {
    const root = makeLuaApp('delete', { files: { 'lua/extra.lua': 'return 1\n' } })
    const c = await collect(root)
    try {
      spawnSync('rm', [join(root, 'lua/extra.lua')])
      await c.settle(1)
      assert.equal(c.changes.length, 1, JSON.stringify(c.changes))
      assert.deepEqual(c.changes[0], ['lua/extra.lua'])
    } finally {
      await c.close()
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
