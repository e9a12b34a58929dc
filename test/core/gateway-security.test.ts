/**
 * The attacks of the security review (issue 20) against the real gateway, in-process, with real HTTP
 * and real luajit apps: the admin token leaking into apps, DNS rebinding on /instances, symlinks inside
 * an app leading out of --apps-root, one place counted as several, a body over the limit, one client
 * holding every connection; and the crash summary that must show the error.
 */
import assert from 'node:assert/strict'
import { existsSync, symlinkSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { placeKey } from '../../src/core/gateway/registry.js'
import { crashSummary, ErrorLines } from '../../src/core/gateway/server.js'
import { allowedEnv, parseEnvAdditions } from '../../src/core/instance-env.js'
import { makeLuaApp, removeDir, writeFile } from '../helpers/app.js'
import {
  ENV_DUMP_BOOT_LUA,
  envOf,
  IDLE_BOOT_LUA,
  launch,
  PLACE,
  rawRequest,
  waitUntil,
} from '../helpers/gateway.js'
import { gatewayHarness } from '../helpers/gateway-harness.js'

const { gateway, temp } = gatewayHarness()

describe('what an instance inherits (issue 20 #1)', () => {
  const gatewayEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ASSIST_ADMIN_TOKEN: 'super-secret-admin-token',
    AWS_SECRET_ACCESS_KEY: 'also-secret',
    NODE_OPTIONS: '--require /nowhere.js',
    APPS_ROOT: '/srv/whatever',
    PORT: '8123',
    LC_ALL: 'C.UTF-8',
    TZ: 'Europe/Stockholm',
    PASS_ME: 'passed by name',
  }

  for (const spawner of [true, false]) {
    it(`gives an app only the allow-list, --env and alloapp.json additions, never the admin token (${spawner ? 'through the spawner' : 'direct spawn'})`, async () => {
      const root = temp()
      const app = makeLuaApp(
        'envy',
        {
          boot: ENV_DUMP_BOOT_LUA,
          files: { 'alloapp.json': JSON.stringify({ env: { FROM_APP: 'app says hi' } }) },
        },
        root,
      )
      const g = await gateway({
        appsRoot: root,
        env: gatewayEnv,
        spawner,
        adminToken: gatewayEnv.ASSIST_ADMIN_TOKEN,
        appEnv: parseEnvAdditions(['LOG_LEVEL=debug', 'PASS_ME', 'NOT_SET_ANYWHERE'], gatewayEnv),
      })
      const res = await launch(`${g.url}envy`)
      assert.equal(res.status, 200, JSON.stringify(res.json))
      await waitUntil(() => existsSync(join(app, 'env.txt')), 'the app dumped its environment')
      const env = envOf(app)
      for (const secret of [
        'ASSIST_ADMIN_TOKEN',
        'AWS_SECRET_ACCESS_KEY',
        'NODE_OPTIONS',
        'APPS_ROOT',
        'PORT',
      ])
        assert.equal(env.has(secret), false, `${secret} must not reach the app`)
      assert.ok(
        ![...env.values()].some((v) => v.includes('super-secret')),
        'the token is nowhere in the app env',
      )
      assert.equal(env.get('PATH'), gatewayEnv.PATH)
      assert.equal(env.get('LC_ALL'), 'C.UTF-8')
      assert.equal(env.get('TZ'), 'Europe/Stockholm')
      assert.equal(env.get('LOG_LEVEL'), 'debug', 'serve --env KEY=VALUE')
      assert.equal(env.get('PASS_ME'), 'passed by name', 'serve --env KEY passes the gateway value on')
      assert.equal(env.has('NOT_SET_ANYWHERE'), false)
      assert.equal(env.get('FROM_APP'), 'app says hi', "the app's own alloapp.json env")
      assert.ok(env.get('ALLO_APP_BOOT_ARGS'), 'the launch variables')
      assert.ok(env.get('ALLO_APP_BOOTED_BY_IDENTITY'))
    })
  }

  it('allowedEnv keeps exactly the documented names', () => {
    assert.deepEqual(
      Object.keys(
        allowedEnv({
          PATH: '/bin',
          HOME: '/h',
          LC_TIME: 'C',
          LANG: 'C',
          SECRET: 'x',
          ASSIST_ADMIN_TOKEN: 't',
        }),
      ).sort(),
      ['HOME', 'LANG', 'LC_TIME', 'PATH'],
    )
  })

  it('serve --env refuses bad names and the launch variables, in one line', () => {
    assert.throws(() => parseEnvAdditions(['1BAD=x'], {}), /Invalid --env "1BAD=x": give KEY=VALUE/)
    assert.throws(() => parseEnvAdditions(['A-B'], {}), /Invalid --env/)
    assert.throws(() => parseEnvAdditions(['ALLO_APP_BOOT_ARGS={}'], {}), /set by each launch/)
  })
})

