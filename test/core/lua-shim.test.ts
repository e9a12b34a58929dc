/**
 * How the launcher core starts Lua apps (assist-boot.lua, issues 18 and 19), with real processes:
 * real luajit running a Lua app on the real-shaped stand-in alloui (test/helpers/alloui-realshape.ts:
 * a C liballonet built here on the real C ENet library) connected over real UDP to our place.
 * Needs luajit, cc and libenet (libenet-dev).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { findExecutable } from '../../src/core/fsutil.js'
import { type Gateway, silentLog, startGateway } from '../../src/core/gateway.js'
import { APP_EXIT, type Instance, ResidentSpawner, startInstance } from '../../src/core/launcher.js'
import type { AgentEvent } from '../../src/core/place/place.js'
import { loadProject } from '../../src/core/project.js'
import { launchSpecFor } from '../../src/core/runtimes/index.js'
import { ASSIST_BOOT } from '../../src/core/runtimes/lua.js'
import { makeRealshapeApp } from '../helpers/alloui-realshape.js'
import { isAlive } from '../helpers/cli.js'
import { waitUntil } from '../helpers/gateway.js'
import { connectClient, startTestPlace } from '../helpers/place.js'

const instances: Instance[] = []
after(async () => {
  for (const i of instances) if (i.running) await i.kill()
})

type Line = { line: string; stream: string; running: boolean }

interface Started {
  inst: Instance
  lines: Line[]
  root: string
  has(re: RegExp): boolean
  waitLine(re: RegExp): Promise<Line>
}

async function startApp(
  placeUrl: string,
  opts: {
    root?: string
    layout?: 'boot' | 'alloui'
    mode?: string
    pollFix?: boolean
    spawner?: ResidentSpawner
    oldWay?: boolean
  } = {},
): Promise<Started> {
  const root = opts.root ?? makeRealshapeApp({ layout: opts.layout })
  const spec = launchSpecFor(loadProject(root), placeUrl, { pollFix: opts.pollFix })
  // The old way: `luajit <boot script> <app folder> <place URL>`, no assist-boot.lua.
  if (opts.oldWay) spec.argv = spec.argv.filter((a) => a !== ASSIST_BOOT)
  const lines: Line[] = []
  const inst = await startInstance({
    spec,
    tag: 'realshape',
    baseEnv: {
      PATH: process.env.PATH,
      STANDIN_POLL_LOG: join(root, 'poll.log'),
      TEST_APP_MODE: opts.mode ?? '',
    },
    spawner: opts.spawner,
    onLine: (line, stream, i) => lines.push({ line, stream, running: i.running }),
  })
  instances.push(inst)
  const find = (re: RegExp) => lines.find((l) => re.test(l.line))
  return {
    inst,
    lines,
    root,
    has: (re) => find(re) !== undefined,
    waitLine: async (re) => {
      await waitUntil(
        () => find(re) !== undefined || !inst.running,
        `a line ${re} (got: ${lines.map((l) => l.line).join(' | ')})`,
      )
      const l = find(re)
      if (!l) {
        await inst.exited
        throw new Error(`no ${re} before exit; printed: ${lines.map((x) => x.line).join(' | ')}`)
      }
      return l
    },
  }
}

/** The place's agent events, in order. */
function agentEvents(place: { on(e: 'agent', f: (e: AgentEvent) => void): void }) {
  const events: AgentEvent[] = []
  place.on('agent', (e) => events.push(e))
  return events
}

function pollTimeouts(root: string): number[] {
  const file = join(root, 'poll.log')
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : []
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12]) // utime + stime
}

