/**
 * `assist doctor` (and fetch's alloui checkout) end to end: real app folders that are real git
 * repositories with an alloui submodule, real shared libraries loaded by the real LuaJIT FFI,
 * real sockets for the port check.
 */
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { makeLuaApp, tempDir, writeFile } from '../helpers/app.js'
import { runCli } from '../helpers/cli.js'
import { buildSharedLib, buildUnloadableLib, GIT_ALLOW_FILE_ENV, git, pathWith } from '../helpers/native.js'

const V = '2.0.0.g1234abc'
let alloui: string
let goodLib: string

before(() => {
  const base = tempDir('assist-doctor-')
  alloui = join(base, 'alloui-lua')
  mkdirSync(alloui)
  git(alloui, 'init', '-q', '-b', 'main')
  writeFile(join(alloui, 'lua/alloui/app_boot.lua'), '-- alloui boot\n')
  git(alloui, 'add', '.')
  git(alloui, 'commit', '-qm', 'alloui')
  goodLib = buildSharedLib(join(base, 'liballonet.so'), 3)
})

/** An app that is a git repository with alloui as a submodule, a real library, lock and cache. */
function completeApp(): string {
  const root = makeLuaApp('app', { withLib: false })
  git(root, 'init', '-q', '-b', 'main')
  git(root, 'submodule', 'add', '-q', alloui, 'allo/deps/alloui')
  writeFile(join(root, 'allo/allonet.lock'), `${V}\n`)
  git(root, 'add', '.')
  git(root, 'commit', '-qm', 'app')
  mkdirSync(join(root, 'allo/lib'), { recursive: true })
  buildSharedLib(join(root, 'allo/lib/liballonet.so'), 3)
  writeFile(join(root, 'allo/lib/allonet.cache'), `${V}\n`)
  return root
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

interface Check {
  name: string
  ok: boolean
  warning?: boolean
  detail: string
  fix?: string
}

async function doctor(root: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const port = await freePort()
  const r = await runCli(['doctor', '--json', '--port', String(port), ...args], { cwd: root, env })
  const json = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] }
  return { ...r, json, failed: json.checks.filter((c) => !c.ok) }
}

/** Exactly one ✗, named `name`, whose detail and fix match. Exit code 1. */
function onlyFailure(res: Awaited<ReturnType<typeof doctor>>, name: string, detail: RegExp, fix: RegExp) {
  assert.equal(res.code, 1, res.stdout + res.stderr)
  assert.equal(res.json.ok, false)
  assert.deepEqual(
    res.failed.map((c) => c.name),
    [name],
    JSON.stringify(res.failed, null, 1),
  )
  assert.match(res.failed[0].detail, detail)
  assert.match(res.failed[0].fix ?? '', fix)
}

