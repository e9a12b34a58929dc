/**
 * `assist create` and the native library: the build offered in a real pseudo-terminal (and done, with
 * its progress, from a local allonet whose lib/cJSON pin is gone), declined, refused up front without
 * the tools, and the next steps naming what works on this machine. Real git, cmake, cc.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, test } from 'node:test'
import { type AllonetFixture, makeAllonetFixture, templateLocking } from '../helpers/allonet-fixture.js'
import { removeDir, tempDir } from '../helpers/app.js'
import { CliProcess, killAllCli, runCli } from '../helpers/cli.js'
import { snapshot } from '../helpers/fs-snapshot.js'
import { type AllouiFixture, FILE_PROTOCOL_ENV, makeAllouiFixture } from '../helpers/git-fixture.js'
import { pathWith } from '../helpers/native.js'
import { KEY, plain, runCliInPty } from '../helpers/pty.js'

let allonet: AllonetFixture
let alloui: AllouiFixture
let template: string
let base: string

before(() => {
  base = tempDir('assist-create-build-')
  allonet = makeAllonetFixture(join(base, 'allonet'))
  alloui = makeAllouiFixture(join(base, 'alloui'))
  template = templateLocking(base, allonet.version)
})

const env = () => ({
  ...FILE_PROTOCOL_ENV,
  XDG_CACHE_HOME: tempDir('assist-create-build-cache-'),
  ALLONET_BASE_URL: '',
})

test('in a terminal, with git, cmake and cc: create offers the build (default yes) and does it, step by step', () => {
  const parent = tempDir()
  try {
    const r = runCliInPty(
      ['create', 'clock', '--template', template, '--alloui-url', alloui.url, '--allonet-url', allonet.repo],
      {
        cwd: parent,
        env: env(),
        timeoutS: 240,
        steps: [
          ['App name', KEY.enter],
          ['Display name', KEY.enter],
          ['Author', KEY.enter],
          ['Initialise a git repository', KEY.enter],
          ['Install dependencies', KEY.enter],
          ['Build the native allonet library now\\?', KEY.enter],
        ],
      },
    )
    const out = plain(r.output)
    assert.equal(r.error, null, out)
    assert.equal(r.code, 0, out)
    assert.match(out, /cloning .*\n.*checking out .* with submodules/)
    assert.match(out, /! lib\/cJSON: the pinned commit [0-9a-f]{7} is gone from its repository/)
    assert.match(
      out,
      /configuring \(cmake, Release\)[\s\S]*building the allonet target[\s\S]*✔ allonet library installed/,
    )
    assert.ok(existsSync(join(parent, 'clock/allo/lib/liballonet.so')))
    assert.doesNotMatch(out.slice(out.indexOf('Next steps')), /assist fetch/)
  } finally {
    removeDir(parent)
  }
})

test('declining the build: nothing built, and the next steps say `assist fetch --build`', () => {
  const parent = tempDir()
  try {
    const r = runCliInPty(['create', 'clock', '--template', template, '--alloui-url', alloui.url], {
      cwd: parent,
      env: env(),
      steps: [
        ['App name', KEY.enter],
        ['Display name', KEY.enter],
        ['Author', KEY.enter],
        ['Initialise a git repository', KEY.enter],
        ['Install dependencies', KEY.enter],
        ['Build the native allonet library now\\?', `n${KEY.enter}`],
      ],
    })
    const out = plain(r.output)
    assert.equal(r.code, 0, out)
    assert.match(out, /\n {2}assist fetch --build +once: build the native allonet library into allo\/lib/)
    assert.ok(!existsSync(join(parent, 'clock/allo/lib/liballonet.so')))
  } finally {
    removeDir(parent)
  }
})

test('--yes without --build never builds (no network surprise in scripts) and names the build in the next steps', async () => {
  const parent = tempDir()
  try {
    const r = await runCli(['create', 'clock', '--yes', '--template', template, '--alloui-url', alloui.url], {
      cwd: parent,
      env: env(),
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /assist fetch --build +once: build the native allonet library/)
    assert.doesNotMatch(r.stdout, /cloning/)
  } finally {
    removeDir(parent)
  }
})

test('--build without cmake and cc: refused before anything is written, naming what to install', async () => {
  const parent = tempDir()
  try {
    const before = snapshot(parent)
    const r = await runCli(['create', 'clock', '--yes', '--build', '--template', template], {
      cwd: parent,
      env: { ...env(), PATH: pathWith('git'), CC: '' },
    })
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(
      r.stderr,
      /--build needs cmake and C compiler: install cmake \(Debian\/Ubuntu: sudo apt install cmake; macOS: brew install cmake\) and C compiler \(Debian\/Ubuntu: sudo apt install build-essential; macOS: xcode-select --install\)\. Nothing was written\./,
    )
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line')
    assert.deepEqual(snapshot(parent), before)
  } finally {
    removeDir(parent)
  }
})

test('without the tools, the next steps say what to install for this OS, then the build', async () => {
  const parent = tempDir()
  try {
    const r = await runCli(['create', 'clock', '--yes', '--no-install', '--no-git', '--template', template], {
      cwd: parent,
      env: { ...env(), PATH: pathWith('git', 'cc') },
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(
      r.stdout,
      /\n {2}assist fetch --build +once, after you install cmake \(Debian\/Ubuntu: sudo apt install cmake; macOS: brew install cmake\): build the native allonet library into allo\/lib\n/,
    )
  } finally {
    removeDir(parent)
  }
})

test('--allonet-url with --no-build, and --build with --no-install: one-line refusals, nothing written', async () => {
  const parent = tempDir()
  try {
    for (const [args, msg] of [
      [
        ['--no-build', '--allonet-url', '/x'],
        /--allonet-url only applies when allonet is built .* drop it or --no-build\./,
      ],
      [['--build', '--no-install'], /--build needs the dependencies installed: drop --no-install/],
    ] as const) {
      const r = await runCli(['create', 'clock', '--yes', ...args], { cwd: parent, env: env() })
      assert.equal(r.code, 2, r.stdout + r.stderr)
      assert.match(r.stderr, msg)
      assert.deepEqual(readdirSync(parent), [])
    }
  } finally {
    removeDir(parent)
  }
})

test('Ctrl-C during the build: the app is kept, the follow-up named, no lock, no half source, no library', async () => {
  const parent = tempDir()
  const gated = makeAllonetFixture(join(tempDir('assist-gated-'), 'fx'), { gated: true })
  const gatedTemplate = templateLocking(tempDir('assist-gated-tpl-'), gated.version)
  const e = { ...env(), ASSIST_TEST_GATE: join(tempDir(), 'open') }
  try {
    const p = new CliProcess(
      [
        'create',
        'clock',
        '--yes',
        '--build',
        '--template',
        gatedTemplate,
        '--alloui-url',
        alloui.url,
        '--allonet-url',
        gated.repo,
      ],
      { cwd: parent, env: e },
    )
    await p.waitFor(/building the allonet target/, 180_000)
    p.signal('SIGINT')
    const end = await p.closed
    writeFileSync(e.ASSIST_TEST_GATE, '') // lets a straggler finish
    assert.ok(end.signal === 'SIGINT' || end.code === 130, `${end.code} ${end.signal}: ${p.output}`)
    assert.match(
      p.stderr,
      /Cancelled: the app in clock was kept; get the library later with: cd clock && assist fetch --build --allonet-url /,
    )
    const app = join(parent, 'clock')
    assert.ok(existsSync(join(app, 'lua/main.lua')), 'the app is kept')
    assert.deepEqual(readdirSync(join(app, 'allo/lib')), [], 'no lock, no temp file, no library')
    const cacheRoot = join(e.XDG_CACHE_HOME, 'allo-assist/allonet')
    for (const entry of readdirSync(cacheRoot))
      assert.deepEqual(
        readdirSync(join(cacheRoot, entry)).filter((f) => f.includes('lock') || f.endsWith('.tmp')),
        [],
      )
  } finally {
    await killAllCli()
    removeDir(parent)
  }
})
