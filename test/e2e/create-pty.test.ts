/**
 * `assist create` in a real pseudo-terminal (python3 pty): the prompts are answered by typing, as a
 * person would. The result must equal what the same answers given as flags produce.
 */
import assert from 'node:assert/strict'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { removeDir, tempDir } from '../helpers/app.js'
import { runCli } from '../helpers/cli.js'
import { snapshot } from '../helpers/fs-snapshot.js'
import { FILE_PROTOCOL_ENV, makeAllouiFixture } from '../helpers/git-fixture.js'
import { KEY, plain, runCliInPty } from '../helpers/pty.js'

test('answering the prompts gives the same app as the equivalent flags', async () => {
  const parent = tempDir()
  try {
    const r = runCliInPty(['create'], {
      cwd: join(parent),
      steps: [
        ['App name', `tty-app${KEY.enter}`],
        ['Display name', `TTY "App"${KEY.enter}`],
        ['Author', `Pat O'Neil${KEY.enter}`],
        ['Template', `${KEY.down}${KEY.enter}`],
        ['Initialise a git repository', `n${KEY.enter}`],
        ['Install dependencies', `n${KEY.enter}`],
      ],
    })
    assert.equal(r.error, null, plain(r.output))
    assert.equal(r.code, 0, plain(r.output))
    assert.match(plain(r.output), /Created tty-app \(template minimal\)/)

    const flagged = tempDir()
    const f = await runCli(
      [
        'create',
        'tty-app',
        '--display-name',
        'TTY "App"',
        '--author',
        "Pat O'Neil",
        '--template',
        'minimal',
        '--no-git',
        '--no-install',
      ],
      { cwd: flagged },
    )
    assert.equal(f.code, 0, f.stderr)
    const viaPrompts = snapshot(join(parent, 'tty-app'))
    assert.ok(viaPrompts.length > 3)
    assert.deepEqual(viaPrompts, snapshot(join(flagged, 'tty-app')))
    removeDir(flagged)
  } finally {
    removeDir(parent)
  }
})

test('defaults are offered: Enter everywhere creates the lua app named after the folder, with git', () => {
  const parent = tempDir()
  try {
    const r = runCliInPty(['create', 'weather', '--no-install'], {
      cwd: parent,
      env: { GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com' },
      steps: [
        ['App name.*weather', KEY.enter],
        ['Display name.*Weather', KEY.enter],
        ['Author', KEY.enter],
        ['Template', KEY.enter],
        ['Initialise a git repository', KEY.enter],
      ],
    })
    assert.equal(r.error, null, plain(r.output))
    assert.equal(r.code, 0, plain(r.output))
    assert.ok(existsSync(join(parent, 'weather/images/quit.png')), 'lua template')
    assert.ok(existsSync(join(parent, 'weather/.git')), 'git by default')
  } finally {
    removeDir(parent)
  }
})

test('Ctrl-C at a prompt cancels: exit 130 and nothing written', () => {
  const parent = tempDir()
  try {
    const before = snapshot(parent)
    const r = runCliInPty(['create', 'clock'], {
      cwd: parent,
      steps: [
        ['App name', KEY.enter],
        ['Display name', KEY.ctrlC],
      ],
    })
    assert.equal(r.error, null, plain(r.output))
    assert.equal(r.code, 130, plain(r.output))
    assert.match(plain(r.output), /Cancelled: nothing was written/)
    assert.deepEqual(snapshot(parent), before)
  } finally {
    removeDir(parent)
  }
})

test('in a terminal the install shows a task list (listr2) and completes', () => {
  const parent = tempDir()
  const fixtures = tempDir('assist-alloui-')
  try {
    const fx = makeAllouiFixture(fixtures)
    const r = runCliInPty(['create', 'clock', '--yes', '--alloui-url', fx.url], {
      cwd: parent,
      env: FILE_PROTOCOL_ENV,
      steps: [],
    })
    const out = plain(r.output)
    assert.equal(r.error, null, out)
    assert.equal(r.code, 0, out)
    assert.match(out, /✔ Add alloui-lua as a git submodule/)
    assert.match(out, /✔ Fetch alloui's submodules/)
    assert.ok(existsSync(join(parent, 'clock/allo/deps/alloui/lib/pl/lua/pl/README')))
  } finally {
    removeDir(parent)
    removeDir(fixtures)
  }
})

test('a non-empty DIR is refused before any question is asked', () => {
  const parent = tempDir()
  try {
    writeFileSync(join(parent, 'keep.txt'), 'x')
    const before = snapshot(parent)
    const r = runCliInPty(['create', '.'], { cwd: parent, steps: [] })
    const out = plain(r.output)
    assert.equal(r.code, 2, out)
    assert.match(out, /is not empty \(1 entry\)/)
    assert.doesNotMatch(out, /App name/)
    assert.deepEqual(snapshot(parent), before)
  } finally {
    removeDir(parent)
  }
})