describe('Lua apps through assist-boot.lua', () => {
  test('prints reach us while the app runs and its last lines survive a stop; the old way holds them back and loses them', async () => {
    const { place } = await startTestPlace(undefined)
    try {
      const visor = await connectClient(place, undefined, 'visor')
      for (const oldWay of [false, true]) {
        const app = await startApp(place.url, { oldWay })
        const announced = await waitForAnnounce(place, app.inst.token, oldWay)
        // The app prints "poked by …" before it answers: once the answer is here, the line was written.
        assert.deepEqual(await visor.request(announced, ['poke', true]), ['poke', 'ok'])
        if (!oldWay) {
          const poked = await app.waitLine(/^poked by /)
          assert.equal(poked.running, true, 'seen while the app was still running')
          assert.equal(poked.stream, 'stdout')
          await app.inst.stop(3000)
          assert.ok(app.has(/^Exiting realshape$/), 'what it printed while leaving is shown')
        } else {
          // Block-buffered into a pipe: nothing it printed has arrived, and a stop loses all of it.
          assert.equal(app.has(/^poked by /), false)
          const exit = await app.inst.stop(3000, 200)
          assert.equal(exit.signal, 'SIGTERM')
          assert.equal(app.has(/^poked by /), false, 'the old way loses what was buffered')
        }
      }
      await visor.disconnect()
    } finally {
      await place.close()
    }
  })

  for (const layout of ['boot', 'alloui'] as const) {
    test(`${layout} layout: alloui's poll timeout reaches C in milliseconds; unchanged with the escape hatch`, async () => {
      const { place } = await startTestPlace(undefined)
      try {
        const fixed = await startApp(place.url, { layout })
        const hatch = await startApp(place.url, { layout, pollFix: false })
        await waitUntil(
          () => pollTimeouts(fixed.root).length >= 5 && pollTimeouts(hatch.root).length >= 5,
          'both apps polled',
        )
        // App:run() at alloui's default 40 Hz passes 1/40 s: 25 ms, or 0 when passed as seconds.
        assert.deepEqual(pollTimeouts(fixed.root).slice(0, 5), [25, 25, 25, 25, 25])
        assert.deepEqual(pollTimeouts(hatch.root).slice(0, 5), [0, 0, 0, 0, 0])
        await Promise.all([fixed.inst.stop(3000), hatch.inst.stop(3000)])
      } finally {
        await place.close()
      }
    })
  }

  test('an idle app sleeps: its CPU is a small fraction of the same app under the escape hatch (same test)', async () => {
    const { place } = await startTestPlace(undefined)
    try {
      const fixed = await startApp(place.url)
      const hatch = await startApp(place.url, { pollFix: false })
      await Promise.all([fixed.waitLine(/^connected as /), hatch.waitLine(/^connected as /)])
      const before = [cpuTicks(fixed.inst.pid), cpuTicks(hatch.inst.pid)]
      await new Promise((r) => setTimeout(r, 3000))
      const used = [cpuTicks(fixed.inst.pid) - before[0], cpuTicks(hatch.inst.pid) - before[1]]
      assert.ok(used[1] > 0, 'the spinning app used CPU')
      assert.ok(
        used[0] * 5 < used[1],
        `idle app ${used[0]} ticks vs ${used[1]} for the spinning one: expected under a fifth`,
      )
      await Promise.all([fixed.inst.stop(3000), hatch.inst.stop(3000)])
    } finally {
      await place.close()
    }
  })

  for (const via of ['node spawn', 'resident spawner'] as const) {
    test(`stop (${via}): the app leaves with a clean DISCONNECT before its process exits, status 0`, async () => {
      const { place } = await startTestPlace(undefined)
      const spawner =
        via === 'resident spawner'
          ? await ResidentSpawner.start({
              luajit: launchSpecFor(loadProject(makeRealshapeApp()), 'x').argv[0],
            })
          : undefined
      try {
        const events = agentEvents(place)
        const app = await startApp(place.url, { spawner })
        await waitForAnnounce(place, app.inst.token)
        let exitedAt = -1
        void app.inst.exited.then(() => {
          exitedAt = events.length
        })
        const exit = await app.inst.stop(3000, 3000)
        const gone = events.findIndex((e) => e.kind === 'disconnected')
        assert.notEqual(gone, -1, 'the place saw it leave')
        const e = events[gone] as Extract<AgentEvent, { kind: 'disconnected' }>
        assert.equal(e.reason, 'disconnect', 'a DISCONNECT, not a timeout')
        assert.ok(e.removed > 0)
        assert.ok(gone < exitedAt, 'before the process exited')
        assert.deepEqual([exit.code, exit.signal, exit.stopped], [0, null, true])
      } finally {
        await spawner?.close()
        await place.close()
      }
    })
  }

  test('an app that ignores the request is still stopped within the grace (SIGTERM)', async () => {
    const { place } = await startTestPlace(undefined)
    try {
      const app = await startApp(place.url, { mode: 'ignore-leave' })
      await waitForAnnounce(place, app.inst.token)
      const exit = await app.inst.stop(2000, 300)
      assert.equal(exit.signal, 'SIGTERM')
      assert.equal(exit.stopped, true)
    } finally {
      await place.close()
    }
  })

  test(`an error alloui's run loop catches exits ${APP_EXIT.appError}, with the error and where it happened`, async () => {
    const { place } = await startTestPlace(undefined)
    try {
      const events = agentEvents(place)
      const visor = await connectClient(place, undefined, 'visor')
      const app = await startApp(place.url, { mode: 'crash-on-poke' })
      const avatar = await waitForAnnounce(place, app.inst.token)
      visor.request(avatar, ['poke', true]).catch(() => {})
      const exit = await app.inst.exited
      assert.deepEqual([exit.code, exit.stopped], [APP_EXIT.appError, false])
      const text = app.lines.map((l) => l.line).join('\n')
      assert.match(text, /Error while running realshape/)
      assert.match(text, /main\.lua:\d+: boom in the poke handler/)
      assert.match(text, /in function 'onPoke'/, 'the traceback of where it failed is kept')
      // alloui disconnected as it does after an error: the place saw a DISCONNECT.
      const gone = events.find((e) => e.kind === 'disconnected') as Extract<
        AgentEvent,
        { kind: 'disconnected' }
      >
      assert.equal(gone?.reason, 'disconnect')
      await visor.disconnect()
    } finally {
      await place.close()
    }
  })

  test(`losing the place exits ${APP_EXIT.lostPlace}`, async () => {
    const { place } = await startTestPlace(undefined)
    const app = await startApp(place.url)
    await waitForAnnounce(place, app.inst.token)
    await place.close() // DISCONNECTs every agent, as a place that stops does
    const exit = await app.inst.exited
    assert.deepEqual([exit.code, exit.stopped], [APP_EXIT.lostPlace, false])
    assert.ok(app.has(/^DISCONNECTED/))
  })

  test('the identity it announces carries the launch token; dropLaunch removes its entities at once', async () => {
    const { place } = await startTestPlace(undefined)
    try {
      const events = agentEvents(place)
      const app = await startApp(place.url, { mode: 'ignore-leave' })
      const avatar = await waitForAnnounce(place, app.inst.token)
      assert.ok(place.snapshot().entities.some((e) => e.id === avatar))
      await app.inst.kill() // no goodbye at all
      assert.equal(place.dropLaunch(app.inst.token), 1)
      assert.equal(
        place.snapshot().entities.some((e) => e.id === avatar),
        false,
      )
      const gone = events.find((e) => e.kind === 'disconnected') as Extract<
        AgentEvent,
        { kind: 'disconnected' }
      >
      assert.equal(
        gone.reason,
        'exited',
        JSON.stringify(events.map((e) => [e.kind, 'reason' in e ? e.reason : ''])),
      )
      assert.equal(place.dropLaunch(app.inst.token), 0)
    } finally {
      await place.close()
    }
  })
})

