/**
 * `assist fetch` and `assist upgrade` end to end: the built CLI against a real local HTTP mirror,
 * installing real shared libraries (built with cc) into real app folders.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { makeLuaApp, tempDir, writeFile } from '../helpers/app.js'
import { CliProcess, runCli, sleep } from '../helpers/cli.js'
import { type Mirror, selfSignedCert, sha256, startMirror } from '../helpers/mirror.js'
import { buildSharedLib } from '../helpers/native.js'

const V1 = '1.0.0.gaaaaaaa'
const V2 = '1.1.0.gbbbbbbb'
const LIB = 'allo/lib/liballonet.so'

let m: Mirror
let lib1: Buffer
let lib2: Buffer
let oldLib: Buffer

before(async () => {
  m = await startMirror()
  const dir = tempDir()
  lib1 = readFileSync(buildSharedLib(join(dir, 'v1.so'), 1))
  lib2 = readFileSync(buildSharedLib(join(dir, 'v2.so'), 2))
  oldLib = readFileSync(buildSharedLib(join(dir, 'old.so'), 99))
  m.file(`/${V1}/linux-x64/liballonet.so`, lib1)
  m.file(`/${V2}/linux-x64/liballonet.so`, lib2)
  m.set('/latest_main_linux-x64.json', {
    kind: 'file',
    body: JSON.stringify({ version: V2, platform: 'linux-x64', branch: 'main', githash: 'bbbbbbb' }),
  })
  m.set('/latest_dev_linux-x64.json', { kind: 'file', body: JSON.stringify({ version: V1, branch: 'dev' }) })
})
after(() => m.close())

/** A Lua app locked at `lock`, with an already installed old library recorded as `cache`. */
function app(opts: { lock?: string; cache?: string; old?: boolean; config?: object } = {}): string {
  const files: Record<string, string> = {}
  if (opts.lock) files['allo/allonet.lock'] = `${opts.lock}\n`
  if (opts.cache) files['allo/lib/allonet.cache'] = `${opts.cache}\n`
  if (opts.config) files['alloapp.json'] = JSON.stringify(opts.config)
  // alloui present, so fetch has nothing to check out
  files['allo/deps/alloui/README.md'] = 'alloui\n'
  const root = makeLuaApp('app', { withLib: false, files })
  mkdirSync(join(root, 'allo/lib'), { recursive: true })
  if (opts.old !== false) writeFileSync(join(root, LIB), oldLib)
  return root
}
const env = { ALLONET_BASE_URL: '' }
const fetchCli = (root: string, ...args: string[]) => runCli(['fetch', ...args], { cwd: root, env })
const libDir = (root: string) => readdirSync(join(root, 'allo/lib')).sort()
const cache = (root: string) => readFileSync(join(root, 'allo/lib/allonet.cache'), 'utf8')

/** The failure left the old library byte for byte, the cache as it was, and no temp file. */
function assertUntouched(root: string) {
  assert.deepEqual(readFileSync(join(root, LIB)), oldLib)
  assert.equal(cache(root), '0.0.1.g0\n')
  assert.deepEqual(libDir(root), ['allonet.cache', 'liballonet.so'])
}

