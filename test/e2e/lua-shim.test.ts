/**
 * Issues 18 and 19 end to end: the built CLI (`assist run`, `assist serve`) starting a Lua app on the
 * real-shaped stand-in alloui (test/helpers/alloui-realshape.ts: real luajit, a C liballonet built
 * here on the real C ENet library) connected over real UDP to a place. Needs luajit, cc, libenet.
 */
import assert from 'node:assert/strict'
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startInstance } from '../../src/core/launcher.js'
import type { AgentEvent } from '../../src/core/place/place.js'
import { loadProject } from '../../src/core/project.js'
import { launchSpecFor } from '../../src/core/runtimes/index.js'
import { makeRealshapeApp } from '../helpers/alloui-realshape.js'
import { tempDir } from '../helpers/app.js'
import { CliProcess, killAllCli, runCli } from '../helpers/cli.js'
import { launch, waitUntil } from '../helpers/gateway.js'
import { startTestPlace } from '../helpers/place.js'

const HELLO = fileURLToPath(new URL('../../examples/hello', import.meta.url))
const disconnectLine = /\[place\][^\n]*- disconnected[^\n]*realshape[^\n]*/g

/** The built-in place's "disconnected" lines about the app, in order. */
function goodbyes(p: CliProcess): string[] {
  return p.output.match(disconnectLine) ?? []
}

