/**
 * `assist create` installing alloui-lua with real git from a local bare repository that stands in
 * for github.com/alloverse/alloui-lua (no network here), with a nested submodule like the real one.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { removeDir, tempDir } from '../helpers/app.js'
import { runCli } from '../helpers/cli.js'
import { type AllouiFixture, FILE_PROTOCOL_ENV, gitIn, makeAllouiFixture } from '../helpers/git-fixture.js'
import { startMirror } from '../helpers/mirror.js'
import { buildSharedLib } from '../helpers/native.js'

let fixtures: string
let fx: AllouiFixture
before(() => {
  fixtures = tempDir('assist-alloui-')
  fx = makeAllouiFixture(fixtures)
})
after(() => removeDir(fixtures))

const env = FILE_PROTOCOL_ENV
const TEMPLATES = fileURLToPath(new URL('../../templates', import.meta.url))

test('with git: alloui becomes a submodule, with its own submodule checked out; plain progress lines', async () => {
  const parent = tempDir()
  try {
    const r = await runCli(['create', 'clock', '--alloui-url', fx.url, '--author', 'A'], { cwd: parent, env })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const app = join(parent, 'clock')
    assert.match(
      readFileSync(join(app, '.gitmodules'), 'utf8'),
      new RegExp(`path = allo/deps/alloui\\s+url = ${fx.url}`),
    )
    assert.ok(existsSync(join(app, 'allo/deps/alloui/lua/alloui/README')))
    assert.ok(existsSync(join(app, 'allo/deps/alloui/lib/pl/lua/pl/README')), 'nested submodule checked out')
    const status = gitIn(app, 'submodule', 'status', '--recursive')
    assert.match(status, new RegExp(`^\\s*${fx.main} allo/deps/alloui `, 'm'))
    assert.match(status, / [0-9a-f]{40} allo\/deps\/alloui\/lib\/pl/)
    assert.doesNotMatch(status, /^[-+U]/m, 'every submodule initialised and at its recorded commit')
    // Not a TTY: one plain line per step, no spinner escapes.
    assert.match(r.stdout, /• Add alloui-lua as a git submodule .*…\n✔ Add alloui-lua as a git submodule/)
    assert.match(r.stdout, /✔ Fetch alloui's submodules/)
    assert.ok(!r.stdout.includes('\u001b['), 'no terminal escapes')
    // No mirror, and git, cmake and cc are here: the next step builds the library.
    assert.match(r.stdout, /assist fetch --build +once: build the native allonet library into allo\/lib/)
  } finally {
    removeDir(parent)
  }
})

test('--no-git: a plain clone at --alloui-ref, nested submodule included; --commit with a ref records it', async () => {
  const parent = tempDir()
  try {
    const r = await runCli(['create', 'clock', '--no-git', '--alloui-url', fx.url, '--alloui-ref', 'v1'], {
      cwd: parent,
      env,
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const app = join(parent, 'clock')
    assert.equal(existsSync(join(app, '.git')), false)
    assert.equal(gitIn(join(app, 'allo/deps/alloui'), 'rev-parse', 'HEAD'), fx.v1)
    assert.ok(existsSync(join(app, 'allo/deps/alloui/lib/pl/lua/pl/README')))

    const r2 = await runCli(['create', 'tagged', '--commit', '--alloui-url', fx.url, '--alloui-ref', 'v1'], {
      cwd: parent,
      env,
    })
    assert.equal(r2.code, 0, r2.stdout + r2.stderr)
    const tagged = join(parent, 'tagged')
    // The commit records alloui at v1 (not main), and the tree is clean.
    assert.equal(gitIn(tagged, 'rev-parse', 'HEAD:allo/deps/alloui'), fx.v1)
    assert.equal(gitIn(tagged, 'status', '--porcelain'), '')
  } finally {
    removeDir(parent)
  }
})

for (const mode of ['git', 'no-git'] as const) {
  test(`a failed install (${mode}) keeps the app, says what failed, and prints a command that finishes the job`, async () => {
    const parent = tempDir()
    try {
      const missing = join(parent, 'mirror', 'alloui.git')
      const url = `file://${missing}`
      const args = [
        'create',
        'clock',
        '--alloui-url',
        url,
        '--author',
        'A',
        ...(mode === 'no-git' ? ['--no-git'] : []),
      ]
      const r = await runCli(args, { cwd: parent, env })
      assert.equal(r.code, 1, r.stdout + r.stderr)
      const app = join(parent, 'clock')
      assert.ok(existsSync(join(app, 'lua/main.lua')), 'the scaffold stays')
      assert.match(r.stdout, /not everything worked:\n {2}✖ installing alloui-lua \(.*\): git .* failed: /)
      const followUp = /Finish it later with: (.*)$/m.exec(r.stdout)?.[1]
      assert.ok(followUp, r.stdout)
      const first =
        mode === 'git'
          ? `git submodule add -- ${url} allo/deps/alloui`
          : `git clone -- ${url} allo/deps/alloui`
      assert.ok(followUp.startsWith(`cd clock && ${first} && `), followUp)
      // Nothing half-done is left: no allo/deps, no submodule git dir.
      assert.equal(existsSync(join(app, 'allo/deps')), false)
      assert.equal(existsSync(join(app, '.git/modules')), false)

      // The printed command, run as is once the repository is reachable, completes the install.
      cpSync(fx.bare, missing, { recursive: true })
      const sh = spawnSync('sh', ['-c', followUp], {
        cwd: parent,
        env: { ...process.env, ...env },
        encoding: 'utf8',
      })
      assert.equal(sh.status, 0, sh.stderr)
      assert.ok(existsSync(join(app, 'allo/deps/alloui/lib/pl/lua/pl/README')))
      if (mode === 'git') assert.match(readFileSync(join(app, '.gitmodules'), 'utf8'), /allo\/deps\/alloui/)
    } finally {
      removeDir(parent)
    }
  })
}

test('an unreachable server (connection refused) fails the same way, quickly, and keeps the app', async () => {
  const parent = tempDir()
  try {
    // Port 9 on 127.0.0.1 (discard) is closed here: git gets "connection refused" at once.
    const r = await runCli(
      ['create', 'clock', '--no-git', '--alloui-url', 'http://127.0.0.1:9/alloui-lua.git'],
      {
        cwd: parent,
        env,
      },
    )
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(
      r.stdout,
      /Finish it later with: cd clock && git clone -- http:\/\/127\.0\.0\.1:9\/alloui-lua\.git allo\/deps\/alloui/,
    )
    assert.ok(existsSync(join(parent, 'clock/info.json')))
    assert.equal(existsSync(join(parent, 'clock/allo/deps')), false)
  } finally {
    removeDir(parent)
  }
})

test('a ref that does not exist: the clone stays, the follow-up starts at the checkout', async () => {
  const parent = tempDir()
  try {
    const r = await runCli(
      ['create', 'clock', '--no-git', '--alloui-url', fx.url, '--alloui-ref', 'no-such-ref'],
      {
        cwd: parent,
        env,
      },
    )
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(
      r.stdout,
      /✖ installing alloui-lua \(Check out no-such-ref\): git -C allo\/deps\/alloui checkout/,
    )
    assert.match(
      r.stdout,
      /Finish it later with: cd clock && git -C allo\/deps\/alloui checkout --quiet no-such-ref && git -C allo\/deps\/alloui submodule update --init --recursive$/m,
    )
    assert.ok(existsSync(join(parent, 'clock/allo/deps/alloui/.git')), 'the clone is kept for the follow-up')
  } finally {
    removeDir(parent)
  }
})

test('fixture sanity: the stand-in alloui really has a nested submodule', () => {
  const out = execFileSync('git', ['--git-dir', fx.bare, 'show', 'v1:.gitmodules'], { encoding: 'utf8' })
  assert.match(out, /path = lib\/pl/)
})

test('with a mirror configured (ALLONET_BASE_URL), create also installs the locked allonet library', async () => {
  const parent = tempDir()
  const mirror = await startMirror()
  try {
    const lib = readFileSync(buildSharedLib(join(parent, 'built.so')))
    const version = readFileSync(join(TEMPLATES, '_shared/allo/allonet.lock'), 'utf8').trim()
    mirror.file(`/${version}/linux-x64/liballonet.so`, lib)
    const r = await runCli(['create', 'clock', '--alloui-url', fx.url], {
      cwd: parent,
      env: { ...env, ALLONET_BASE_URL: mirror.url },
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const app = join(parent, 'clock')
    assert.deepEqual(readFileSync(join(app, 'allo/lib/liballonet.so')), lib)
    assert.equal(readFileSync(join(app, 'allo/lib/allonet.cache'), 'utf8').trim(), version)
    assert.doesNotMatch(r.stdout, /assist fetch/, 'nothing left to fetch')
  } finally {
    await mirror.close()
    removeDir(parent)
  }
})

test('a failed allonet download keeps the app, names the failure and the follow-up, exits non-zero', async () => {
  const parent = tempDir()
  const mirror = await startMirror() // serves nothing: every download is a 404
  try {
    const r = await runCli(['create', 'clock', '--alloui-url', fx.url], {
      cwd: parent,
      env: { ...env, ALLONET_BASE_URL: mirror.url },
    })
    assert.notEqual(r.code, 0)
    assert.ok(existsSync(join(parent, 'clock/lua/main.lua')), 'the scaffold is kept')
    assert.ok(existsSync(join(parent, 'clock/allo/deps/alloui/lua/alloui/README')), 'alloui was installed')
    assert.match(r.stdout + r.stderr, /installing the allonet library/)
    assert.match(r.stdout + r.stderr, /cd clock && assist fetch/)
  } finally {
    await mirror.close()
    removeDir(parent)
  }
})
