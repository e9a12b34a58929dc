/**
 * The gateway in-process with real HTTP and real luajit apps: launches, every error answer, the
 * hostile-input table, reaping, limits, admin endpoints, timeouts, drain.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, symlinkSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { Gateway } from '../../src/core/gateway.js'
import { makeLuaApp, writeFile } from '../helpers/app.js'
import { isAlive } from '../helpers/cli.js'
import {
  type Captured,
  getJson,
  IDLE_BOOT_LUA,
  launch,
  PLACE,
  PLACE_BODY,
  PLACE_IDENTITY,
  placeHeaders,
  QUICK_BOOT_LUA,
  rawPost,
  rawRequest,
  recordOf,
  STUBBORN_BOOT_LUA,
  startsOf,
  waitUntil,
} from '../helpers/gateway.js'
import { gatewayHarness } from '../helpers/gateway-harness.js'

const { gateway, temp } = gatewayHarness()

function assertErrorBody(json: Record<string, unknown>) {
  assert.equal(json.status, 'error')
  assert.equal(typeof json.error, 'string')
  const text = json.error as string
  assert.ok(text.length > 10 && text.length < 120, `short human sentence: ${text}`)
  assert.doesNotMatch(text, /\n|\/tmp\//, 'one line, no server paths')
}

describe('single-app mode', () => {
  let app: string
  let g: Gateway & { log: Captured }
  before(async () => {
    const parent = temp()
    app = makeLuaApp('template-app', {}, parent)
    g = await gateway({ appDir: join(app, 'lua') }) // any folder inside the app finds it
  })

  it('answers the exact bytes a real place sends (launch-flow.txt, part A) with 200 and passes body and identity on untouched', async () => {
    const head =
      'POST / HTTP/1.1\r\nAccept: */*\r\nConnection: close\r\nContent-Length: 114\r\n' +
      'Content-Type: application/json\r\nHost: 127.0.0.1:8000\r\nUser-Agent: cpp-httplib/0.10.7\r\n' +
      'x-alloverse-launched-by: {\\n\t"display_name":\t"launch-app"\\n}\r\n' +
      'x-alloverse-server: alloplace://localhost:21337\r\n\r\n'
    const bytes = Buffer.from(head + PLACE_BODY, 'latin1')
    assert.equal(bytes.length, 383, 'the same 383 bytes as the capture')
    assert.equal(Buffer.byteLength(PLACE_BODY), 114)
    const res = await rawRequest(g.port, bytes)
    assert.equal(res.status, 200, res.body)
    assert.equal(res.json?.status, 'ok')
    assert.match(String(res.json?.instance), /^[0-9a-f]{12}$/)
    await waitUntil(() => existsSync(join(app, 'record.json')), 'the app recorded its start')
    const rec = recordOf(app)
    assert.equal(rec.boot_args, PLACE_BODY)
    assert.equal(rec.identity, PLACE_IDENTITY)
    assert.deepEqual(rec.args, [app, PLACE])
    assert.equal(rec.argv0, join(app, 'allo/boot.lua'))
    const listed = g.instances()
    assert.equal(listed.length, 1)
    assert.equal(listed[0].display_name, 'launch-app')
    assert.equal(listed[0].app, 'template-app')
    assert.equal(listed[0].place, PLACE)
    assert.ok(g.log.lines.some((l) => /template-app#1 started .* for "launch-app"/.test(l)))
  })

  it('launches on any path, as the old gateway did', async () => {
    const before = startsOf(app)
    const res = await launch(`${g.url}some/path?x=1`)
    assert.equal(res.status, 200)
    await waitUntil(() => startsOf(app) === before + 1, 'a second start')
  })

  it('lists its one app under /apps', async () => {
    const { status, json } = await getJson(`${g.url}apps`)
    assert.equal(status, 200)
    assert.deepEqual(json.apps, [
      { name: 'template-app', path: '/', info: { display_name: 'template-app', author: 'tests' } },
    ])
  })
})