describe('assist fetch (download)', () => {
  test('no base configured: explains the bucket is gone and the ways out; nothing changes', async () => {
    const root = app({ lock: V1, cache: '0.0.1.g0' })
    const r = await fetchCli(root)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /public bucket .* is gone/)
    assert.match(
      r.stderr,
      /--base-url URL, the ALLONET_BASE_URL environment variable, or "allonet": \{"baseUrl"/,
    )
    assert.match(r.stderr, /--from FILE.*--build/)
    assertUntouched(root)
  })

  test('installs the locked version, verifies sha256, records the cache; second run does nothing', async () => {
    const root = app({ lock: V1, cache: '0.0.1.g0' })
    const r = await fetchCli(root, '--base-url', m.url)
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stdout,
      new RegExp(`Installed allonet ${V1} for linux-x64 → ${LIB} \\(\\d+ bytes, sha256 verified\\)`),
    )
    assert.deepEqual(readFileSync(join(root, LIB)), lib1)
    assert.equal(cache(root), `${V1}\n`)
    assert.deepEqual(libDir(root), ['allonet.cache', 'liballonet.so'])
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a TTY')
    assert.equal(r.stdout.trim().split('\n').length, 1, 'one line of output')
    const before = m.hits.length
    const again = await fetchCli(root, '--base-url', m.url)
    assert.equal(again.code, 0)
    assert.match(again.stdout, /already installed .*nothing to do/)
    assert.equal(m.hits.length, before, 'no request when the cache matches')
    const forced = await fetchCli(root, '--base-url', m.url, '--force')
    assert.match(forced.stdout, /Installed allonet/)
    assert.ok(m.hits.length > before)
  })

  test('base URL from ALLONET_BASE_URL, then alloapp.json; --base-url wins', async () => {
    const viaEnv = app({ lock: V1 })
    const r1 = await runCli(['fetch'], { cwd: viaEnv, env: { ALLONET_BASE_URL: m.url } })
    assert.equal(r1.code, 0, r1.stderr)
    const viaConfig = app({ lock: V1, config: { allonet: { baseUrl: m.url } } })
    const r2 = await fetchCli(viaConfig)
    assert.equal(r2.code, 0, r2.stderr)
    assert.deepEqual(readFileSync(join(viaConfig, LIB)), lib1)
    const flagWins = app({ lock: V1, config: { allonet: { baseUrl: 'http://127.0.0.1:1/nothing' } } })
    const r3 = await runCli(['fetch', '--base-url', m.url], {
      cwd: flagWins,
      env: { ALLONET_BASE_URL: 'http://127.0.0.1:1/x' },
    })
    assert.equal(r3.code, 0, r3.stderr)
  })

  test('follows a redirect to the file; the checksum is looked up beside the requested URL; says where the bytes came from', async () => {
    const v = '1.0.2.gddddddd'
    m.set(`/${v}/linux-x64/liballonet.so`, {
      kind: 'redirect',
      to: `/${V1}/linux-x64/liballonet.so`,
      status: 302,
    })
    m.set(`/${v}/linux-x64/liballonet.so.sha256`, { kind: 'file', body: `${sha256(lib1)}  liballonet.so\n` })
    const root = app({ lock: v, cache: '0.0.1.g0' })
    const r = await fetchCli(root, '--base-url', m.url)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(readFileSync(join(root, LIB)), lib1)
    assert.equal(cache(root), `${v}\n`)
    assert.match(
      r.stdout,
      /sha256 verified\) from http:\/\/127\.0\.0\.1:\d+\/1\.0\.0\.gaaaaaaa\/linux-x64\/liballonet\.so \(redirected from http:\/\/127\.0\.0\.1:\d+\/1\.0\.2\.gddddddd\/linux-x64\/liballonet\.so\)/,
    )
    assert.ok(m.hits.includes(`/${v}/linux-x64/liballonet.so.sha256`))
  })

  test('no checksum published: refused and nothing changes, unless --allow-no-checksum or ALLONET_ALLOW_NO_CHECKSUM=1 (issue 20 #2)', async () => {
    const v = '1.0.1.gccccccc'
    m.file(`/${v}/linux-x64/liballonet.so`, lib2, false)
    const root = app({ lock: v, cache: '0.0.1.g0' })
    const refused = await fetchCli(root, '--base-url', m.url)
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    assert.match(
      refused.stderr,
      /publishes no checksum for .*liballonet\.so \(.*\.sha256 answered HTTP 404\).*--build.*--allow-no-checksum \(or ALLONET_ALLOW_NO_CHECKSUM=1\)/,
    )
    assert.equal(refused.stderr.trim().split('\n').length, 1)
    assertUntouched(root)

    const r = await fetchCli(root, '--base-url', m.url, '--allow-no-checksum')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /NOT verified: no checksum published/)
    assert.deepEqual(readFileSync(join(root, LIB)), lib2)

    const viaEnv = app({ lock: v })
    const r2 = await runCli(['fetch', '--base-url', m.url], {
      cwd: viaEnv,
      env: { ...env, ALLONET_ALLOW_NO_CHECKSUM: '1' },
    })
    assert.equal(r2.code, 0, r2.stderr)
    assert.deepEqual(readFileSync(join(viaEnv, LIB)), lib2)
  })

  test('--build refuses an --allonet-url that git would read as an option (issue 20 #6)', async () => {
    const dir = tempDir()
    const marker = join(dir, 'pwned')
    const root = app({ lock: V1, cache: '0.0.1.g0' })
    const r = await runCli(['fetch', '--build', `--allonet-url=--upload-pack=touch ${marker}`], {
      cwd: root,
      env,
    })
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(
      r.stderr,
      /--allonet-url "--upload-pack=touch .*" starts with "-": give a git URL or the path of an allonet clone/,
    )
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.equal(existsSync(marker), false, 'git never ran the upload-pack command')
    assertUntouched(root)
  })

  const failures: Array<[string, () => void, RegExp, string[]?]> = [
    [
      'a wrong sha256',
      () => m.file('/9.0.0.gbad/linux-x64/liballonet.so', lib1, sha256('something else')),
      /Checksum mismatch for .*liballonet\.so: the mirror publishes sha256 [0-9a-f]{64} but the download has/,
    ],
    [
      'HTTP 404',
      () => {},
      /allonet version 9\.0\.0\.gbad has no build for linux-x64 at http:\/\/127\.0\.0\.1:\d+\/9\.0\.0\.gbad\/linux-x64\/liballonet\.so \(HTTP 404\)/,
    ],
    [
      'HTTP 500',
      () => m.set('/9.0.0.gbad/linux-x64/liballonet.so', { kind: 'status', status: 500 }),
      /answered HTTP 500 Internal Server Error/,
    ],
    [
      'a redirect loop',
      () => {
        m.set('/9.0.0.gbad/linux-x64/liballonet.so', { kind: 'redirect', to: '/loop2' })
        m.set('/loop2', { kind: 'redirect', to: '/9.0.0.gbad/linux-x64/liballonet.so' })
      },
      /Redirect loop/,
    ],
    [
      'a stalled server (--timeout 1)',
      () =>
        m.set('/9.0.0.gbad/linux-x64/liballonet.so', { kind: 'stall', length: lib1.length, sendBytes: 100 }),
      /Timed out: .* sent nothing for 1 s/,
      ['--timeout', '1'],
    ],
    [
      'a truncated body',
      () =>
        m.set('/9.0.0.gbad/linux-x64/liballonet.so', { kind: 'truncate', length: 50_000, sendBytes: 2000 }),
      /cut off after 2000 of 50000 bytes/,
    ],
    [
      'an HTML page',
      () =>
        m.set('/9.0.0.gbad/linux-x64/liballonet.so', {
          kind: 'file',
          body: '<html><body>Please log in</body></html>',
          contentType: 'text/html',
        }),
      /sent an HTML page instead of the library/,
    ],
    [
      'a redirect to file: (issue 20, info)',
      () => m.set('/9.0.0.gbad/linux-x64/liballonet.so', { kind: 'redirect', to: 'file:///etc/passwd' }),
      /Refusing the redirect from .* to file:\/\/\/etc\/passwd: only http and https are downloaded/,
    ],
    [
      'a body over --max-size without Content-Length (issue 20 #5)',
      () => m.set('/9.0.0.gbad/linux-x64/liballonet.so', { kind: 'stream', bytes: 3 * 1024 * 1024 }),
      /is larger than 1048576 bytes, more than any allonet library; nothing was installed/,
      ['--max-size', '1'],
    ],
    [
      'a drip that outlasts --deadline (issue 20 #5)',
      () => m.set('/9.0.0.gbad/linux-x64/liballonet.so', { kind: 'drip', everyMs: 200 }),
      /took longer than 2 s in all/,
      ['--deadline', '2', '--timeout', '30'],
    ],
    [
      'a file that is not a library',
      () => m.file('/9.0.0.gbad/linux-x64/liballonet.so', 'just some text\n'),
      /is a text file, not a Linux x86-64 shared library .*not an ELF file/,
    ],
  ]
  for (const [name, arrange, message, extra] of failures) {
    test(`${name}: its own message, exit 4 (network), and the old library kept byte for byte`, async () => {
      for (const k of [...m.routes.keys()])
        if (k.startsWith('/9.0.0.gbad') || k === '/loop2') m.routes.delete(k)
      arrange()
      const root = app({ lock: '9.0.0.gbad', cache: '0.0.1.g0' })
      const r = await fetchCli(root, '--base-url', m.url, ...(extra ?? []))
      assert.equal(r.code, 4, r.stdout + r.stderr)
      assert.match(r.stderr, message)
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack')
      assertUntouched(root)
    })
  }

  test('Ctrl-C mid-download: the temp file is removed and the old library kept byte for byte', async () => {
    m.set('/9.1.0.gabcdef/linux-x64/liballonet.so', { kind: 'stall', length: 1_000_000, sendBytes: 4096 })
    const root = app({ lock: '9.1.0.gabcdef', cache: '0.0.1.g0' })
    const cli = new CliProcess(['fetch', '--base-url', m.url, '--timeout', '60'], { cwd: root, env })
    // wait (event by event, generous limit) until the download has created its temp file
    for (let i = 0; i < 300 && !libDir(root).some((f) => f.endsWith('.tmp')); i++) await sleep(50)
    assert.ok(
      libDir(root).some((f) => f.endsWith('.tmp')),
      `no temp file appeared: ${cli.output}`,
    )
    cli.signal('SIGINT')
    const end = await cli.closed
    assert.equal(end.signal, 'SIGINT')
    assertUntouched(root)
  })

  test('connection refused', async () => {
    const gone = await startMirror()
    await gone.close()
    const root = app({ lock: V1, cache: '0.0.1.g0' })
    const r = await fetchCli(root, '--base-url', gone.url)
    assert.equal(r.code, 4, 'EXIT.network')
    assert.match(r.stderr, /Could not connect to 127\.0\.0\.1:\d+ \(connection refused\)/)
    assertUntouched(root)
  })

  test('no lock: says how to pick a version', async () => {
    const root = app({})
    const r = await fetchCli(root, '--base-url', m.url)
    assert.equal(r.code, 3, 'EXIT.missingDependency')
    assert.match(r.stderr, /No allonet version is locked .*assist upgrade/)
  })

  test('outside an app: a one-line error', async () => {
    const r = await runCli(['fetch', '--base-url', m.url], { cwd: tempDir(), env })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /No Alloverse app in/)
  })
})