describe("the development place's launches (launch_app → the gateway → the app)", () => {
  test('prints appear while it runs, the timeout reaches C in ms, and closing the gateway makes it leave with a DISCONNECT', async () => {
    const root = makeRealshapeApp()
    const lines: string[] = []
    const { place } = await startTestPlace(undefined)
    const gateway: Gateway = await startGateway({
      port: 0,
      host: '127.0.0.1',
      appDir: root,
      log: { ...silentLog, info: (m: string) => lines.push(m) } as typeof silentLog,
      env: { PATH: process.env.PATH },
      // the gateway passes only allow-listed variables on; the stand-in's log path is an addition
      appEnv: { STANDIN_POLL_LOG: join(root, 'poll.log') },
    })
    try {
      const events = agentEvents(place)
      const visor = await connectClient(place, undefined, 'launcher')
      const avatar = await visor.launchApp(`alloapp:http://127.0.0.1:${gateway.port}/`, {}, 30_000)
      assert.deepEqual(await visor.request(avatar, ['poke', true]), ['poke', 'ok'])
      await waitUntil(() => lines.some((l) => /\] poked by /.test(l)), 'the print reached the gateway log')
      assert.equal(gateway.instances().length, 1, 'while the app still runs')
      await waitUntil(() => pollTimeouts(root).length >= 3, 'it polled')
      assert.deepEqual(pollTimeouts(root).slice(0, 3), [25, 25, 25])
      await gateway.close()
      const gone = events.find((e) => e.kind === 'disconnected' && e.agent.avatarId === avatar) as
        | Extract<AgentEvent, { kind: 'disconnected' }>
        | undefined
      assert.equal(gone?.reason, 'disconnect')
      await visor.disconnect()
    } finally {
      await gateway.close({ force: true })
      await place.close()
    }
  })
})

describe('apps of any language: the request to leave is end of file on stdin', () => {
  for (const via of ['node spawn', 'resident spawner'] as const) {
    test(`${via}: stop() closes stdin first; an app that leaves on it is never signalled`, async () => {
      const sh = findExecutable('sh') as string
      const spawner =
        via === 'resident spawner'
          ? await ResidentSpawner.start({ luajit: findExecutable('luajit') as string })
          : undefined
      try {
        const lines: string[] = []
        const inst = await startInstance({
          // reads stdin until end of file, then says so and exits 0
          spec: {
            argv: [
              sh,
              '-c',
              // says it listens (LEAVE_MARKER), then waits for end of file on stdin
              `echo "leave=$ALLO_ASSIST_LEAVE"; printf '\\001assist:leaves-on-stdin-eof\\n' >&2; cat >/dev/null; echo asked to leave; exit 0`,
            ],
            cwd: process.cwd(),
            env: {},
          },
          tag: 'sh',
          baseEnv: { PATH: process.env.PATH },
          spawner,
          onLine: (l) => lines.push(l),
        })
        await waitUntil(() => lines.includes('leave=stdin') && inst.listensForLeave, 'it started and listens')
        // No SIGTERM for ten minutes: only the closed stdin can end it before the test's own timeout.
        const exit = await inst.stop(1000, 600_000)
        assert.deepEqual([exit.code, exit.signal, exit.stopped], [0, null, true])
        assert.deepEqual(lines, ['leave=stdin', 'asked to leave'])
      } finally {
        await spawner?.close()
      }
    })
  }
})