describe('apps-root mode', () => {
  let root: string
  let outside: string
  let g: Gateway & { log: Captured }
  const apps: Record<string, string> = {}

  before(async () => {
    root = temp()
    const elsewhere = temp()
    apps.alpha = makeLuaApp('alpha', {}, root)
    apps.beta = makeLuaApp('beta', {}, root)
    apps.quick = makeLuaApp('quick', { boot: QUICK_BOOT_LUA }, root)
    apps.crashy = makeLuaApp('crashy', { boot: 'io.stderr:write("boom: broken\\n") os.exit(3)\n' }, root)
    apps.nolib = makeLuaApp('nolib', { withLib: false }, root)
    apps.badconfig = makeLuaApp('badconfig', { files: { 'alloapp.json': '{ nope' } }, root)
    apps.hidden = makeLuaApp('.hidden', {}, root)
    outside = makeLuaApp('outside', {}, elsewhere)
    symlinkSync(outside, join(root, 'escape'))
    symlinkSync(apps.beta, join(root, 'beta-link')) // a link that stays inside the root is fine
    mkdirSync(join(root, 'notanapp'))
    writeFile(join(root, 'file.txt'), 'x')
    g = await gateway({ appsRoot: root })
  })

  it('starts the named app with the right argv and environment, and answers 200 with the instance', async () => {
    // fetch cannot send non-Latin-1 header text; a raw request sends the UTF-8 bytes a place would.
    const identityBytes = Buffer.from('{"display_name":"Åsa 🚀"}').toString('latin1')
    const raw = await rawPost(
      g.port,
      '/alpha',
      placeHeaders({ 'x-alloverse-launched-by': identityBytes }),
      PLACE_BODY,
    )
    const res = { status: raw.status, json: raw.json as Record<string, unknown> }
    assert.equal(res.status, 200)
    assert.equal(res.json.status, 'ok')
    assert.equal(res.json.app, 'alpha')
    assert.match(String(res.json.instance), /^[0-9a-f]{12}$/)
    assert.equal(typeof res.json.pid, 'number')
    await waitUntil(() => existsSync(join(apps.alpha, 'record.json')), 'alpha recorded its start')
    const rec = recordOf(apps.alpha)
    assert.deepEqual(rec.args, [apps.alpha, PLACE])
    assert.equal(rec.boot_args, PLACE_BODY)
    assert.equal(rec.identity, '{"display_name":"Åsa 🚀"}', 'non-ASCII identity arrives byte for byte')
    assert.equal(startsOf(apps.beta), 0, 'beta was not started')
    const view = g.instances().find((i) => i.id === res.json.instance)
    assert.equal(view?.display_name, 'Åsa 🚀')

    // DELETE stops it (loopback client, no token configured).
    const del = await getJson(`${g.url}instances/${res.json.instance}`, { method: 'DELETE' })
    assert.equal(del.status, 200)
    assert.equal(del.json.status, 'ok')
    assert.equal((del.json.exit as { signal: string }).signal, 'SIGTERM')
    assert.equal(isAlive(res.json.pid as number), false)
    assert.equal(
      g.instances().find((i) => i.id === res.json.instance),
      undefined,
    )
  })

  it('follows a symlink that stays inside the root', async () => {
    const before = startsOf(apps.beta)
    const res = await launch(`${g.url}beta-link`)
    assert.equal(res.status, 200)
    await waitUntil(() => startsOf(apps.beta) === before + 1, 'beta started through the link')
    await getJson(`${g.url}instances/${res.json.instance}`, { method: 'DELETE' })
  })

  it('reaps instances that exit, logging code and lifetime', async () => {
    const res = await launch(`${g.url}quick`)
    assert.equal(res.status, 200)
    const pid = res.json.pid as number
    await waitUntil(() => !g.instances().some((i) => i.id === res.json.instance), 'quick was reaped')
    assert.equal(isAlive(pid), false, 'no zombie left')
    assert.ok(g.log.lines.some((l) => /^info quick#\d+ exited with code 0 after \d+\.\ds/.test(l)))
  })

  it('logs a crash with the last lines the app printed', async () => {
    const res = await launch(`${g.url}crashy`)
    assert.equal(res.status, 200)
    await waitUntil(
      () => g.log.lines.some((l) => /^warn crashy#\d+ exited with code 3/.test(l)),
      'crash logged',
    )
    assert.ok(g.log.lines.some((l) => l.includes('boom: broken')))
  })

  it('finds app folders added while it runs', async () => {
    const gamma = makeLuaApp('gamma', { boot: QUICK_BOOT_LUA }, root)
    const res = await launch(`${g.url}gamma`)
    assert.equal(res.status, 200)
    await waitUntil(() => existsSync(join(gamma, 'launches.log')), 'gamma ran')
  })

  it('lists apps with their info.json, skipping dotfiles, links leading out and non-apps', async () => {
    const { status, json } = await getJson(`${g.url}apps`)
    assert.equal(status, 200)
    const names = (json.apps as Array<{ name: string }>).map((a) => a.name)
    assert.ok(names.includes('alpha') && names.includes('beta') && names.includes('beta-link'))
    for (const hidden of ['.hidden', 'escape', 'notanapp', 'file.txt'])
      assert.ok(!names.includes(hidden), hidden)
    const alpha = (json.apps as Array<{ name: string; path: string; info: unknown }>).find(
      (a) => a.name === 'alpha',
    )
    assert.deepEqual(alpha, {
      name: 'alpha',
      path: '/alpha',
      info: { display_name: 'alpha', author: 'tests' },
    })
  })

  it('reports health with counts', async () => {
    const { status, json } = await getJson(`${g.url}health`)
    assert.equal(status, 200)
    assert.equal(json.status, 'ok')
    assert.equal(json.mode, 'apps-root')
    assert.equal(typeof json.instances, 'number')
    const head = await fetch(`${g.url}health`, { method: 'HEAD' })
    assert.equal(head.status, 200)
  })

  // Every error row of the contract, with its status; the body is always the one-sentence shape.
  const errorRows: Array<{
    name: string
    target: string
    status: number
    headers?: Record<string, string | undefined>
    body?: string
    method?: string
  }> = [
    {
      name: 'missing x-alloverse-server',
      target: '/alpha',
      status: 400,
      headers: { 'x-alloverse-server': undefined },
    },
    {
      name: 'missing x-alloverse-launched-by',
      target: '/alpha',
      status: 400,
      headers: { 'x-alloverse-launched-by': undefined },
    },
    {
      name: 'bad place URL',
      target: '/alpha',
      status: 400,
      headers: { 'x-alloverse-server': 'http://localhost' },
    },
    { name: 'body not JSON', target: '/alpha', status: 400, body: '{not json' },
    { name: 'body a JSON array', target: '/alpha', status: 400, body: '[1,2]' },
    { name: 'empty body', target: '/alpha', status: 400, body: '' },
    { name: 'body too large', target: '/alpha', status: 413, body: `{"x":"${'a'.repeat(70_000)}"}` },
    { name: 'no such app', target: '/nope', status: 404 },
    { name: 'wrong method', target: '/alpha', status: 405, method: 'PUT' },
    { name: 'GET an app', target: '/alpha', status: 405, method: 'GET' },
    { name: 'wrong content type', target: '/alpha', status: 415, headers: { 'Content-Type': 'text/plain' } },
    { name: 'no content type', target: '/alpha', status: 415, headers: { 'Content-Type': undefined } },
    { name: 'app missing its runtime', target: '/nolib', status: 502 },
    { name: 'app with a broken alloapp.json', target: '/badconfig', status: 502 },
  ]
  for (const row of errorRows) {
    it(`answers ${row.status} for ${row.name}`, async () => {
      const res = await rawPost(
        g.port,
        row.target,
        placeHeaders(row.headers),
        row.body ?? PLACE_BODY,
        row.method,
      )
      assert.equal(res.status, row.status, res.body)
      assert.ok(res.json, `JSON body: ${res.body}`)
      assertErrorBody(res.json)
      if (row.status === 405) assert.ok(res.headers.allow)
    })
  }

  it('answers 413 to a chunked body that grows past the limit', async () => {
    const head =
      'POST /alpha HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `x-alloverse-server: ${PLACE}\r\nx-alloverse-launched-by: {}\r\nTransfer-Encoding: chunked\r\n\r\n`
    const chunk = 'a'.repeat(40_000)
    const chunked = `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(2)
    const res = await rawRequest(g.port, head + chunked)
    assert.equal(res.status, 413)
    assert.match(String(res.json?.error), /too large/)
  })

  // At least 25 hostile inputs: none may start anything, anywhere.
  const longName = 'a'.repeat(300)
  const hostile: Array<{
    name: string
    target?: string
    headers?: Record<string, string | undefined>
    raw?: string
    status: number[]
  }> = [
    { name: 'dot-dot', target: '/..', status: [400] },
    { name: 'dot-dot then app outside', target: '/../outside', status: [404] },
    { name: 'encoded dot-dot', target: '/%2e%2e', status: [400] },
    { name: 'encoded dot-dot slash', target: '/%2e%2e%2foutside', status: [400] },
    { name: 'dot-dot with encoded slash', target: '/..%2foutside', status: [400] },
    { name: 'encoded absolute path', target: '/%2Ftmp', status: [400] },
    { name: 'double slash absolute', target: '//tmp/x', status: [404] },
    { name: 'app then walk out', target: '/alpha/../../outside', status: [404] },
    { name: 'symlink leading out of the root', target: '/escape', status: [404] },
    { name: 'dotfile app', target: '/.hidden', status: [400] },
    { name: 'encoded dotfile', target: '/%2ehidden', status: [400] },
    { name: 'empty name', target: '/', status: [400] },
    { name: 'folder that is no app', target: '/notanapp', status: [404] },
    { name: 'a file', target: '/file.txt', status: [404] },
    { name: 'NUL in the name', target: '/alpha%00', status: [400] },
    { name: 'backslashes', target: '/alpha%5c..%5coutside', status: [400] },
    { name: 'broken percent-encoding', target: '/%E0%A4%A', status: [400] },
    { name: 'option-like name', target: '/-rf', status: [400] },
    { name: 'shell metacharacters in the name', target: '/alpha;touch%20pwned', status: [400] },
    { name: 'command substitution in the name', target: '/$(touch%20pwned)', status: [400] },
    { name: 'very long name', target: `/${longName}`, status: [400] },
    { name: 'absolute-form target', target: 'http://evil.example/alpha', status: [400] },
    { name: 'asterisk target', target: '*', status: [400] },
    { name: 'option as destination', headers: { 'x-alloverse-server': '--help' }, status: [400] },
    {
      name: 'dash-prefixed destination',
      headers: { 'x-alloverse-server': '-alloplace://localhost' },
      status: [400],
    },
    {
      name: 'shell in destination',
      headers: { 'x-alloverse-server': 'alloplace://localhost;touch pwned' },
      status: [400],
    },
    {
      name: 'command substitution in destination',
      headers: { 'x-alloverse-server': 'alloplace://$(touch pwned)' },
      status: [400],
    },
    {
      name: 'backticks in destination',
      headers: { 'x-alloverse-server': 'alloplace://`touch pwned`' },
      status: [400],
    },
    {
      name: 'space in destination',
      headers: { 'x-alloverse-server': 'alloplace://local host' },
      status: [400],
    },
    {
      name: 'TAB in destination',
      headers: { 'x-alloverse-server': 'alloplace://local\thost' },
      status: [400],
    },
    {
      name: 'other scheme as destination',
      headers: { 'x-alloverse-server': 'file:///etc/passwd' },
      status: [400],
    },
    {
      name: 'destination with a path',
      headers: { 'x-alloverse-server': 'alloplace://localhost/../../etc' },
      status: [400],
    },
    {
      name: 'destination with credentials',
      headers: { 'x-alloverse-server': 'alloplace://root:x@localhost' },
      status: [400],
    },
    {
      name: 'destination port out of range',
      headers: { 'x-alloverse-server': 'alloplace://localhost:99999' },
      status: [400],
    },
    {
      name: 'over-long destination',
      headers: { 'x-alloverse-server': `alloplace://${'a'.repeat(1000)}` },
      status: [400],
    },
    { name: 'over-long identity', headers: { 'x-alloverse-launched-by': 'x'.repeat(9000) }, status: [400] },
    {
      name: 'control character in identity',
      headers: { 'x-alloverse-launched-by': '{"a":"\u0001"}' },
      status: [400],
    },
    { name: 'invalid UTF-8 identity', headers: { 'x-alloverse-launched-by': '\xff\xfe\xfd' }, status: [400] },
    {
      name: 'CRLF smuggling a second identity header',
      headers: { 'x-alloverse-server': `${PLACE}\r\nx-alloverse-launched-by: {"display_name":"evil"}` },
      status: [400],
    },
    {
      name: 'two destinations',
      raw: `POST /alpha HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-alloverse-server: ${PLACE}\r\nx-alloverse-server: alloplace://evil\r\nx-alloverse-launched-by: {}\r\nContent-Length: 2\r\n\r\n{}`,
      status: [400],
    },
    {
      name: 'NUL byte in destination',
      raw: `POST /alpha HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-alloverse-server: alloplace://x\u0000y\r\nx-alloverse-launched-by: {}\r\nContent-Length: 2\r\n\r\n{}`,
      status: [400],
    },
    {
      name: 'bare LF header injection',
      raw: `POST /alpha HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-alloverse-server: alloplace://x\nx-alloverse-server: alloplace://y\r\nx-alloverse-launched-by: {}\r\nContent-Length: 2\r\n\r\n{}`,
      status: [400],
    },
    {
      name: 'content-length and chunked together (request smuggling)',
      raw: `POST /alpha HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-alloverse-server: ${PLACE}\r\nx-alloverse-launched-by: {}\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      status: [400],
    },
    { name: 'header block over 16 KiB', headers: { 'x-padding': 'p'.repeat(20_000) }, status: [431] },
  ]

  it(`starts nothing for any of ${hostile.length} hostile requests`, async () => {
    assert.ok(hostile.length >= 25)
    const before = g.instances().length
    const startsBefore = Object.fromEntries(Object.entries(apps).map(([k, v]) => [k, startsOf(v)]))
    for (const row of hostile) {
      const res = row.raw
        ? await rawRequest(g.port, Buffer.from(row.raw, 'latin1'))
        : await rawPost(g.port, row.target ?? '/alpha', placeHeaders(row.headers), PLACE_BODY)
      assert.ok(row.status.includes(res.status), `${row.name}: got ${res.status} ${res.body}`)
      assert.ok(res.json, `${row.name}: JSON error body, got ${res.body}`)
      assertErrorBody(res.json)
    }
    assert.equal(g.instances().length, before, 'no instance was started')
    assert.equal(startsOf(outside), 0, 'the app outside the root never ran')
    for (const [k, v] of Object.entries(apps)) assert.equal(startsOf(v), startsBefore[k], `${k} never ran`)
    assert.equal(existsSync(join(apps.alpha, 'pwned')), false)
    assert.equal(existsSync(join(process.cwd(), 'pwned')), false)
    assert.ok(!g.log.lines.some((l) => /evil/.test(l) && /started/.test(l)))
  })

  it('keeps connections alive and serves concurrent requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const get = () =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = request(`${g.url}health`, { agent }, (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }))
        })
        req.on('error', reject)
        req.end()
      })
    const first = await get()
    const second = await get()
    agent.destroy()
    assert.equal(first.status, 200)
    assert.equal(second.status, 200)
    assert.equal(second.reused, true, 'the second request reused the connection')

    const results = await Promise.all([
      ...Array.from({ length: 16 }, () => getJson(`${g.url}health`)),
      ...Array.from({ length: 8 }, () => launch(`${g.url}quick`)),
    ])
    for (const r of results) assert.equal(r.status, 200)
  })
})

describe('admin endpoints', () => {
  let app: string
  before(() => {
    const parent = temp()
    app = makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, parent)
  })

  it('answers loopback clients without a token, but not requests relayed by a proxy', async () => {
    const g = await gateway({ appDir: app })
    assert.equal((await getJson(`${g.url}instances`)).status, 200)
    const proxied = await getJson(`${g.url}instances`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
    assert.equal(proxied.status, 403)
    assertErrorBody(proxied.json)
    const del = await getJson(`${g.url}instances/abc`, {
      method: 'DELETE',
      headers: { forwarded: 'for=1.2.3.4' },
    })
    assert.equal(del.status, 403)
    const unknown = await getJson(`${g.url}instances/abc`, { method: 'DELETE' })
    assert.equal(unknown.status, 404)
    assertErrorBody(unknown.json)
    assert.equal((await getJson(`${g.url}instances/abc`)).status, 405)
    assert.equal((await getJson(`${g.url}instances`, { method: 'POST' })).status, 405)
  })

  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address
  it('refuses non-loopback clients without a token', {
    skip: external ? false : 'no non-loopback address here',
  }, async () => {
    const g = await gateway({ appDir: app, host: '0.0.0.0' })
    const res = await getJson(`http://${external}:${g.port}/instances`)
    assert.equal(res.status, 403)
    assertErrorBody(res.json)
    assert.equal((await getJson(`http://${external}:${g.port}/health`)).status, 200, 'health is for everyone')
  })

  it('with --admin-token, wants the token from every client and then lists and stops instances', async () => {
    const token = 's3cret-token'
    const g = await gateway({ appDir: app, host: external ? '0.0.0.0' : '127.0.0.1', adminToken: token })
    const base = `http://127.0.0.1:${g.port}/`
    const noToken = await getJson(`${base}instances`)
    assert.equal(noToken.status, 401)
    assertErrorBody(noToken.json)
    assert.equal(
      (await getJson(`${base}instances`, { headers: { authorization: 'Bearer wrong-token!' } })).status,
      401,
    )
    assert.equal(
      (await getJson(`${base}instances`, { headers: { authorization: `Basic ${token}` } })).status,
      401,
    )
    const auth = { authorization: `Bearer ${token}` }
    const started = await launch(base)
    assert.equal(started.status, 200)
    const list = await getJson(`${base}instances`, { headers: auth })
    assert.equal(list.status, 200)
    const inst = (list.json.instances as Array<Record<string, unknown>>)[0]
    assert.equal(inst.id, started.json.instance)
    assert.equal(inst.app, 'idle')
    assert.equal(inst.place, PLACE)
    assert.equal(inst.display_name, 'launch-app')
    assert.equal(inst.pid, started.json.pid)
    assert.match(String(inst.started_at), /^\d{4}-\d\d-\d\dT/)
    if (external) {
      const remote = await getJson(`http://${external}:${g.port}/instances`, { headers: auth })
      assert.equal(remote.status, 200, 'a remote client with the token is answered')
    }
    const del = await getJson(`${base}instances/${started.json.instance}`, {
      method: 'DELETE',
      headers: auth,
    })
    assert.equal(del.status, 200)
    assert.equal(isAlive(started.json.pid as number), false)
  })
})

describe('limits', () => {
  let app: string
  before(() => {
    const parent = temp()
    app = makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, parent)
  })

  it('answers 429 past --max-per-place and 503 past --max-instances, and frees slots when instances end', async () => {
    const g = await gateway({ appDir: app, maxInstances: 2, maxPerPlace: 1 })
    const a = await launch(g.url, { headers: { 'x-alloverse-server': 'alloplace://place-a' } })
    assert.equal(a.status, 200)
    const again = await launch(g.url, { headers: { 'x-alloverse-server': 'alloplace://place-a:21337' } })
    assert.equal(again.status, 429)
    assertErrorBody(again.json)
    const b = await launch(g.url, { headers: { 'x-alloverse-server': 'alloplace://place-b' } })
    assert.equal(b.status, 200)
    const c = await launch(g.url, { headers: { 'x-alloverse-server': 'alloplace://place-c' } })
    assert.equal(c.status, 503)
    assertErrorBody(c.json)
    assert.equal(g.instances().length, 2)
    await getJson(`${g.url}instances/${a.json.instance}`, { method: 'DELETE' })
    assert.equal(
      (await launch(g.url, { headers: { 'x-alloverse-server': 'alloplace://place-c' } })).status,
      200,
    )
    const health = await getJson(`${g.url}health`)
    assert.equal(health.json.instances, 2)
    assert.equal(health.json.max_instances, 2)
  })

  it('stops an instance after --max-lifetime', async () => {
    const g = await gateway({ appDir: app, maxLifetimeMs: 300 })
    const res = await launch(g.url)
    assert.equal(res.status, 200)
    await waitUntil(() => g.instances().length === 0, 'the instance reached its lifetime')
    assert.equal(isAlive(res.json.pid as number), false)
    assert.ok(g.log.lines.some((l) => /reached the lifetime limit/.test(l)))
  })
})

describe('timeouts and oversized heads', () => {
  let app: string
  let g: Gateway & { log: Captured }
  before(async () => {
    const parent = temp()
    app = makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, parent)
    g = await gateway({
      appDir: app,
      timeouts: { headersMs: 300, requestMs: 600, keepAliveMs: 300, checkIntervalMs: 50 },
    })
  })

  it('answers 408 and closes a connection whose headers never finish (slowloris)', async () => {
    const res = await rawRequest(g.port, 'POST / HTTP/1.1\r\nHost: x\r\nx-alloverse-server: allo')
    assert.equal(res.status, 408)
    assertErrorBody(res.json as Record<string, unknown>)
  })

  it('answers 408 when the body never finishes, and starts nothing', async () => {
    const res = await rawRequest(
      g.port,
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-alloverse-server: ${PLACE}\r\nx-alloverse-launched-by: {}\r\nContent-Length: 100\r\n\r\n{"a":`,
    )
    assert.ok([408, 400].includes(res.status), `status ${res.status}`)
    assert.equal(g.instances().length, 0)
  })

  it('answers 408 and closes a connection that never sends a byte', async () => {
    const socket = connect(g.port, '127.0.0.1')
    let got = ''
    socket.on('data', (d) => {
      got += d
    })
    await new Promise<void>((resolve, reject) => {
      socket.on('close', () => resolve())
      socket.on('error', reject)
      setTimeout(() => reject(new Error('idle socket still open')), 15_000).unref()
    })
    assert.match(got, /^HTTP\/1\.1 408 /)
  })
})

describe('close (drain)', () => {
  it('stops every instance — TERM, grace, then KILL for one that ignores TERM — and leaves nothing running', async () => {
    const parent = temp()
    const idle = makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, parent)
    const stubborn = makeLuaApp('stubborn', { boot: STUBBORN_BOOT_LUA }, parent)
    const g = await gateway({ appsRoot: parent, graceMs: 300 })
    const pids: number[] = []
    for (const target of ['idle', 'idle', 'stubborn']) {
      const res = await launch(`${g.url}${target}`)
      assert.equal(res.status, 200)
      pids.push(res.json.pid as number)
    }
    await waitUntil(() => existsSync(join(stubborn, 'started')), 'stubborn ignores TERM now')
    assert.ok(existsSync(idle))
    await g.close()
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} is gone`)
    assert.equal(g.instances().length, 0)
    assert.ok(g.log.lines.some((l) => /stubborn#\d+ killed by SIGKILL/.test(l)))
    await assert.rejects(fetch(`${g.url}health`), 'no longer listening')
  })

  it('answers 503 to a launch whose body arrives after shutdown began, and starts nothing', async () => {
    const parent = temp()
    const app = makeLuaApp('idle', { boot: IDLE_BOOT_LUA }, parent)
    const g = await gateway({ appDir: app })
    const socket = connect(g.port, '127.0.0.1')
    let got = ''
    socket.on('data', (d) => {
      got += d
    })
    const requested = new Promise((r) => g.server.once('request', r))
    socket.write(
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-alloverse-server: ${PLACE}\r\n` +
        `x-alloverse-launched-by: {}\r\nContent-Length: ${Buffer.byteLength(PLACE_BODY)}\r\n\r\n`,
    )
    await requested
    const closing = g.close()
    socket.write(PLACE_BODY)
    await new Promise((r) => socket.once('close', r))
    await closing
    assert.match(got, /^HTTP\/1\.1 503 /)
    assert.match(got, /shutting down/)
    assert.equal(g.log.lines.filter((l) => / started /.test(l)).length, 0)
  })

  it('a forced close kills at once even with a long grace', async () => {
    const parent = temp()
    const stubborn = makeLuaApp('stubborn', { boot: STUBBORN_BOOT_LUA }, parent)
    const g = await gateway({ appDir: stubborn, graceMs: 600_000 })
    const res = await launch(g.url)
    await waitUntil(() => existsSync(join(stubborn, 'started')), 'stubborn ignores TERM now')
    const graceful = g.close()
    await waitUntil(() => g.log.lines.some((l) => /stopping 1 instance/.test(l)), 'drain began')
    assert.equal(isAlive(res.json.pid as number), true, 'TERM was ignored')
    await g.close({ force: true })
    await graceful
    assert.equal(isAlive(res.json.pid as number), false)
  })
})
