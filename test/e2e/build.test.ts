/**
 * `assist fetch --build` end to end: a local allonet-like git repository (with one submodule)
 * holding a tiny CMake project, built for real with cmake and cc, into real app folders.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { ANSWER, makeAllonetFixture } from '../helpers/allonet-fixture.js'
import { makeLuaApp, tempDir, writeFile } from '../helpers/app.js'
import { runCli } from '../helpers/cli.js'
import { buildSharedLib, GIT_ALLOW_FILE_ENV, git, pathWith } from '../helpers/native.js'

const LIB = 'allo/lib/liballonet.so'
let repo: string
let good: string
let broken: string
let cacheHome: string
let oldLib: Buffer

const CMAKE = `cmake_minimum_required(VERSION 3.10)
project(allonet C)
add_library(allonet SHARED src/allonet.c)
target_include_directories(allonet PRIVATE lib/sub)
# Not part of the library: building everything would fail, so this proves only the library target is built.
add_executable(never_built src/does_not_compile.c)
`

before(() => {
  const base = tempDir('assist-build-')
  const sub = join(base, 'sub')
  mkdirSync(sub)
  git(sub, 'init', '-q', '-b', 'main')
  writeFile(join(sub, 'marker.h'), '#define MARKER 42\n')
  git(sub, 'add', '.')
  git(sub, 'commit', '-qm', 'marker')
  repo = join(base, 'allonet')
  mkdirSync(repo)
  git(repo, 'init', '-q', '-b', 'main')
  writeFile(join(repo, 'CMakeLists.txt'), CMAKE)
  writeFile(
    join(repo, 'src/allonet.c'),
    '#include "marker.h"\nint allonet_test_marker(void) { return MARKER; }\n',
  )
  writeFile(join(repo, 'src/does_not_compile.c'), 'this is not C\n')
  git(repo, 'submodule', 'add', '-q', sub, 'lib/sub')
  git(repo, 'add', '.')
  git(repo, 'commit', '-qm', 'tiny allonet')
  good = `0.1.0.g${git(repo, 'rev-parse', '--short=9', 'HEAD')}`
  writeFile(join(repo, 'src/allonet.c'), 'int allonet_test_marker(void) { return ; } syntax error here\n')
  git(repo, 'commit', '-qam', 'break the build')
  broken = `0.1.1.g${git(repo, 'rev-parse', '--short=9', 'HEAD')}`
  cacheHome = join(base, 'cache')
  oldLib = readFileSync(buildSharedLib(join(base, 'old.so'), 99))
})

function app(lock: string, withOld = false): string {
  const root = makeLuaApp('app', {
    withLib: false,
    files: { 'allo/allonet.lock': `${lock}\n`, 'allo/deps/alloui/README.md': 'x\n' },
  })
  if (withOld) {
    mkdirSync(join(root, 'allo/lib'), { recursive: true })
    writeFileSync(join(root, LIB), oldLib)
    writeFileSync(join(root, 'allo/lib/allonet.cache'), '0.0.1.g0\n')
  }
  return root
}

const env = () => ({ XDG_CACHE_HOME: cacheHome, ALLONET_BASE_URL: '' })

/** Calls the library's function through the real LuaJIT FFI. */
function markerOf(lib: string, fn = 'allonet_test_marker'): string {
  return execFileSync(
    'luajit',
    ['-e', `local ffi=require('ffi') ffi.cdef('int ${fn}(void);') io.write(ffi.load('${lib}').${fn}())`],
    { encoding: 'utf8' },
  )
}