/** GET/DELETE with an arbitrary Host header, over a raw socket (fetch would not let us set Host). */
function withHost(port: number, method: string, path: string, host: string) {
  return rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
}

describe('DNS rebinding on /instances (issue 20 #4)', () => {
  it('answers tokenless /instances only under localhost, an IP address or an --allowed-host name', async () => {
    const root = temp()
    makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, root)
    const g = await gateway({ appsRoot: root, allowedHosts: ['admin.example'] })
    const res = await launch(`${g.url}idle`)
    assert.equal(res.status, 200)
    const id = String(res.json.instance)
    const p = g.port

    // The attack: a page at evil.example whose name now resolves to 127.0.0.1.
    const list = await withHost(p, 'GET', '/instances', `evil.example:${p}`)
    assert.equal(list.status, 403)
    assert.match(String(list.json?.error), /Refused Host "evil.example:\d+".*DNS-rebinding/)
    assert.equal(list.body.includes(id), false, 'nothing about the instances leaks')
    const del = await withHost(p, 'DELETE', `/instances/${id}`, `evil.example:${p}`)
    assert.equal(del.status, 403)
    assert.equal(g.instances().length, 1, 'the instance still runs')

    for (const host of [
      `127.0.0.1:${p}`,
      `localhost:${p}`,
      `LOCALHOST.:${p}`,
      `[::1]:${p}`,
      `Admin.Example:${p}`,
    ]) {
      const ok = await withHost(p, 'GET', '/instances', host)
      assert.equal(ok.status, 200, `Host ${host}: ${ok.body}`)
    }
    const gone = await withHost(p, 'DELETE', `/instances/${id}`, `localhost:${p}`)
    assert.equal(gone.status, 200)
  })
})

