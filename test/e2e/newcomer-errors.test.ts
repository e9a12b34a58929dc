/**
 * The errors a newcomer hit on the way to a first running Lua app (issue 14), each through the
 * built CLI in a temp folder with real processes: real luajit running small Lua apps, real UDP
 * and TCP ports, real shell redirection, the real `open` package and its xdg-open.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { makeLuaApp, removeDir, tempDir, writeFile } from '../helpers/app.js'
import { CLI, CliProcess, killAllCli, runCli, sleep } from '../helpers/cli.js'

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const TEMPLATE_BOOT = readFileSync(join(REPO, 'templates/_shared/allo/boot.lua'), 'utf8')

/** A free UDP port on 127.0.0.1 (bound, read, closed: nothing listens there afterwards). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
  const { port } = s.address()
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** Exactly one line on stderr, in our ✖ style, without oclif's › or a stack. */
function assertOneLine(stderr: string, what: string): void {
  const lines = stderr.trim().split('\n')
  assert.equal(lines.length, 1, `${what}: one line, got:\n${stderr}`)
  assert.match(lines[0], /^✖ /, what)
  assert.doesNotMatch(stderr, /›|USAGE|\n\s+at /, what)
}

describe('newcomer errors', () => {
  after(killAllCli)

  describe('assist run in an app without alloui', () => {
    test('the template boot script and no allo/deps/alloui: one line, the fix, exit 3, nothing started', async () => {
      const root = makeLuaApp('noui', { boot: TEMPLATE_BOOT })
      const r = await runCli(['run', 'alloplace://localhost'], { cwd: root })
      assert.equal(r.code, 3, 'EXIT.missingDependency')
      assertOneLine(r.stderr, 'no alloui')
      assert.match(
        r.stderr,
        /alloui is missing \(.*allo\/deps\/alloui is not there\), and the app cannot start without it/,
      )
      assert.match(
        r.stderr,
        /git submodule add https:\/\/github\.com\/alloverse\/alloui-lua allo\/deps\/alloui/,
      )
      assert.doesNotMatch(r.stdout + r.stderr, /module 'alloui/, 'LuaJIT never ran')
      assert.doesNotMatch(r.stdout, /▶ started/)
    })

    test('recorded as a submodule but not checked out (an empty folder): the fix is assist fetch', async () => {
      const root = makeLuaApp('emptyui', {
        boot: TEMPLATE_BOOT,
        files: {
          '.gitmodules':
            '[submodule "allo/deps/alloui"]\n\tpath = allo/deps/alloui\n\turl = https://github.com/alloverse/alloui-lua\n',
        },
      })
      mkdirSync(join(root, 'allo/deps/alloui'), { recursive: true })
      // the built-in place path checks before it starts a place
      const r = await runCli(['run', '--no-view'], { cwd: root })
      assert.equal(r.code, 3)
      assertOneLine(r.stderr, 'empty alloui')
      assert.match(r.stderr, /allo\/deps\/alloui is empty\), .*Run `assist fetch` to check it out\./)
      assert.doesNotMatch(r.stdout, /Built-in place/, 'no place was started')
    })
  })

  test("a crashed app's output is shown once, not again as a summary", async () => {
    const root = makeLuaApp('crashonce')
    const r = await runCli(['run', 'alloplace://localhost', '--no-watch'], {
      cwd: root,
      env: { TEST_APP_MODE: 'crash' },
    })
    assert.equal(r.code, 5, 'EXIT.appFailed')
    assert.equal((r.stderr.match(/boom: something broke/g) ?? []).length, 1, r.stderr)
    assert.match(r.stderr, /✖ crashonce exited with code 3 after [\d.]+s\.\n/)
    assert.doesNotMatch(r.stderr, /Last output/)
  })

  test('--place-port on a busy port names --place-port (the flag run has), exit 4', async () => {
    const blocker = createSocket('udp4')
    await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()))
    const port = blocker.address().port
    try {
      const r = await runCli(['run', '--place-port', String(port), '--no-view'], { cwd: makeLuaApp('busy') })
      assert.equal(r.code, 4, 'EXIT.network')
      assertOneLine(r.stderr, 'busy port')
      assert.match(
        r.stderr,
        new RegExp(`UDP port ${port} on 127\\.0\\.0\\.1 is already in use .*pass --place-port `),
      )
      assert.doesNotMatch(r.stderr, / --port /)
    } finally {
      blocker.close()
    }
  })

  describe('flag and argument mistakes come out as one ✖ line with exit 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['run', '--place-port', 'abc'],
        /^✖ --place-port: Expected an integer but received: abc\. See `assist run --help`\.$/,
      ],
      [['run', '--place-port', '70000'], /^✖ --place-port: Expected an integer less than or equal to 65535/],
      [['run', '--delay'], /^✖ Flag --delay expects a value\. See `assist run --help`\.$/],
      [
        ['run', '--plce-port', '3'],
        /^✖ Unknown flag --plce-port for `assist run`\. Did you mean --place-port\? /,
      ],
      [
        ['run', 'alloplace://a', 'b'],
        /^✖ Unexpected argument "b" for `assist run` \(it takes URL\)\. See `assist run --help`\.$/,
      ],
      [
        ['generate', 'nginx', '--bogus'],
        /^✖ Unknown flag --bogus for `assist generate nginx`\. See `assist generate nginx --help`\.$/,
      ],
      [
        ['serve', '--port', 'x'],
        /^✖ --port: Expected an integer but received: x\. See `assist serve --help`\.$/,
      ],
      [['create', '--template'], /^✖ Flag --template expects a value\. See `assist create --help`\.$/],
      // oclif's own commands (help, autocomplete) and errors outside any command
      [['help', 'rn'], /^✖ Command rn not found\. See `assist help`\.$/],
      [
        ['autocomplete', 'zsh2'],
        /^✖ Expected zsh2 to be one of: zsh, bash, powershell\. See `assist help`\.$/,
      ],
    ]
    for (const [args, message] of cases) {
      test(args.join(' '), async () => {
        const r = await runCli(args, { cwd: tempDir() })
        assert.equal(r.code, 2, r.stderr)
        assertOneLine(r.stderr, args.join(' '))
        assert.match(r.stderr.trim(), message)
        assert.equal(r.stdout, '', 'no help dumped on stdout')
      })
    }
  })

  test('an invalid --launch-args shows a launch-args example, not an identity one', async () => {
    const root = makeLuaApp('launchargs')
    for (const bad of ['{not json', '[1]']) {
      const r = await runCli(['run', 'alloplace://localhost', '--launch-args', bad], { cwd: root })
      assert.equal(r.code, 2)
      assertOneLine(r.stderr, bad)
      assert.match(r.stderr, /--launch-args '\{"initialLocation":\[/)
      assert.doesNotMatch(r.stderr, /display_name/)
    }
    const id = await runCli(['run', 'alloplace://localhost', '--identity', '{x'], { cwd: root })
    assert.match(id.stderr, /--identity '\{"display_name":"me"\}'/)
  })

  describe('assist run alloplace://… where no place answers', () => {
    // The real alloui raises error("Failed to connect") from App:connect when allonet's connect
    // fails (alloui/app.lua); the real allonet cannot be built in these tests, so this app's boot
    // script raises the same error from real luajit, with the stack trace luajit prints for it.
    const FAILING_BOOT = `io.stdout:write("Connecting to ", arg[2], "\\n") io.stdout:flush()
local function connect() error("Failed to connect") end
local function run() connect() end
run()
`
    test('--no-watch: one line saying nothing answers there, no stack trace, exit 4', async () => {
      const port = await freeUdpPort()
      const url = `alloplace://127.0.0.1:${port}`
      const root = makeLuaApp('noplace', { boot: FAILING_BOOT })
      const r = await runCli(['run', url, '--no-watch'], { cwd: root })
      assert.equal(r.code, 4, `EXIT.network\n${r.stdout}${r.stderr}`)
      assert.match(r.stdout, /Connecting to alloplace/, 'what the app printed before is still shown')
      const lines = r.stderr.trim().split('\n')
      assert.equal(lines.length, 1, r.stderr)
      assert.equal(
        lines[0],
        `[assist] ✖ Nothing answers at ${url}: check that the place is running there (\`assist place\` starts one), or use plain \`assist run\` for a built-in place.`,
      )
      assert.doesNotMatch(r.stdout + r.stderr, /stack traceback|Failed to connect/)
    })

    test('watching: the same line once, then it waits for a change', async () => {
      const port = await freeUdpPort()
      const root = makeLuaApp('noplacew', { boot: FAILING_BOOT })
      const p = new CliProcess(['run', `alloplace://127.0.0.1:${port}`], { cwd: root })
      // stdout and stderr are separate pipes: wait for each line rather than assume an order
      await p.waitFor(/Waiting for a change to restart/)
      await p.waitFor(/Nothing answers at/)
      await sleep(500)
      assert.equal(p.count(/Nothing answers at alloplace:\/\/127\.0\.0\.1/), 1, p.output)
      assert.doesNotMatch(p.output, /stack traceback/)
      p.signal('SIGTERM')
      assert.equal((await p.closed).code, 143)
    })

    test('an app that logs "Failed to connect" and goes on running: its lines are shown after all', async () => {
      const root = makeLuaApp('retries', {
        boot: `io.stderr:write("Failed to connect, retrying\\n") io.stderr:flush()
io.stderr:write("retry 1\\n") io.stderr:flush()
while true do os.execute("sleep 0.2") end
`,
      })
      const p = new CliProcess(['run', 'alloplace://127.0.0.1:1', '--no-watch'], { cwd: root })
      await p.waitFor(/retry 1/, 20_000) // held for up to 3 s, then shown
      assert.match(p.stderr, /Failed to connect, retrying\n.*retry 1/)
      assert.doesNotMatch(p.output, /Nothing answers/)
      p.signal('SIGINT')
      assert.equal((await p.closed).code, 130)
    })
  })

  test('--open without a browser says so and prints the URL to visit', async () => {
    const root = makeLuaApp('nobrowser')
    // xdg-open (the `open` package's copy) tries $BROWSER and finds nothing that works.
    const env = {
      BROWSER: '/bin/false',
      DISPLAY: '',
      WAYLAND_DISPLAY: '',
      XDG_CURRENT_DESKTOP: '',
      DESKTOP_SESSION: '',
    }
    const p = new CliProcess(['run', '--open'], { cwd: root, env })
    await p.waitFor(/Could not open a browser/, 20_000)
    const url = /Web view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(p.output)?.[1]
    assert.ok(url, p.output)
    assert.match(
      p.stderr,
      new RegExp(`Could not open a browser \\(no browser found: .*\\): visit ${url} yourself\\.`),
    )
    p.signal('SIGINT')
    await p.closed
  })

  test('assist run > run.out inside the app folder does not restart the app for its own output', async () => {
    const root = makeLuaApp('selfwatch', {
      boot: `for i = 1, 15 do io.stdout:write("line ", i, "\\n") io.stdout:flush() os.execute("sleep 0.1") end
local f = io.open(arg[1] .. "/starts.log", "a") f:write("start\\n") f:close()
while true do os.execute("sleep 0.2") end
`,
    })
    const out = join(root, 'run.out')
    const child = spawn(
      'sh',
      ['-c', `exec "${process.execPath}" "${CLI}" run alloplace://localhost > run.out 2>&1`],
      {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: 'ignore',
      },
    )
    const closed = new Promise((r) => child.on('close', r))
    try {
      for (let i = 0; i < 300 && !/line 15/.test(existsSync(out) ? readFileSync(out, 'utf8') : ''); i++)
        await sleep(50)
      await sleep(1500) // long past the quiet time: a restart its output caused would have begun
      const text = readFileSync(out, 'utf8')
      assert.match(text, /line 15/, text)
      assert.equal((text.match(/▶ started/g) ?? []).length, 1, text)
      assert.doesNotMatch(text, /changed, restarted/, text)
      assert.equal(readFileSync(join(root, 'starts.log'), 'utf8'), 'start\n', 'the app ran once')
      // a real save still restarts it
      writeFile(join(root, 'lua/main.lua'), 'print("saved")\n')
      for (let i = 0; i < 300 && !/lua\/main\.lua changed, restarted/.test(readFileSync(out, 'utf8')); i++)
        await sleep(50)
      assert.match(readFileSync(out, 'utf8'), /↻ lua\/main\.lua changed, restarted/)
    } finally {
      child.kill('SIGTERM')
      await closed
    }
  })

  describe('exit codes (src/core/exit-codes.ts)', () => {
    test('0 ok, 2 usage, 3 missing dependency, 4 network, 5 app failed, 128+N signals', async () => {
      const app = makeLuaApp('codes')
      const place = 'alloplace://localhost'
      const ok = await runCli(['run', place, '--no-watch'], { cwd: app, env: { TEST_APP_MODE: 'exit0' } })
      assert.equal(ok.code, 0, ok.stderr)
      const usage = await runCli(['run', place, '--grace', 'soon'], { cwd: app })
      assert.equal(usage.code, 2, usage.stderr)
      const noApp = await runCli(['run', place], { cwd: tempDir() })
      assert.equal(noApp.code, 2, 'not in an app: a usage error')
      const missing = await runCli(['run', place], { cwd: makeLuaApp('codes-nolib', { withLib: false }) })
      assert.equal(missing.code, 3, missing.stderr)
      const noLuajit = await runCli(['run', place, '--luajit', '/nonexistent/luajit'], { cwd: app })
      assert.equal(noLuajit.code, 3, noLuajit.stderr)
      const blocker = createSocket('udp4')
      await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()))
      const busy = await runCli(['place', '--port', String(blocker.address().port), '--no-view'])
      blocker.close()
      assert.equal(busy.code, 4, busy.stderr)
      const failed = await runCli(['run', place, '--no-watch'], { cwd: app, env: { TEST_APP_MODE: 'crash' } })
      assert.equal(failed.code, 5, failed.stderr)
      for (const [signal, code] of [
        ['SIGINT', 130],
        ['SIGTERM', 143],
        ['SIGHUP', 129],
      ] as const) {
        const p = new CliProcess(['run', place], { cwd: app })
        await p.waitFor(/booted \d/)
        p.signal(signal)
        assert.equal((await p.closed).code, code, `${signal}: ${p.output}`)
      }
    })

    test('1: something else failed (doctor found a problem)', async () => {
      const r = await runCli(['doctor'], { cwd: makeLuaApp('codes-doctor', { withLib: false }) })
      assert.equal(r.code, 1, r.stdout + r.stderr)
    })
  })

  describe('unknown commands', () => {
    test('without a terminal: the closest command, the list of commands, "an assist", exit 2', async () => {
      const r = await runCli(['rn'], { cwd: tempDir() })
      assert.equal(r.code, 2)
      assertOneLine(r.stderr, 'rn')
      assert.match(
        r.stderr,
        /^✖ rn is not an assist command\. Did you mean `assist run`\? Commands: .*\bcreate\b.*\bgenerate nginx\b.*\bgenerate systemd\b.*\brun\b.*\bserve\b.*\. See `assist help`\.$/m,
      )
      const far = await runCli(['xyzzy'], { cwd: tempDir() })
      assert.equal(far.code, 2)
      assert.doesNotMatch(far.stderr, /Did you mean/, 'nothing close: no guess')
      assert.match(far.stderr, /Commands: /)
      const sub = await runCli(['generate', 'sytemd'], { cwd: tempDir() })
      assert.match(sub.stderr, /Did you mean `assist generate systemd`\?/)
    })
  })

  test('an unbuilt checkout says it is not built and how to build it', async () => {
    // A copy of the package without dist/ (as after a fresh clone), sharing node_modules.
    const copy = join(tempDir('assist-unbuilt-'), 'allo-assist')
    mkdirSync(join(copy, 'bin'), { recursive: true })
    cpSync(join(REPO, 'bin/run.js'), join(copy, 'bin/run.js'))
    cpSync(join(REPO, 'package.json'), join(copy, 'package.json'))
    symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'))
    const app = makeLuaApp('hello', {}, join(copy, 'examples'))
    // what `npm start` runs: cd examples/hello && node ../../bin/run.js run
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['../../bin/run.js', 'run'], {
        cwd: app,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (d) => {
        stderr += d
      })
      child.on('close', (code) => resolve({ code, stderr }))
    })
    assert.equal(r.code, 3)
    assertOneLine(r.stderr, 'unbuilt')
    assert.match(
      r.stderr,
      /allo-assist is not built \(.*allo-assist\/dist has no commands\): run `npm run build` in .*allo-assist\//,
    )
    removeDir(join(copy, '..'))
  })
})
