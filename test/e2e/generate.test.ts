/**
 * `assist generate systemd|nginx` as a user runs it (the built CLI): both spellings, stdout, --output,
 * --force, --install (into ASSIST_SYSTEMD_DIR, the test-only override), and a table of hostile values
 * that must write nothing and exit non-zero. Build first (npm test does).
 */
import assert from 'node:assert/strict'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { makeLuaApp, removeDir } from '../helpers/app.js'
import { runCli } from '../helpers/cli.js'
import {
  deployWorkDir,
  nginxTest,
  selfSignedCert,
  siteFileFlags,
  systemdExposure,
  systemdVerify,
  tmpPrefix,
} from '../helpers/deploy.js'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const work = deployWorkDir('e2e-')
const apps = join(work, 'apps')
mkdirSync(apps)
const app = makeLuaApp('clock', {}, apps)
makeLuaApp('drawing', {}, apps)
after(() => removeDir(work))

/** Runs assist without SUDO_USER so the invoking user is who runs the test. */
function assist(args: string[], cwd = app, env: NodeJS.ProcessEnv = {}) {
  return runCli(args, { cwd, env: { SUDO_USER: '', ...env } })
}

describe('assist generate: both spellings', () => {
  test('"generate systemd" and "generate-systemd" print the same unit', async () => {
    // daemon exists on this machine (Debian): no "does not exist here" warning
    const a = await assist(['generate', 'systemd', '--user', 'daemon'])
    const b = await assist(['generate-systemd', '--user', 'daemon'])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    assert.equal(a.stdout, b.stdout)
    assert.match(a.stdout, /^\[Service\]$/m)
    assert.equal(a.stderr, '')
  })

  test('"generate nginx" and "generate-nginx" print the same site', async () => {
    const a = await assist(['generate', 'nginx', '--domain', 'apps.example.com'])
    const b = await assist(['generate-nginx', '--domain', 'apps.example.com'])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(a.stdout, b.stdout)
    assert.match(a.stdout, /server_name apps\.example\.com;/)
  })

  test('help lists both commands under the generate topic', async () => {
    const r = await assist(['generate', '--help'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /generate nginx/)
    assert.match(r.stdout, /generate systemd/)
  })
})

describe('assist generate systemd', () => {
  test('from a subfolder of an app: that app is the working directory, no APPS_ROOT', async () => {
    const r = await assist(['generate', 'systemd', '--user', 'allo'], join(app, 'lua'))
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^WorkingDirectory=${app}$`, 'm'))
    assert.doesNotMatch(r.stdout, /APPS_ROOT/)
    assert.match(r.stdout, /^ExecStart=\/\S+ \/\S+\/bin\/run\.js serve --grace 5000$/m)
  })

  test('in a folder of apps: it serves them all (APPS_ROOT)', async () => {
    const r = await assist(['generate', 'systemd', '--user', 'allo'], apps)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^Environment=APPS_ROOT=${apps}$`, 'm'))
  })

  test('outside any app: a one-line error saying what to do', async () => {
    const r = await assist(['generate', 'systemd', '--user', 'allo'], work)
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /not inside an app.*--apps-root/)
    assert.equal(r.stdout, '')
  })

  test('default user is the invoking user; root is refused unless --allow-root', async () => {
    const r = await assist(['generate', 'systemd'])
    if (userInfo().username === 'root') {
      assert.equal(r.code, 2)
      assert.match(r.stderr, /Refusing to run the gateway as root/)
      const ok = await assist(['generate', 'systemd', '--allow-root'])
      assert.equal(ok.code, 0, ok.stderr)
      assert.match(ok.stdout, /^User=root$/m)
    } else {
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`^User=${userInfo().username}$`, 'm'))
    }
    const sudo = await assist(['generate', 'systemd'], app, { SUDO_USER: 'alice' })
    assert.equal(sudo.code, 0, sudo.stderr)
    assert.match(sudo.stdout, /^User=alice$/m)
  })

  test('--output writes atomically, refuses to overwrite without --force; the file passes systemd-analyze', async () => {
    const out = join(work, 'out')
    mkdirSync(out)
    const file = join(out, 'gw.service')
    const r = await assist(['generate', 'systemd', '--user', 'allo', '--output', file])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Wrote .*gw\.service/)
    assert.match(r.stdout, /systemctl daemon-reload && systemctl enable --now allo-gateway-clock\.service/)
    const first = readFileSync(file, 'utf8')
    const v = await systemdVerify(file)
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.stderr.trim(), '')
    assert.equal((await systemdExposure(file)).rating, 'OK')

    const again = await assist(['generate', 'systemd', '--user', 'other', '--output', file])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists; pass --force/)
    assert.equal(readFileSync(file, 'utf8'), first)

    const forced = await assist(['generate', 'systemd', '--user', 'other', '--output', file, '--force'])
    assert.equal(forced.code, 0, forced.stderr)
    assert.match(readFileSync(file, 'utf8'), /^User=other$/m)
    assert.deepEqual(readdirSync(out), ['gw.service'])
  })

  test('--install writes NAME.service into the systemd folder and prints the systemctl line (never runs it)', async () => {
    const dir = join(work, 'systemd-system')
    mkdirSync(dir)
    const r = await assist(['generate', 'systemd', '--user', 'allo', '--name', 'allo-gw', '--install'], app, {
      ASSIST_SYSTEMD_DIR: dir,
    })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(readdirSync(dir), ['allo-gw.service'])
    assert.match(r.stdout, /systemctl daemon-reload && systemctl enable --now allo-gw\.service/)
    const t = await assist(
      ['generate', 'systemd', '--user', 'allo', '--name', 'allo-gw', '--instances', '2', '--install'],
      app,
      { ASSIST_SYSTEMD_DIR: dir },
    )
    assert.equal(t.code, 0, t.stderr)
    assert.deepEqual(readdirSync(dir).sort(), ['allo-gw.service', 'allo-gw@.service'])
    assert.match(t.stdout, /systemctl enable --now allo-gw@8000\.service allo-gw@8001\.service/)
    const again = await assist(
      ['generate', 'systemd', '--user', 'allo', '--name', 'allo-gw', '--install'],
      app,
      {
        ASSIST_SYSTEMD_DIR: dir,
      },
    )
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists; pass --force/)
  })

  test('--install with --output, and --force alone, are refused', async () => {
    const a = await assist([
      'generate',
      'systemd',
      '--user',
      'allo',
      '--install',
      '--output',
      join(work, 'x'),
    ])
    assert.equal(a.code, 2)
    assert.match(a.stderr, /either --install or --output/)
    const b = await assist(['generate', 'systemd', '--user', 'allo', '--force'])
    assert.equal(b.code, 2)
    assert.match(b.stderr, /--force only matters/)
  })
})