describe('symlinks inside an app under --apps-root (issue 20 #7, issue 14)', () => {
  it('refuses files that lead outside the root, logs why, and runs nothing from outside', async () => {
    const root = temp()
    const outside = temp()
    const marker = join(outside, 'ran')
    // An outside "program" that proves it ran by creating a file.
    writeFile(join(outside, 'evil.sh'), `#!/bin/sh\ntouch ${marker}\nsleep 30\n`, 0o755)
    writeFile(join(outside, 'alloapp.json'), JSON.stringify({ start: [join(outside, 'evil.sh'), '{url}'] }))
    writeFile(join(outside, 'boot.lua'), `local f = io.open('${marker}', 'w') f:write('x') f:close()\n`)
    writeFile(join(outside, 'main.lua'), `print('outside')\n`)
    writeFile(join(outside, 'info.json'), JSON.stringify({ display_name: 'SECRET OUTSIDE INFO' }))

    // alloapp.json → outside (the attack in the review: it launched an outside program)
    const cfg = join(root, 'cfg')
    writeFile(join(cfg, 'README'), 'x')
    symlinkSync(join(outside, 'alloapp.json'), join(cfg, 'alloapp.json'))
    // the boot script → outside
    const boot = makeLuaApp('boot', {}, root)
    removeDir(join(boot, 'allo/boot.lua'))
    symlinkSync(join(outside, 'boot.lua'), join(boot, 'allo/boot.lua'))
    // lua/main.lua → outside
    const main = makeLuaApp('main', {}, root)
    removeDir(join(main, 'lua/main.lua'))
    symlinkSync(join(outside, 'main.lua'), join(main, 'lua/main.lua'))
    // a start command's file argument → outside
    const arg = join(root, 'arg')
    writeFile(join(arg, 'alloapp.json'), JSON.stringify({ start: ['/bin/sh', 'app.sh', '{url}'] }))
    symlinkSync(join(outside, 'evil.sh'), join(arg, 'app.sh'))
    // info.json → outside: /apps must not show it
    const info = makeLuaApp('info', { boot: IDLE_BOOT_LUA }, root)
    removeDir(join(info, 'info.json'))
    symlinkSync(join(outside, 'info.json'), join(info, 'info.json'))
    // the whole app folder → outside
    symlinkSync(outside, join(root, 'folder'))
    // a symlink that stays inside the root is fine
    const shared = join(root, '.shared')
    writeFile(join(shared, 'boot.lua'), IDLE_BOOT_LUA)
    const fine = makeLuaApp('fine', {}, root)
    removeDir(join(fine, 'allo/boot.lua'))
    symlinkSync(join(shared, 'boot.lua'), join(fine, 'allo/boot.lua'))

    const g = await gateway({ appsRoot: root })
    for (const [name, file] of [
      ['cfg', 'alloapp.json'],
      ['boot', 'allo/boot.lua'],
      ['main', 'lua/main.lua'],
      ['arg', 'app.sh'],
    ]) {
      const res = await launch(`${g.url}${name}`)
      assert.equal(res.status, 502, `${name}: ${JSON.stringify(res.json)}`)
      assert.ok(
        g.log.lines.some(
          (l) =>
            l.startsWith('warn') && l.includes(`${file} in ${join(root, name)} leads outside the apps root`),
        ),
        `the log says why ${name} was refused: ${g.log.lines.join('\n')}`,
      )
    }
    const folder = await launch(`${g.url}folder`)
    assert.equal(folder.status, 404)
    assert.ok(
      g.log.lines.some((l) => /folder is a symlink leading outside the apps root \(to .*\); refused/.test(l)),
      'a refused app folder is logged with the reason',
    )
    assert.equal(existsSync(marker), false, 'nothing from outside the root ran')

    const apps = (await (await fetch(`${g.url}apps`)).json()) as {
      apps: Array<{ name: string; info: object }>
    }
    assert.deepEqual(apps.apps.find((a) => a.name === 'info')?.info, {})
    assert.equal(JSON.stringify(apps).includes('SECRET OUTSIDE INFO'), false)

    const ok = await launch(`${g.url}fine`)
    assert.equal(ok.status, 200, JSON.stringify(ok.json))
    assert.equal(existsSync(marker), false)
  })
})

describe('--max-per-place counts one place once (issue 20 #8)', () => {
  it('treats case and a trailing dot as the same host', async () => {
    const root = temp()
    makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, root)
    const g = await gateway({ appsRoot: root, maxPerPlace: 1 })
    const first = await launch(`${g.url}idle`, {
      headers: { 'x-alloverse-server': 'alloplace://H.example:21337' },
    })
    assert.equal(first.status, 200)
    for (const place of [
      'alloplace://h.EXAMPLE:21337',
      'alloplace://h.example.:21337',
      'alloplace://h.example',
    ]) {
      const again = await launch(`${g.url}idle`, { headers: { 'x-alloverse-server': place } })
      assert.equal(again.status, 429, place)
    }
    const other = await launch(`${g.url}idle`, {
      headers: { 'x-alloverse-server': 'alloplace://h.example:21338' },
    })
    assert.equal(other.status, 200, 'another port is another place')
  })

  it('placeKey normalises case, trailing dots and IPv6 spelling', () => {
    assert.equal(placeKey('alloplace://H.Example.:21337'), 'alloplace://h.example:21337')
    assert.equal(placeKey('alloplace://[0:0::1]:21337'), 'alloplace://[::1]:21337')
    assert.equal(placeKey(PLACE), PLACE)
  })
})