describe('assist fetch --from', () => {
  test('installs a real shared library and records --version', async () => {
    const root = app({ lock: V1, cache: '0.0.1.g0' })
    const file = buildSharedLib(join(tempDir(), 'mybuild.so'), 5)
    const r = await fetchCli(root, '--from', file, '--version', V1)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`→ ${LIB} \\(recorded as allonet ${V1}\\)`))
    assert.deepEqual(readFileSync(join(root, LIB)), readFileSync(file))
    assert.equal(cache(root), `${V1}\n`)
  })

  test('without --version the installed version is unknown (cache removed), and a mismatch with the lock is flagged', async () => {
    const root = app({ lock: V1, cache: '0.0.1.g0' })
    const file = buildSharedLib(join(tempDir(), 'mybuild.so'), 6)
    const r = await fetchCli(root, '--from', file)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /version not recorded/)
    assert.deepEqual(libDir(root), ['liballonet.so'])
    const r2 = await fetchCli(root, '--from', file, '--version', V2)
    assert.match(r2.stderr, new RegExp(`allonet.lock wants ${V1}`))
  })

  test('a text file named like a library is refused by its header; the old library stays', async () => {
    const root = app({ lock: V1, cache: '0.0.1.g0' })
    const fake = join(tempDir(), 'liballonet.so')
    writeFile(fake, 'I am not a library\n')
    const r = await fetchCli(root, '--from', fake, '--version', V1)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /is a text file, not a Linux x86-64 shared library/)
    assertUntouched(root)
  })

  test('a missing file and a bad --version are refused', async () => {
    const root = app({ lock: V1, cache: '0.0.1.g0' })
    const r = await fetchCli(root, '--from', '/nonexistent/lib.so')
    assert.match(r.stderr, /--from \/nonexistent\/lib\.so: no such file/)
    const file = buildSharedLib(join(tempDir(), 'x.so'), 3)
    const r2 = await fetchCli(root, '--from', file, '--version', 'latest')
    assert.equal(r2.code, 2)
    assert.match(r2.stderr, /--version "latest" is not an allonet version/)
    assertUntouched(root)
  })
})