describe('Lua apps under assist run / serve (assist-boot.lua)', () => {
  after(killAllCli)

  test('run: on a save, rs and Ctrl-C the old instance leaves the built-in place with a DISCONNECT before the next starts', async () => {
    const root = makeRealshapeApp()
    const p = new CliProcess(['run', '--no-view'], { cwd: root })
    await p.waitFor(/connected as [a-y]+/)
    // A print appears while the app runs.
    assert.match(p.stdout, /\[realshape\] connected as [a-y]+/)

    appendFileSync(join(root, 'lua/main.lua'), '-- edit\n')
    await p.waitFor((o) => (o.match(/connected as [a-y]+/g) ?? []).length === 2)
    p.write('rs\n')
    await p.waitFor((o) => (o.match(/connected as [a-y]+/g) ?? []).length === 3)
    p.signal('SIGINT')
    const { code } = await p.closed
    const lines = goodbyes(p)
    assert.equal(lines.length, 3, p.output)
    for (const l of lines) assert.doesNotMatch(l, /timed out|process exited/, l)
    // Each goodbye came before the restart that replaced it.
    const out = p.output
    assert.ok(out.indexOf(lines[0]) < out.indexOf('lua/main.lua changed, restarted'), out)
    assert.ok(out.lastIndexOf('Exiting realshape') > out.indexOf('restarted by hand'), out)
    assert.equal(
      code,
      130,
      'Ctrl-C: 128 + SIGINT, as for any interrupted command (the app itself left cleanly)',
    )
  })

  test("run: a crashing app's entities leave the built-in place the moment its process exits", async () => {
    const root = makeRealshapeApp()
    const p = new CliProcess(['run', '--no-view'], {
      cwd: root,
      env: { TEST_APP_MODE: 'exit-after-connect' },
    })
    await p.waitFor(/exited with code 3/)
    await p.waitFor(disconnectLine)
    assert.match(goodbyes(p)[0], /disconnected \(its process exited\)[^\n]*removed [1-9]\d* entit/)
    p.signal('SIGTERM')
    await p.closed
  })

  test('run --restart-on-crash restarts after an error alloui caught (exit 80); --no-watch exits non-zero with it', async () => {
    const root = makeRealshapeApp()
    const p = new CliProcess(['run', '--no-view', '--restart-on-crash'], {
      cwd: root,
      env: { TEST_APP_MODE: 'error-after-connect-once', TEST_CRASH_MARKER: join(tempDir(), 'crashed') },
    })
    await p.waitFor(/exited with code 80 \(error in the app\)/)
    await p.waitFor(/Restarting in/)
    await p.waitFor((o) => (o.match(/connected as [a-y]+/g) ?? []).length === 2, 30_000)
    p.signal('SIGTERM')
    await p.closed

    const again = makeRealshapeApp()
    const r = await runCli(['run', '--no-view', '--no-watch'], {
      cwd: again,
      env: { TEST_APP_MODE: 'error-after-connect-once', TEST_CRASH_MARKER: join(tempDir(), 'crashed') },
    })
    assert.equal(r.code, 5, 'the app failed (exit-codes.ts); its own code 80 is printed')
    assert.match(r.stdout + r.stderr, /boom right after connecting/)
    assert.match(r.stdout + r.stderr, /exited with code 80 \(error in the app\)/)
  })

  test('run --restart-on-crash covers a place that restarts (the app lost it: exit 81)', async () => {
    const first = await startTestPlace(undefined)
    const port = first.place.port
    const root = makeRealshapeApp()
    const p = new CliProcess(['run', first.place.url, '--restart-on-crash'], { cwd: root })
    let second: Awaited<ReturnType<typeof startTestPlace>> | undefined
    try {
      await p.waitFor(/connected as [a-y]+/)
      await first.place.close()
      await p.waitFor(/exited with code 81 \(lost the place\)/)
      second = await startTestPlace(undefined, { port })
      const place = second.place
      await waitUntil(() => place.agentList().some((a) => a.announced), 'the app came back', 30_000)
    } finally {
      p.signal('SIGTERM')
      await p.closed
      await second?.place.close()
    }
  })

  test('serve: a drain makes each instance leave the place with a DISCONNECT', async () => {
    const { place } = await startTestPlace(undefined)
    const events: AgentEvent[] = []
    place.on('agent', (e) => events.push(e))
    const root = makeRealshapeApp()
    const p = new CliProcess(['serve', '--port', '0', '--host', '127.0.0.1', '--verbose'], { cwd: root })
    try {
      await p.waitFor(/listening on (http:\/\/\S+?\/)/, 30_000)
      assert.match(p.output, /poll fix on/)
      const url = (/listening on (http:\/\/\S+?\/)/.exec(p.output) as RegExpExecArray)[1]
      for (let i = 0; i < 2; i++)
        assert.equal((await launch(url, { headers: { 'x-alloverse-server': place.url } })).status, 200)
      await waitUntil(() => events.filter((e) => e.kind === 'announced').length === 2, 'both announced')
      // Their prints reach serve's log while they run.
      await p.waitFor((o) => (o.match(/\[realshape#\d\] connected as [a-y]+/g) ?? []).length === 2)
      p.signal('SIGTERM')
      await p.closed
      const gone = events.filter((e) => e.kind === 'disconnected') as Array<
        Extract<AgentEvent, { kind: 'disconnected' }>
      >
      assert.deepEqual(
        gone.map((e) => e.reason),
        ['disconnect', 'disconnect'],
      )
      // What they printed while leaving is in the log too.
      assert.equal((p.output.match(/\[realshape#\d\] Exiting realshape/g) ?? []).length, 2)
      assert.deepEqual(
        place.snapshot().entities.filter((e) => e.owner),
        [],
        'nothing an app spawned remains',
      )
    } finally {
      await place.close()
    }
  })

  test('examples/hello (a non-Lua app) follows the contract: it leaves when its stdin closes, before any signal', async () => {
    const { place } = await startTestPlace(undefined)
    const events: AgentEvent[] = []
    place.on('agent', (e) => events.push(e))
    try {
      const project = loadProject(HELLO)
      const out: string[] = []
      const inst = await startInstance({
        spec: launchSpecFor(project, place.url),
        tag: 'hello',
        onLine: (l) => out.push(l),
      })
      await waitUntil(() => out.some((l) => /is up in/.test(l)), 'hello is up')
      // No SIGTERM for ten minutes: only the closed stdin can end it before the test's own timeout.
      const exit = await inst.stop(1000, 600_000)
      assert.deepEqual([exit.code, exit.signal], [0, null], out.join('\n'))
      const gone = events.find((e) => e.kind === 'disconnected') as Extract<
        AgentEvent,
        { kind: 'disconnected' }
      >
      assert.equal(gone?.reason, 'disconnect')
      const announced = events.find((e) => e.kind === 'announced')
      assert.equal(
        (announced?.agent.identity as Record<string, unknown> | undefined)?.assist_instance,
        inst.token,
      )
    } finally {
      await place.close()
    }
  })

  test("doctor says the app's alloui passes seconds and that assist compensates; with the fix off it is a failed check with the fix", async () => {
    const root = makeRealshapeApp()
    const on = await runCli(['doctor'], { cwd: root })
    assert.match(
      on.stdout,
      /✓ alloui poll +Client:poll passes seconds to alloclient_poll, which takes milliseconds[^\n]*; assist converts them/,
    )
    const off = await runCli(['doctor'], { cwd: root, env: { ALLO_ASSIST_POLL_FIX: '0' } })
    assert.match(off.stdout, /✗ alloui poll [^\n]*the poll fix is off \(ALLO_ASSIST_POLL_FIX=0\)/)
    assert.match(off.stdout, /fix: turn it back on: drop ALLO_ASSIST_POLL_FIX=0 from the environment/)
    assert.notEqual(off.code, 0)
  })
})