test('an app that never said it listens gets SIGTERM right after its stdin closes (no wait for a leave)', async () => {
  const inst = await startInstance({
    spec: { argv: [findExecutable('sleep') as string, '1000'], cwd: process.cwd(), env: {} },
    tag: 'sleep',
    baseEnv: { PATH: process.env.PATH },
  })
  // A ten-minute leave grace: only the immediate SIGTERM ends it before the test's own timeout.
  const exit = await inst.stop(1000, 600_000)
  assert.deepEqual([exit.signal, exit.stopped, inst.listensForLeave], ['SIGTERM', true, false])
})

const HOLDER = fileURLToPath(new URL('../fixtures/launch-holder.ts', import.meta.url))

test('resident spawner: an app that ignores the request still dies when the gateway is SIGKILLed (the orphaned spawner kills it)', async () => {
  const { place } = await startTestPlace(undefined)
  try {
    const root = makeRealshapeApp()
    const holder = spawn(process.execPath, ['--import', 'tsx', HOLDER, root, place.url, 'resident spawner'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TEST_APP_MODE: 'ignore-leave' },
    })
    let out = ''
    holder.stdout?.on('data', (d) => {
      out += d
    })
    await waitUntil(() => /^pid \d+$/m.test(out) || holder.exitCode !== null, 'the holder started the app')
    const pid = Number(/^pid (\d+)$/m.exec(out)?.[1])
    await waitUntil(() => place.agentList().some((a) => a.announced), 'the app announced')
    process.kill(holder.pid as number, 'SIGKILL')
    await waitUntil(() => !isAlive(pid), 'the instance was killed by the orphaned spawner')
  } finally {
    await place.close()
  }
})

describe('instances die with their supervisor (kill -9)', () => {
  for (const via of ['node spawn', 'resident spawner'] as const) {
    test(`${via}: SIGKILL of the supervisor ends the instance, which still leaves the place cleanly`, async () => {
      const { place } = await startTestPlace(undefined)
      try {
        const events = agentEvents(place)
        const root = makeRealshapeApp()
        const holder = spawn(process.execPath, ['--import', 'tsx', HOLDER, root, place.url, via], {
          stdio: ['ignore', 'pipe', 'inherit'],
        })
        let out = ''
        holder.stdout?.on('data', (d) => {
          out += d
        })
        await waitUntil(
          () => /^pid \d+$/m.test(out) || holder.exitCode !== null,
          'the holder started the app',
        )
        const pid = Number(/^pid (\d+)$/m.exec(out)?.[1])
        assert.ok(pid > 0, `holder said: ${out}`)
        await waitUntil(() => events.some((e) => e.kind === 'announced'), 'the app announced')
        process.kill(holder.pid as number, 'SIGKILL')
        await waitUntil(() => !isAlive(pid), 'the instance died with its supervisor')
        const gone = events.find((e) => e.kind === 'disconnected') as Extract<
          AgentEvent,
          { kind: 'disconnected' }
        >
        await waitUntil(() => events.some((e) => e.kind === 'disconnected'), 'the place saw it go')
        assert.equal(
          (events.find((e) => e.kind === 'disconnected') as typeof gone).reason,
          'disconnect',
          'it said goodbye (its stdin closed with the supervisor)',
        )
      } finally {
        await place.close()
      }
    })
  }
})

/** Waits until the agent of launch `token` has announced; returns its avatar id. */
async function waitForAnnounce(
  place: Awaited<ReturnType<typeof startTestPlace>>['place'],
  token: string,
  oldWay = false,
): Promise<string> {
  let avatar: string | undefined
  await waitUntil(() => {
    const a = place
      .agentList()
      .find((x) =>
        oldWay
          ? x.announced && x.displayName === 'realshape'
          : (x.identity as Record<string, unknown> | undefined)?.assist_instance === token,
      )
    avatar = a?.announced ? a.avatarId : undefined
    return avatar !== undefined
  }, `launch ${token} announced`)
  return avatar as string
}