describe('assist upgrade', () => {
  const up = (root: string, ...args: string[]) =>
    runCli(['upgrade', '--base-url', m.url, ...args], { cwd: root, env })
  const lock = (root: string) => readFileSync(join(root, 'allo/allonet.lock'), 'utf8')

  test('no argument: newest of main; shows old → new, writes the lock, installs', async () => {
    const root = app({ lock: V1, cache: V1 })
    const r = await up(root)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`allonet ${V1.replace(/\./g, '\\.')} → ${V2.replace(/\./g, '\\.')}`))
    assert.equal(lock(root), `${V2}\n`)
    assert.equal(cache(root), `${V2}\n`)
    assert.deepEqual(readFileSync(join(root, LIB)), lib2)
    const again = await up(root)
    assert.match(again.stdout, /Already at/)
  })

  test('a version argument pins it; a branch argument uses that branch', async () => {
    const root = app({})
    const r = await up(root, V1)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /allonet \(none\) → 1\.0\.0\.gaaaaaaa/)
    assert.equal(lock(root), `${V1}\n`)
    const r2 = await up(root, 'main')
    assert.equal(lock(root), `${V2}\n`, r2.stderr)
    const r3 = await up(root, 'dev')
    assert.equal(r3.code, 0, r3.stderr)
    assert.equal(lock(root), `${V1}\n`)
    assert.ok(m.hits.includes('/latest_dev_linux-x64.json'))
  })

  test('the branch comes from alloapp.json when set', async () => {
    const root = app({ config: { allonet: { branch: 'dev' } } })
    const r = await up(root)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(lock(root), `${V1}\n`)
  })

  test('a version the mirror lacks: clear 404, lock and library unchanged', async () => {
    const root = app({ lock: '0.0.1.g0', cache: '0.0.1.g0' })
    const r = await up(root, '7.7.7.gdead')
    assert.equal(r.code, 4, 'EXIT.network')
    assert.match(r.stderr, /allonet version 7\.7\.7\.gdead has no build for linux-x64 at .* \(HTTP 404\)/)
    assert.equal(lock(root), '0.0.1.g0\n')
    assertUntouched(root)
  })

  test('unknown branch, broken latest JSON, and a non-name argument', async () => {
    const root = app({ lock: '0.0.1.g0', cache: '0.0.1.g0' })
    const r = await up(root, 'nosuchbranch')
    assert.match(r.stderr, /No latest build is published for branch "nosuchbranch" on linux-x64/)
    m.set('/latest_broken_linux-x64.json', { kind: 'file', body: '{"version": "soon"}' })
    const r2 = await up(root, 'broken')
    assert.match(r2.stderr, /names no valid version/)
    const r3 = await up(root, 'a b')
    assert.match(r3.stderr, /neither an allonet version .* nor a branch name/)
    assert.equal(lock(root), '0.0.1.g0\n')
    assertUntouched(root)
  })

  test('no base configured: the same explanation as fetch', async () => {
    const root = app({})
    const r = await runCli(['upgrade'], { cwd: root, env })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /public bucket .* is gone/)
  })
})

