/**
 * `assist run` end to end: the built CLI, real luajit running small Lua apps (test/helpers/app.ts),
 * real file saves, real signals.
 */
import assert from 'node:assert/strict'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { makeLuaApp, tempDir, writeFile } from '../helpers/app.js'
import { CliProcess, isAlive, killAllCli, runCli, sleep } from '../helpers/cli.js'

const URL = 'alloplace://localhost:21337'
const booted = (n: number) => new RegExp(`\\[\\w+\\] booted ${n} `)

function startRun(root: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): CliProcess {
  return new CliProcess(['run', URL, ...args], { cwd: join(root, 'lua'), env })
}

async function stop(p: CliProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  p.signal('SIGTERM')
  return p.closed
}

describe('assist run', () => {
  after(killAllCli)

  test('starts the app with exact argv and env, from a folder inside the app', async () => {
    const root = makeLuaApp('exact')
    const launchArgs = '{"initialLocation":[1,0,0,0,0,1,0,0,0,0,1,0,0,1.2,-2,1]}'
    const identity = '{"display_name":"Tester"}'
    const p = startRun(root, ['--launch-args', launchArgs, '--identity', identity], {
      TEST_MARKER: 'inherited',
    })
    await p.waitFor(booted(1))
    const rec = JSON.parse(readFileSync(join(root, 'record.json'), 'utf8'))
    assert.equal(rec.argv0, join(root, 'allo/boot.lua'))
    assert.deepEqual(rec.args, [root, URL])
    assert.equal(rec.boot_args, launchArgs)
    assert.equal(rec.identity, identity)
    assert.equal(rec.marker, 'inherited', "the parent's environment is passed on")
    assert.match(p.stdout, /\[exact\] booted 1 alloplace:\/\/localhost:21337/)
    await stop(p)
  })

  test('the older alloui app_boot.lua layout runs unchanged', async () => {
    const root = makeLuaApp('legacy', { layout: 'alloui' })
    const p = startRun(root, ['--no-watch'])
    await p.waitFor(booted(1))
    assert.equal(
      JSON.parse(readFileSync(join(root, 'record.json'), 'utf8')).argv0,
      join(root, 'allo/deps/alloui/lua/alloui/app_boot.lua'),
    )
    await stop(p)
  })

  test('restarts once on a save and says which file changed', async () => {
    const root = makeLuaApp('save')
    const p = startRun(root)
    await p.waitFor(booted(1))
    appendFileSync(join(root, 'lua/main.lua'), '-- edit\n')
    await p.waitFor(booted(2))
    assert.match(p.stdout, /↻ lua\/main\.lua changed, restarted/)
    await sleep(500)
    assert.equal(p.count(/\[\w+\] booted \d/), 2)
    await stop(p)
  })

  test('a burst of 20 saves 20 ms apart restarts once', async () => {
    const root = makeLuaApp('burst')
    // A generous quiet time keeps this test about the mechanism, not about how busy the machine is
    // (timers slip on a loaded machine); the default setting is measured in `npm run bench run`.
    const p = startRun(root, ['--delay', '250'])
    await p.waitFor(booted(1))
    for (let i = 0; i < 20; i++) {
      writeFileSync(join(root, 'lua/main.lua'), `-- save ${i}\n`)
      await sleep(20)
    }
    await p.waitFor(booted(2))
    await sleep(800)
    assert.equal(p.count(/\[\w+\] booted \d/), 2, p.output)
    await stop(p)
  })

  test('ignored paths, including files the running app writes into its own folder, cause no restart', async () => {
    const root = makeLuaApp('quiet')
    const p = startRun(root, ['--ignore', 'scratch/'], { TEST_APP_MODE: 'writelog' })
    await p.waitFor(booted(1))
    writeFile(join(root, 'allo/lib/liballonet.so'), 'new build')
    writeFile(join(root, 'allo/deps/alloui/x.lua'), '--')
    writeFile(join(root, '.git/HEAD'), 'ref')
    writeFile(join(root, 'node_modules/a.js'), '')
    writeFile(join(root, 'lua/.main.lua.swp'), 'swap')
    writeFile(join(root, 'other.log'), 'log')
    writeFile(join(root, 'scratch/notes.txt'), 'notes')
    await sleep(1000)
    assert.equal(p.count(/\[\w+\] booted \d/), 1, p.output)
    assert.ok(readFileSync(join(root, 'app.log'), 'utf8').includes('hello'), 'the app did write its log')
    await stop(p)
  })

  test('a crash is reported with its last output and run waits for a change', async () => {
    const root = makeLuaApp('crashy')
    const p = startRun(root, [], { TEST_APP_MODE: 'crash' })
    // stdout and stderr arrive on separate pipes: wait for each line rather than assume an order
    await p.waitFor(/Waiting for a change to restart/)
    await p.waitFor(/\[crashy\] boom: something broke/)
    await p.waitFor(/✖ crashy exited with code 3 after/)
    assert.match(p.stderr, /✖ crashy exited with code 3 after [\d.]+s\.\n/)
    assert.equal(p.count(/boom: something broke/), 1, 'its output is shown once, live')
    await sleep(1200)
    assert.equal(p.count(/\[\w+\] booted \d/), 1, 'no restart loop')
    appendFileSync(join(root, 'lua/main.lua'), '-- fix\n')
    await p.waitFor(booted(2))
    await stop(p)
  })

  test('--restart-on-crash restarts with a growing backoff', async () => {
    const root = makeLuaApp('backoff')
    const p = startRun(root, ['--restart-on-crash'], { TEST_APP_MODE: 'crash' })
    await p.waitFor(booted(3), 20_000)
    assert.match(p.output, /Restarting in 0\.5s/)
    assert.match(p.output, /Restarting in 1\.0s/)
    await stop(p)
  })

  test('typing rs restarts by hand', async () => {
    const root = makeLuaApp('manual')
    const p = startRun(root)
    await p.waitFor(booted(1))
    p.write('rs\n')
    await p.waitFor(booted(2))
    assert.match(p.stdout, /restarted by hand/)
    await stop(p)
  })

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(`${sig} stops the whole app tree and run exits with 128 + the signal's number`, async () => {
      const root = makeLuaApp(`tree${sig}`)
      const p = startRun(root, [], { TEST_APP_MODE: 'child' })
      await p.waitFor(booted(1))
      for (let i = 0; i < 100; i++) {
        try {
          if (readFileSync(join(root, 'child.pid'), 'utf8').trim()) break
        } catch {}
        await sleep(50)
      }
      const childPid = Number(readFileSync(join(root, 'child.pid'), 'utf8'))
      const appPid = Number(/\(pid (\d+)\)/.exec(p.stdout)?.[1])
      assert.ok(isAlive(childPid) && isAlive(appPid))
      p.signal(sig)
      const { code } = await p.closed
      assert.equal(code, sig === 'SIGINT' ? 130 : 143, 'as a shell reports a process ended by that signal')
      for (let i = 0; i < 40 && (isAlive(childPid) || isAlive(appPid)); i++) await sleep(50)
      assert.equal(isAlive(appPid), false, 'app gone')
      assert.equal(isAlive(childPid), false, "app's child gone")
    })
  }

  test('--no-watch runs once and exits 0 when the app did, 5 (EXIT.appFailed) when it failed', async () => {
    const root = makeLuaApp('plain')
    const r = await runCli(['run', URL, '--no-watch'], { cwd: root, env: { TEST_APP_MODE: 'crash' } })
    assert.equal(r.code, 5)
    assert.match(r.stderr, /plain exited with code 3/)
    const ok = await runCli(['run', URL, '--no-watch'], { cwd: root, env: { TEST_APP_MODE: 'exit0' } })
    assert.equal(ok.code, 0)
  })

  const badUrls = [
    '',
    'localhost',
    'http://localhost',
    'alloplace://',
    'alloplace://:1',
    'alloplace://h:',
    'alloplace://h:0',
    'alloplace://h:70000',
    'alloplace://h:x',
    'alloplace://a b',
    'alloplace://h/path',
    'alloplace://u@h',
    'alloplace://::1',
    'alloplace://[::1',
    'alloplace://999.1.1.1',
    'alloplace://under_score',
    '-x',
  ]
  test(`every bad URL (${badUrls.length}) gets its message and a non-zero exit, and starts nothing`, async () => {
    const root = makeLuaApp('badurl')
    const results = await Promise.all(badUrls.map((u) => runCli(['run', '--', u], { cwd: root })))
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${badUrls[i]}: ${r.stderr}`)
      assert.match(r.stderr, /Invalid place URL .*Expected alloplace:\/\/HOST\[:PORT\]/, badUrls[i])
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line')
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    })
    assert.throws(() => readFileSync(join(root, 'record.json')), 'the app never started')
  })

  test('missing runtime pieces are reported before starting, in one line with the fix', async () => {
    const nolib = makeLuaApp('nolib', { withLib: false })
    const r1 = await runCli(['run', URL], { cwd: nolib })
    assert.equal(r1.code, 3, 'EXIT.missingDependency')
    assert.match(r1.stderr, /allonet library is missing .*Run `assist fetch`/)
    const r2 = await runCli(['run', URL], {
      cwd: makeLuaApp('nolj'),
      env: { PATH: '/nonexistent', ALLO_LUAJIT: '' },
    })
    assert.match(r2.stderr, /LuaJIT not found on PATH: install it \(Debian\/Ubuntu: sudo apt install luajit/)
    const r3 = await runCli(['run', URL], { cwd: tempDir() })
    assert.equal(r3.code, 2)
    assert.match(r3.stderr, /No Alloverse app in .* looked for lua\/main\.lua/)
    const r4 = await runCli(['run', URL, '--launch-args', '[1]'], { cwd: makeLuaApp('args') })
    assert.match(r4.stderr, /--launch-args must be a JSON object/)
    for (const r of [r1, r2, r3, r4]) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  })
})