describe('assist doctor', () => {
  test('a complete app: every check ✓ (real LuaJIT loads the real library through the FFI), exit 0', async () => {
    const root = completeApp()
    const port = await freePort()
    const r = await runCli(['doctor', '--port', String(port), '--place', 'alloplace://localhost:21337'], {
      cwd: root,
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    for (const name of [
      'Node.js',
      'app folder',
      'LuaJIT',
      'boot script',
      'alloui',
      'allonet library',
      'allonet version',
      'allonet architecture',
      'allonet loads in LuaJIT',
      'git',
      'cmake',
      'C compiler',
      'place URL',
      'gateway port',
    ])
      assert.match(r.stdout, new RegExp(`^✓ ${name} `, 'm'), `${name} ✓ in:\n${r.stdout}`)
    assert.doesNotMatch(r.stdout, /✗/)
    assert.match(r.stdout, /Lua app, allo\/boot\.lua layout/)
    assert.match(r.stdout, /alloui +at the recorded commit [0-9a-f]{10}/)
    assert.match(r.stdout, /ffi\.load succeeded/)
    assert.match(r.stdout, /All 14 checks passed\./)
    const json = await doctor(root, ['--place', 'alloplace://localhost'])
    assert.equal(json.code, 0)
    assert.equal(json.json.ok, true)
    assert.equal(json.json.checks.length, 14)
  })

  test('no lock: with a mirror, `assist upgrade`; without one, lock the default version and build', async () => {
    const root = completeApp()
    rmSync(join(root, 'allo/allonet.lock'))
    onlyFailure(
      await doctor(root, [], { ALLONET_BASE_URL: 'http://mirror.example.com/allonet' }),
      'allonet version',
      /no allo\/allonet\.lock/,
      /assist upgrade/,
    )
    onlyFailure(
      await doctor(root, [], { ALLONET_BASE_URL: '' }),
      'allonet version',
      /no allo\/allonet\.lock/,
      /^lock the version new apps use: echo 4\.0\.79\.g30c6901 > allo\/allonet\.lock; then `assist fetch --build`/,
    )
  })

  test('installed version differs from the lock', async () => {
    const root = completeApp()
    writeFile(join(root, 'allo/lib/allonet.cache'), '1.0.0.gold\n')
    onlyFailure(
      await doctor(root),
      'allonet version',
      /installed 1\.0\.0\.gold, but .* wants 2\.0\.0\.g1234abc/,
      /assist fetch/,
    )
  })

  test('library missing, as in a new app (no cache file either): one failure, whose fix works on this machine', async () => {
    const root = completeApp()
    rmSync(join(root, 'allo/lib'), { recursive: true })
    // No mirror, build tools present: build it.
    const noMirror = await doctor(root, [], { ALLONET_BASE_URL: '' })
    onlyFailure(
      noMirror,
      'allonet library',
      /missing: allo\/lib\/liballonet\.so \(allo\/allonet\.lock wants 2\.0\.0\.g1234abc\)/,
      /^run `assist fetch --build` \(builds it from source/,
    )
    assert.ok(
      !noMirror.json.checks.some((c) => c.name === 'allonet version'),
      'the version is not a second ✗',
    )
    // A mirror: download it.
    onlyFailure(
      await doctor(root, [], { ALLONET_BASE_URL: 'http://mirror.example.com/allonet' }),
      'allonet library',
      /missing/,
      /^run `assist fetch` \(downloads it from your mirror\)$/,
    )
    // No mirror and no cmake: what to install for this OS, then the build.
    const noCmake = await doctor(root, [], { ALLONET_BASE_URL: '', PATH: pathWith('git', 'luajit', 'cc') })
    onlyFailure(
      noCmake,
      'allonet library',
      /missing/,
      /^install cmake \(Debian\/Ubuntu: sudo apt install cmake; macOS: brew install cmake\), then run `assist fetch --build`/,
    )
    const cmake = noCmake.json.checks.find((c) => c.name === 'cmake')
    assert.deepEqual([cmake?.ok, cmake?.warning], [true, true], 'a missing tool is a warning, not a second ✗')
    assert.equal(noCmake.json.checks.filter((c) => !c.ok).length, 1)
  })

  test('library of the wrong kind (a text file)', async () => {
    const root = completeApp()
    writeFile(join(root, 'allo/lib/liballonet.so'), 'not a library\n')
    onlyFailure(
      await doctor(root, [], { ALLONET_BASE_URL: 'http://mirror.example.com/allonet' }),
      'allonet architecture',
      /is a text file, not a Linux x86-64 shared library/,
      /assist fetch --force/,
    )
    onlyFailure(
      await doctor(root, [], { ALLONET_BASE_URL: '' }),
      'allonet architecture',
      /is a text file/,
      /^run `assist fetch --build`/,
    )
  })

  test('library that LuaJIT cannot load (a dependency is missing)', async () => {
    const root = completeApp()
    buildUnloadableLib(join(root, 'allo/lib/liballonet.so'))
    onlyFailure(
      await doctor(root),
      'allonet loads in LuaJIT',
      /ffi\.load failed: .*libassistdep\.so/,
      /assist fetch/,
    )
  })

  test('alloui missing (recorded in git, not checked out)', async () => {
    const root = completeApp()
    rmSync(join(root, 'allo/deps/alloui'), { recursive: true })
    onlyFailure(
      await doctor(root),
      'alloui',
      /allo\/deps\/alloui is missing or empty/,
      /git submodule update --init --recursive allo\/deps\/alloui/,
    )
  })

  test('alloui at another commit than the app records', async () => {
    const root = completeApp()
    const sub = join(root, 'allo/deps/alloui')
    writeFile(join(sub, 'new.lua'), '-- moved on\n')
    git(sub, 'add', '.')
    git(sub, 'commit', '-qm', 'moved')
    onlyFailure(
      await doctor(root),
      'alloui',
      /checked out at [0-9a-f]{10}, but the app records [0-9a-f]{10}/,
      /git submodule update --init --recursive allo\/deps\/alloui/,
    )
  })

  test('no boot script', async () => {
    const root = completeApp()
    rmSync(join(root, 'allo/boot.lua'))
    rmSync(join(root, 'allo/deps/alloui/lua/alloui/app_boot.lua')) // the older layout's boot script
    onlyFailure(
      await doctor(root),
      'boot script',
      /neither allo\/boot\.lua nor/,
      /git checkout -- allo\/boot\.lua/,
    )
  })

  test('LuaJIT: a bad --luajit, and none on PATH', async () => {
    const root = completeApp()
    onlyFailure(
      await doctor(root, ['--luajit', '/nonexistent/luajit']),
      'LuaJIT',
      /--luajit .* not an executable/,
      /--luajit/,
    )
    const noLua = await doctor(root, [], { PATH: pathWith('git', 'cmake', 'cc') })
    onlyFailure(noLua, 'LuaJIT', /not found on PATH/, /apt install luajit/)
  })

  test('cmake and a C compiler missing with the library installed: warnings (! with their install lines), exit 0', async () => {
    const root = completeApp()
    const r = await doctor(root, [], { PATH: pathWith('git', 'luajit'), CC: '' })
    assert.equal(r.code, 0, r.stdout)
    assert.deepEqual(r.failed, [])
    const warned = r.json.checks.filter((c) => c.warning)
    assert.deepEqual(
      warned.map((c) => c.name),
      ['cmake', 'C compiler'],
    )
    assert.match(warned[0].detail, /sudo apt install cmake; macOS: brew install cmake/)
    assert.match(warned[1].detail, /build-essential/)
    const human = await runCli(['doctor', '--port', String(await freePort())], {
      cwd: root,
      env: { PATH: pathWith('git', 'luajit'), CC: '' },
    })
    assert.match(human.stdout, /^! cmake +not installed/m)
    assert.match(human.stdout, /All \d+ checks passed \(2 warnings\)\./)
  })

  test('the gateway port in use', async () => {
    const root = completeApp()
    const busy: Server = createServer()
    await new Promise<void>((r) => busy.listen(0, '0.0.0.0', r))
    const port = (busy.address() as { port: number }).port
    try {
      const r = await runCli(['doctor', '--json', '--port', String(port)], { cwd: root })
      const res = {
        ...r,
        json: JSON.parse(r.stdout),
        failed: JSON.parse(r.stdout).checks.filter((c: Check) => !c.ok),
      }
      onlyFailure(res, 'gateway port', new RegExp(`port ${port} is already in use`), /--port/)
    } finally {
      await new Promise((r) => busy.close(r))
    }
  })

  test('place URL: malformed, and a host that does not resolve', async () => {
    const root = completeApp()
    onlyFailure(
      await doctor(root, ['--place', 'http://example.com']),
      'place URL',
      /alloplace/,
      /--place alloplace:\/\//,
    )
    onlyFailure(
      await doctor(root, ['--place', 'alloplace://no-such-host.invalid']),
      'place URL',
      /no-such-host\.invalid does not resolve/,
      /host name/,
    )
  })

  test('not an app folder: the human table, ✗ with a fix, exit 1', async () => {
    const r = await runCli(['doctor', '--port', String(await freePort())], { cwd: tempDir() })
    assert.equal(r.code, 1)
    assert.match(r.stdout, /^✗ app folder +no app in .* \(looked for lua\/main\.lua or alloapp\.json\)$/m)
    assert.match(r.stdout, /^ +fix: cd into your app, or create one with `assist create`$/m)
    assert.match(r.stdout, /1 of \d+ checks failed\./)
  })
})

describe('assist fetch: alloui', () => {
  function clonedApp(): string {
    const src = completeApp()
    const dest = join(tempDir(), 'clone')
    git(tempDir(), 'clone', '-q', src, dest) // no --recurse-submodules: alloui is an empty folder
    mkdirSync(join(dest, 'allo/lib'), { recursive: true })
    buildSharedLib(join(dest, 'allo/lib/liballonet.so'), 3)
    return dest
  }

  test('checks alloui out at the recorded commit when it is missing', async () => {
    const root = clonedApp()
    const r = await runCli(['fetch', '--from', join(root, 'allo/lib/liballonet.so'), '--version', V], {
      cwd: root,
      env: GIT_ALLOW_FILE_ENV,
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /alloui: checked out allo\/deps\/alloui/)
    const d = await doctor(root)
    assert.equal(d.json.checks.find((c) => c.name === 'alloui')?.ok, true, JSON.stringify(d.failed))
  })

  test('a submodule that cannot be fetched: a clear error naming the command to run', async () => {
    const root = clonedApp()
    writeFileSync(
      join(root, '.gitmodules'),
      '[submodule "allo/deps/alloui"]\n\tpath = allo/deps/alloui\n\turl = /nonexistent/alloui\n',
    )
    const r = await runCli(['fetch', '--from', goodLib, '--version', V], {
      cwd: root,
      env: GIT_ALLOW_FILE_ENV,
    })
    assert.equal(r.code, 4, 'EXIT.network')
    assert.match(
      r.stderr,
      /Could not check out alloui \(git submodule update --init --recursive allo\/deps\/alloui failed/,
    )
  })
})