describe('assist generate systemd: accounts, root and risky values (issues 14, 20)', () => {
  test("writes Group= as the user's primary group on this machine; the unit passes systemd-analyze verify", async () => {
    const r = await assist(['generate', 'systemd', '--user', 'daemon']) // daemon:x:1:1 on Debian
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^User=daemon$/m)
    assert.match(r.stdout, /^Group=daemon$/m)
    assert.equal(r.stderr, '')
    const file = join(work, 'grp.service')
    writeFileSync(file, r.stdout)
    const v = await systemdVerify(file)
    assert.equal(v.code, 0, v.stderr)
  })

  test('warns (and still writes) when --user or --group does not exist here', async () => {
    const r = await assist([
      'generate',
      'systemd',
      '--user',
      'no-such-user-xyz',
      '--group',
      'no-such-group-xyz',
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /--user no-such-user-xyz does not exist on this machine/)
    assert.match(r.stderr, /--group no-such-group-xyz does not exist on this machine/)
    assert.match(r.stdout, /^Group=no-such-group-xyz$/m)
  })

  test('refuses uid 0 in any spelling and the root group, in one line, writing nothing', async () => {
    const out = join(work, 'root-out')
    mkdirSync(out)
    for (const args of [
      ['--user', '0'],
      ['--user', '00'],
      ['--user', 'daemon', '--group', 'root'],
      ['--user', 'daemon', '--group', '000'],
    ]) {
      const r = await assist(['generate', 'systemd', ...args, '--output', join(out, 'x.service')])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`)
      assert.match(r.stderr, /Refusing/)
      assert.equal(r.stderr.trim().split('\n').length, 1)
    }
    assert.deepEqual(readdirSync(out), [])
  })

  test('the nginx recipe: --host 127.0.0.1 binds the gateway to loopback, and the next steps say so (issue 14)', async () => {
    const file = join(work, 'loopback.service')
    const r = await assist([
      'generate',
      'systemd',
      '--user',
      'daemon',
      '--host',
      '127.0.0.1',
      '--output',
      file,
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.match(readFileSync(file, 'utf8'), /^ExecStart=\S+ \S+ serve --host 127\.0\.0\.1 /m)
    assert.match(r.stdout, /listens on loopback only: put nginx in front of it/)
    const open = await assist([
      'generate',
      'systemd',
      '--user',
      'daemon',
      '--output',
      join(work, 'open.service'),
    ])
    assert.match(
      open.stdout,
      /Behind nginx, bind the gateway to 127\.0\.0\.1 \(--host 127\.0\.0\.1\) or firewall its port \(8000\)/,
    )
  })

  test('warns on --env LD_PRELOAD, PATH and NODE_OPTIONS', async () => {
    const r = await assist([
      'generate',
      'systemd',
      '--user',
      'daemon',
      '--env',
      'LD_PRELOAD=/opt/x.so',
      '--env',
      'NODE_OPTIONS=--inspect',
      '--env',
      'LOG_LEVEL=debug',
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /--env LD_PRELOAD=… changes which code the gateway runs/)
    assert.match(r.stderr, /--env NODE_OPTIONS=… changes/)
    assert.doesNotMatch(r.stderr, /LOG_LEVEL/)
  })

  test('an assist installed under /tmp is refused like an app folder there (its ExecStart= would not exist)', async () => {
    // A copy of this package under /tmp, as an npx cache or a clone in /tmp would be.
    const pkg = mkdtempSync(join('/tmp', 'assist-pkg-'))
    try {
      for (const part of ['bin', 'dist', 'package.json', 'oclif.manifest.json'])
        cpSync(join(REPO, part), join(pkg, part), { recursive: true })
      symlinkSync(join(REPO, 'node_modules'), join(pkg, 'node_modules'))
      const r = await runCli(['generate', 'systemd', '--user', 'daemon'], {
        cwd: app,
        env: { SUDO_USER: '', ASSIST_TEST_ALLOW_TMP_EXEC: '' },
        cli: join(pkg, 'bin', 'run.js'),
      })
      assert.equal(r.code, 2, r.stdout)
      assert.match(
        r.stderr,
        /This assist \(\/tmp\/assist-pkg-\w+\/bin\/run\.js\) lives under \/tmp, which the service cannot see/,
      )
      assert.equal(r.stdout, '')
    } finally {
      removeDir(pkg)
    }
  })
})

describe('assist generate nginx', () => {
  let prefix = ''
  let cert = ''
  let key = ''
  before(async () => {
    prefix = tmpPrefix()
    ;({ cert, key } = await selfSignedCert(prefix, 'apps.example.com'))
  })
  after(() => removeDir(prefix))

  test('--output writes a site that passes nginx -t, and says where it goes and to firewall the gateway', async () => {
    const site = join(prefix, 'apps.example.com')
    const r = await assist([
      'generate',
      'nginx',
      '--domain',
      'apps.example.com',
      ...siteFileFlags(prefix, { cert, key }, join(prefix, 'access.log')),
      '--upstream',
      '127.0.0.1:8000',
      '--upstream',
      '127.0.0.1:8001',
      '--rate-limit',
      '10r/m',
      '--output',
      site,
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /sites-available\/apps\.example\.com/)
    assert.match(r.stdout, /nginx -t && systemctl reload nginx/)
    assert.match(
      r.stdout,
      /Run the gateways with --host 127.0.0.1 .* firewall the gateway ports \(8000, 8001\)/,
    )
    const t = await nginxTest(prefix, site)
    assert.equal(t.code, 0, t.stderr)
    const again = await assist(['generate', 'nginx', '--domain', 'apps.example.com', '--output', site])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists; pass --force/)
  })

  test('--domain is required', async () => {
    const r = await assist(['generate', 'nginx'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--domain is required/)
  })
})

describe('hostile values: exit non-zero, one-line message naming the option, nothing written', () => {
  const S = ['generate', 'systemd', '--user', 'allo']
  const N = ['generate', 'nginx', '--domain', 'apps.example.com']
  const TABLE: Array<[string, string[], RegExp]> = [
    ['newline in domain', ['generate', 'nginx', '--domain', 'a.com\nserver { }'], /--domain/],
    ['semicolon in domain', ['generate', 'nginx', '--domain', 'a.com; include /etc/passwd'], /--domain/],
    ['brace in domain', ['generate', 'nginx', '--domain', 'a.com{'], /--domain/],
    ['variable in domain', ['generate', 'nginx', '--domain', '$host'], /--domain/],
    ['space in upstream', [...N, '--upstream', '127.0.0.1:8000 backup'], /--upstream/],
    ['semicolon in upstream', [...N, '--upstream', '127.0.0.1:8000;'], /--upstream/],
    ['quote in cert path', [...N, '--cert', '/etc/ssl/a".pem'], /--cert/],
    ['newline in key path', [...N, '--key', '/etc/ssl/a.pem\nssl_verify_client off'], /--key/],
    ['relative acme root', [...N, '--acme-root', 'www'], /--acme-root/],
    ['brace in access log', [...N, '--access-log', '/var/log/}x.log'], /--access-log/],
    ['injected rate', [...N, '--rate-limit', '10r/m; allow all'], /--rate-limit/],
    ['listen with options', [...N, '--listen-https', '443 ssl default_server'], /--listen-https/],
    ['newline in user', [...S.slice(0, 2), '--user', 'allo\nExecStartPre=/bin/sh'], /--user/],
    ['space in group', [...S, '--group', 'allo wheel'], /--group/],
    ['newline in env value', [...S, '--env', 'A=1\nExecStartPre=/bin/rm'], /--env/],
    ['quote in env value', [...S, '--env', 'A=x" "B=y'], /--env/],
    ['specifier in env value', [...S, '--env', 'A=%h'], /--env/],
    ['dollar in env value', [...S, '--env', 'A=$PATH'], /--env/],
    ['bad env key', [...S, '--env', 'A B=1'], /--env/],
    ['semicolon in environment file', [...S, '--environment-file', '/etc/a;rm'], /--environment-file/],
    ['relative environment file', [...S, '--environment-file', 'gw.env'], /--environment-file/],
    ['slash in unit name', [...S, '--name', '../../etc/evil'], /--name/],
    ['newline in host', [...S, '--host', '0.0.0.0\nUser=root'], /--host/],
    ['space in luajit path', [...S, '--luajit', '/usr/bin/luajit -e os.exit()'], /--luajit/],
    ['injected lifetime', [...S, '--max-lifetime', '1h --admin-token x'], /--max-lifetime/],
    ['percent in apps root', [...S, '--apps-root', join(work, '%h')], /apps-root|%/],
  ]

  for (const [label, args, option] of TABLE) {
    test(label, async () => {
      const out = join(work, `inj-${label.replace(/\W+/g, '-')}`)
      mkdirSync(out)
      const install = join(out, 'install')
      mkdirSync(install)
      const file = join(out, 'result.conf')
      const isSystemd = args.includes('systemd')
      if (isSystemd && label === 'percent in apps root') mkdirSync(join(work, '%h'), { recursive: true })
      const r = await assist([...args, '--output', file], app, { ASSIST_SYSTEMD_DIR: install })
      assert.notEqual(r.code, 0, `accepted: ${r.stdout}`)
      assert.match(r.stderr, option)
      assert.equal(r.stderr.trim().split('\n').length, 1, `not one line: ${r.stderr}`)
      assert.equal(r.stdout, '')
      assert.deepEqual(readdirSync(out), ['install'])
      if (isSystemd) {
        const i = await assist([...args, '--install'], app, { ASSIST_SYSTEMD_DIR: install })
        assert.notEqual(i.code, 0)
        assert.deepEqual(readdirSync(install), [])
      }
    })
  }

  test('the table has at least 20 hostile values', () => {
    assert.ok(TABLE.length >= 20)
  })

  test('a pre-existing file is left untouched by a refused run', async () => {
    const file = join(work, 'keep.conf')
    writeFileSync(file, 'keep\n')
    const r = await assist(['generate', 'nginx', '--domain', 'x;y', '--output', file, '--force'])
    assert.notEqual(r.code, 0)
    assert.equal(readFileSync(file, 'utf8'), 'keep\n')
  })
})