describe('assist fetch --build', () => {
  test('builds the locked commit with its submodule; the second app uses the cache (no clone, no cmake)', async () => {
    const first = app(good)
    const r = await runCli(['fetch', '--build', '--allonet-url', repo], {
      cwd: first,
      env: env(),
      timeoutMs: 180_000,
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(
      r.stdout,
      /cloning .*\n.*checking out .* with submodules\n.*configuring \(cmake, Release\)\n.*building the allonet target/,
    )
    assert.match(r.stdout, new RegExp(`Built allonet ${good} .*→ ${LIB}; cached in ${cacheHome}`))
    assert.equal(markerOf(join(first, LIB)), '42', 'the submodule header was compiled in')
    const sub = git(join(repo, 'lib/sub'), 'rev-parse', 'HEAD')
    assert.equal(
      readFileSync(join(first, 'allo/lib/allonet.cache'), 'utf8'),
      `${good}\n# built from source:\n# allonet ${git(repo, 'rev-parse', `${good.split('.g')[1]}^{commit}`)}\n# lib/sub ${sub}\n`,
      'the version first (what fetch compares), then what was built',
    )
    assert.deepEqual(readdirSync(join(first, 'allo/lib')).sort(), ['allonet.cache', 'liballonet.so'])
    const cacheDir = join(
      cacheHome,
      'allo-assist/allonet',
      readdirSync(join(cacheHome, 'allo-assist/allonet'))[0],
    )
    const logSize = statSync(join(cacheDir, 'build.log')).size

    // Second app: the source repository is gone and cmake is not on PATH, so only the cache can serve it.
    const hidden = `${repo}.hidden`
    renameSync(repo, hidden)
    try {
      const second = app(good)
      const r2 = await runCli(['fetch', '--build', '--allonet-url', repo], {
        cwd: second,
        env: { ...env(), PATH: pathWith('git') },
      })
      assert.equal(r2.code, 0, r2.stdout + r2.stderr)
      assert.match(r2.stdout, /using the cached build/)
      assert.match(r2.stdout, /Installed the cached build of allonet .* \(no rebuild needed\)/)
      assert.deepEqual(readFileSync(join(second, LIB)), readFileSync(join(first, LIB)))
      assert.equal(
        readFileSync(join(second, 'allo/lib/allonet.cache'), 'utf8'),
        readFileSync(join(first, 'allo/lib/allonet.cache'), 'utf8'),
        'a cached install records the same source',
      )
      assert.equal(statSync(join(cacheDir, 'build.log')).size, logSize, 'nothing was built or cloned')
    } finally {
      renameSync(hidden, repo)
    }
  })

  test('a broken build prints the log path and keeps the old library byte for byte', async () => {
    const root = app(broken, true)
    const r = await runCli(['fetch', '--build', '--allonet-url', repo], {
      cwd: root,
      env: env(),
      timeoutMs: 180_000,
    })
    assert.equal(r.code, 1, r.stdout + r.stderr) // EXIT.failure
    const m =
      /Building allonet .* failed while building \(exit code \d+\)\. The full log is in (\S+build\.log)\. The installed library was not changed\./.exec(
        r.stderr,
      )
    assert.ok(m, r.stderr)
    assert.match(readFileSync(m[1], 'utf8'), /error/)
    assert.deepEqual(readFileSync(join(root, LIB)), oldLib)
    assert.equal(readFileSync(join(root, 'allo/lib/allonet.cache'), 'utf8'), '0.0.1.g0\n')
    assert.deepEqual(readdirSync(join(root, 'allo/lib')).sort(), ['allonet.cache', 'liballonet.so'])
  })

  test('missing cmake is named with its install line before anything starts', async () => {
    const root = app('0.1.2.gabcdef0', true)
    const r = await runCli(['fetch', '--build', '--allonet-url', repo], {
      cwd: root,
      env: { ...env(), PATH: pathWith('git', 'cc') },
    })
    assert.equal(r.code, 3, 'EXIT.missingDependency')
    assert.match(
      r.stderr,
      /needs cmake, which is not installed: cmake \(Debian\/Ubuntu: sudo apt install cmake; macOS: brew install cmake\)/,
    )
    const cacheRoot = join(cacheHome, 'allo-assist/allonet')
    const made = existsSync(cacheRoot) ? readdirSync(cacheRoot) : []
    assert.equal(made.filter((d) => d.endsWith('-abcdef0')).length, 0, 'nothing cloned or cached')
    assert.deepEqual(readFileSync(join(root, LIB)), oldLib)
    const r2 = await runCli(['fetch', '--build', '--allonet-url', repo], {
      cwd: root,
      env: { ...env(), PATH: pathWith('git'), CC: '' },
    })
    assert.match(r2.stderr, /needs cmake and C compiler, which are not installed: .*build-essential/)
  })

  test('a version whose commit the repository lacks', async () => {
    const root = app('0.9.9.gdeadbee', true)
    const r = await runCli(['fetch', '--build', '--allonet-url', repo], {
      cwd: root,
      env: { ...env(), ...GIT_ALLOW_FILE_ENV },
    })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /Commit deadbee \(from allonet version 0\.9\.9\.gdeadbee\) is not in /)
    assert.deepEqual(readFileSync(join(root, LIB)), oldLib)
  })

  test('a missing --allonet-url folder', async () => {
    const root = app(good)
    const r = await runCli(['fetch', '--build', '--allonet-url', '/nonexistent/allonet'], {
      cwd: root,
      env: env(),
    })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--allonet-url \/nonexistent\/allonet: no such folder/)
  })
})