describe('assist fetch from an https mirror (issue 20 #2)', () => {
  let tls: Mirror
  let certPath: string
  before(async () => {
    const c = selfSignedCert()
    certPath = c.certPath
    tls = await startMirror({ tls: { key: c.key, cert: c.cert } })
  })
  after(() => tls.close())
  // The CLI trusts the mirror's self-signed certificate the way a private CA is trusted.
  const tlsEnv = () => ({ ...env, NODE_EXTRA_CA_CERTS: certPath })

  test('a 302 from https to plain http is refused; nothing is fetched over http, nothing changes', async () => {
    const v = '2.0.0.geeeeeee'
    tls.set(`/${v}/linux-x64/liballonet.so`, { kind: 'redirect', to: `${m.url}/evil/liballonet.so` })
    m.file('/evil/liballonet.so', lib2, false) // the attacker's copy, with no .sha256 (404)
    const root = app({ lock: v, cache: '0.0.1.g0' })
    const r = await runCli(['fetch', '--base-url', tls.url, '--allow-no-checksum'], {
      cwd: root,
      env: tlsEnv(),
    })
    assert.equal(r.code, 4, r.stdout + r.stderr) // EXIT.network: the mirror's download failed
    assert.match(
      r.stderr,
      /Refusing the redirect from https:\/\/127\.0\.0\.1:\d+\/2\.0\.0\.geeeeeee\/linux-x64\/liballonet\.so to plain-http http:\/\/127\.0\.0\.1:\d+\/evil\/liballonet\.so/,
    )
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.equal(m.hits.includes('/evil/liballonet.so'), false, 'the plain-http URL was never requested')
    assertUntouched(root)
  })

  test('an https download with its checksum installs and names the https URL it came from', async () => {
    const v = '2.0.1.gfffffff'
    tls.file(`/${v}/linux-x64/liballonet.so`, lib1)
    const root = app({ lock: v, cache: '0.0.1.g0' })
    const r = await runCli(['fetch', '--base-url', tls.url], { cwd: root, env: tlsEnv() })
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stdout,
      /sha256 verified\) from https:\/\/127\.0\.0\.1:\d+\/2\.0\.1\.gfffffff\/linux-x64\/liballonet\.so$/m,
    )
    assert.deepEqual(readFileSync(join(root, LIB)), lib1)
  })
})