describe('a crash summary shows the error (issue 14)', () => {
  it('quotes the stderr error line first even when many lines followed it', async () => {
    const root = temp()
    makeLuaApp(
      'broken',
      {
        boot:
          'io.stderr:write("main.lua:62: unexpected symbol near \'=\'\\n") io.stderr:flush()\n' +
          "for i = 1, 8 do io.stdout:write('Loading allonet… ', i, '\\n') end io.stdout:flush()\nos.exit(1)\n",
      },
      root,
    )
    const g = await gateway({ appsRoot: root, logAppOutput: false })
    assert.equal((await launch(`${g.url}broken`)).status, 200)
    await waitUntil(() => g.log.lines.some((l) => /broken#1 exited with code 1/.test(l)), 'the crash report')
    const line = g.log.lines.find((l) => /broken#1 exited with code 1/.test(l)) as string
    assert.match(
      line,
      /; error output: "main\.lua:62: unexpected symbol near '='"; last output: "Loading allonet… 4"/,
    )
  })

  it("quotes LuaJIT's error message first, never its stack traceback", async () => {
    const root = temp()
    makeLuaApp(
      'syntax',
      {
        boot: "io.stdout:write('Loading allonet…\\n') io.stdout:flush()\nrequire('nonexistent.module.for.test')\n",
      },
      root,
    )
    const g = await gateway({ appsRoot: root, logAppOutput: false })
    assert.equal((await launch(`${g.url}syntax`)).status, 200)
    await waitUntil(() => g.log.lines.some((l) => /syntax#1 exited with code 1/.test(l)), 'the crash report')
    const line = g.log.lines.find((l) => /syntax#1 exited with code 1/.test(l)) as string
    assert.match(
      line,
      /; error output: "\S*luajit: \S+boot\.lua:2: module 'nonexistent\.module\.for\.test' not found:"/,
    )
    assert.doesNotMatch(line, /stack traceback|\[C\]: in function/)
  })

  it('ErrorLines: named errors first, then other stderr, no traceback frames', () => {
    const e = new ErrorLines()
    for (const [line, stream] of [
      ["luajit: error loading module 'main' from file './lua/main.lua':", 'stderr'],
      ["\t./lua/main.lua:5: unexpected symbol near '='", 'stderr'],
      ['stack traceback:', 'stderr'],
      ['\t[C]: at 0x5561bc91b0a0', 'stderr'],
      ["\t[C]: in function 'require'", 'stderr'],
      ['\tallo/boot.lua:80: in main chunk', 'stderr'],
      ['Loading allonet', 'stdout'],
      ['a warning on stderr', 'stderr'],
    ] as const)
      e.add(line, stream)
    assert.deepEqual(e.lines(), [
      "luajit: error loading module 'main' from file './lua/main.lua':",
      "\t./lua/main.lua:5: unexpected symbol near '='",
      'a warning on stderr',
    ])
  })

  it('crashSummary puts error lines first and does not repeat them', () => {
    assert.equal(crashSummary(['E'], ['a', 'E', 'b']), '; error output: "E"; last output: "a" | "b"')
    assert.equal(crashSummary([], ['a']), '; last output: "a"')
    assert.equal(crashSummary([], []), '')
  })
})

describe('one client cannot hold every connection (issue 20, info)', () => {
  it('refuses connections over the per-address cap, so /health still answers others', async () => {
    const root = temp()
    makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, root)
    const g = await gateway({ appsRoot: root, maxConnections: 8, maxConnectionsPerAddress: 4 })
    // The attacker: 10 idle connections from 127.0.0.2 (another loopback address on Linux).
    const held: Socket[] = []
    const answers: string[] = []
    await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<void>((resolve, reject) => {
            const s = connect({ port: g.port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => resolve())
            s.on('data', (d) => answers.push(d.toString()))
            s.on('error', reject)
            held.push(s)
          }),
      ),
    )
    try {
      await waitUntil(() => answers.length >= 6, 'the connections over the cap were answered')
      assert.ok(
        answers.every(
          (a) => a.startsWith('HTTP/1.1 503') && a.includes('Too many connections from your address'),
        ),
      )
      const health = await rawRequest(
        g.port,
        'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      )
      assert.equal(health.status, 200, 'another client still gets /health')
    } finally {
      for (const s of held) s.destroy()
    }
  })
})

describe('a body over the limit (issue 14)', () => {
  it('is 413 whether declared or streamed', async () => {
    const root = temp()
    makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, root)
    const g = await gateway({ appsRoot: root, maxBodyBytes: 100 })
    const big = await launch(`${g.url}idle`, { body: `{"x":"${'a'.repeat(200)}"}` })
    assert.equal(big.status, 413)
    assert.match(String(big.json.error), /too large \(limit 100 bytes\)/)
  })
})