describe('assist fetch --build: a submodule pin that is gone upstream', () => {
  test("falls back to the branch carrying allonet's changes, says so in one line, records every commit", async () => {
    const fx = makeAllonetFixture(tempDir('assist-pin-'))
    const root = app(fx.version)
    const r = await runCli(['fetch', '--build', '--allonet-url', fx.repo], {
      cwd: root,
      env: env(),
      timeoutMs: 180_000,
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const p7 = fx.cjson.pinned.slice(0, 7)
    const b7 = fx.cjson.alloverse.slice(0, 7)
    const warning = `lib/cJSON: the pinned commit ${p7} is gone from its repository; building with ${b7} instead (the head of its alloverse branch, which carries allonet's changes).`
    assert.equal(r.stderr.split('\n').filter((l) => l.includes('pinned commit')).length, 1, r.stderr)
    assert.ok(r.stderr.includes(`! ${warning}`), r.stderr)
    assert.equal(
      markerOf(join(root, LIB), 'allo_standin_answer'),
      String(ANSWER.alloverse),
      "the alloverse branch's header was compiled in",
    )
    assert.equal(
      readFileSync(join(root, 'allo/lib/allonet.cache'), 'utf8'),
      `${fx.version}\n# built from source:\n# allonet ${fx.commit}\n` +
        `# lib/cJSON ${fx.cjson.alloverse} (instead of the pinned ${fx.cjson.pinned}, which is not fetchable)\n`,
    )
    const cacheRoot = join(cacheHome, 'allo-assist/allonet')
    const entry = readdirSync(cacheRoot).find((d) => d.endsWith(fx.version.split('.g')[1])) as string
    const log = readFileSync(join(cacheRoot, entry, 'build.log'), 'utf8')
    assert.ok(log.includes(`! ${warning}`), 'the warning is in the build log')
    assert.match(
      log,
      new RegExp(
        `=== source: allonet ${fx.commit}; lib/cJSON ${fx.cjson.alloverse} \\(instead of the pinned ${fx.cjson.pinned}`,
      ),
    )
    assert.deepEqual(
      readdirSync(join(root, 'allo/lib')).sort(),
      ['allonet.cache', 'liballonet.so'],
      'no lock left',
    )
    assert.ok(!existsSync(join(cacheRoot, entry, '.lock')), 'no cache lock left')
  })

  test('a .gitmodules branch line wins over the built-in table', async () => {
    const fx = makeAllonetFixture(tempDir('assist-pin-'), { gitmodulesBranch: 'main' })
    const root = app(fx.version)
    const r = await runCli(['fetch', '--build', '--allonet-url', fx.repo], {
      cwd: root,
      env: env(),
      timeoutMs: 180_000,
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stderr, /building with [0-9a-f]{7} instead \(the head of its main branch/)
    assert.equal(markerOf(join(root, LIB), 'allo_standin_answer'), String(ANSWER.main))
  })

  test('a gone pin with no known replacement: one line naming it, nothing installed, nothing cached', async () => {
    const fx = makeAllonetFixture(tempDir('assist-pin-'), { subPath: 'lib/gone' })
    const root = app(fx.version, true)
    const r = await runCli(['fetch', '--build', '--allonet-url', fx.repo], {
      cwd: root,
      env: env(),
      timeoutMs: 180_000,
    })
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(
      r.stderr,
      new RegExp(
        `allonet ${fx.version} pins lib/gone at ${fx.cjson.pinned.slice(0, 7)}, which its repository no longer has, and no known-good replacement was found\\. Build from a clone that has it: --allonet-url PATH\\.`,
      ),
    )
    assert.doesNotMatch(r.stderr, /at .*\n\s+at /, 'no stack trace')
    assert.deepEqual(readFileSync(join(root, LIB)), oldLib)
    const cacheRoot = join(cacheHome, 'allo-assist/allonet')
    const entry = readdirSync(cacheRoot).find((d) => d.endsWith(fx.version.split('.g')[1])) as string
    assert.deepEqual(
      readdirSync(join(cacheRoot, entry)).filter((f) => f !== 'build.log'),
      [],
      'no source, no lock, no library left in the cache entry',
    )
  })
})
