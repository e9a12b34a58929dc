/**
 * The resident spawner (src/core/spawner/spawner.lua, driven by ResidentSpawner in launcher.ts) with
 * real processes: output on both streams, exit codes and signals, exec failures, cwd, exact env,
 * process groups, many starts at once, the spawner dying mid-flight, and its exit on stdin EOF.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { findExecutable } from '../../src/core/fsutil.js'
import {
  describeExit,
  type Instance,
  LaunchError,
  ResidentSpawner,
  SPAWNER_SCRIPT,
  type StartOptions,
  startInstance,
} from '../../src/core/launcher.js'
import { encodeFrame, FrameDecoder, startFrame } from '../../src/core/spawner/protocol.js'
import { removeDir, tempDir, writeFile } from '../helpers/app.js'
import { isAlive } from '../helpers/cli.js'
import { waitUntil } from '../helpers/gateway.js'

const LUAJIT = findExecutable('luajit') as string
const SH = findExecutable('sh') as string
const ENV_BIN = findExecutable('env') as string
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' }

function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

/** Starts `sh -c script` through the spawner, collecting its lines. */
async function sh(
  spawner: ResidentSpawner,
  script: string,
  more: Partial<StartOptions> = {},
): Promise<{ inst: Instance; lines: string[] }> {
  const lines: string[] = []
  const inst = await startInstance({
    spec: { argv: [SH, '-c', script], cwd: process.cwd(), env: {} },
    tag: 'sh',
    baseEnv: BASE_ENV,
    spawner,
    onLine: (line, stream) => lines.push(`${stream} ${line}`),
    ...more,
  })
  return { inst, lines }
}

describe('resident spawner', () => {
  let spawner: ResidentSpawner
  const notices: string[] = []
  const dirs: string[] = []
  before(async () => {
    assert.ok(LUAJIT, 'luajit on PATH')
    spawner = await ResidentSpawner.start({ luajit: LUAJIT, onNotice: (l) => notices.push(l) })
  })
  after(async () => {
    await spawner.close()
    for (const d of dirs) removeDir(d)
  })

  test('the protocol round-trips binary fields, split at any byte', () => {
    const fields = ['S', '7', '', Buffer.from([0, 1, 255, 10]), 'ä=b', 'x'.repeat(70_000)]
    const bytes = Buffer.concat([encodeFrame(fields), encodeFrame(['E', '1', '2'])])
    for (const step of [1, 3, 4096, bytes.length]) {
      const d = new FrameDecoder()
      const frames: Buffer[][] = []
      for (let i = 0; i < bytes.length; i += step) frames.push(...d.push(bytes.subarray(i, i + step)))
      assert.equal(frames.length, 2)
      assert.deepEqual(
        frames[0].map((b) => b.toString('latin1')),
        fields.map((f) => (typeof f === 'string' ? Buffer.from(f) : f).toString('latin1')),
      )
      assert.deepEqual(
        frames[1].map((b) => b.toString()),
        ['E', '1', '2'],
      )
      assert.equal(d.pending, 0)
    }
  })

  test('instances are children of the spawner, in their own process group', async () => {
    const { inst, lines } = await sh(spawner, 'echo ready; exec sleep 1000')
    await waitUntil(() => lines.length > 0, 'first line')
    assert.equal(ppidOf(inst.pid), spawner.pid)
    assert.equal(ppidOf(spawner.pid as number), process.pid)
    const pgid = Number(readFileSync(`/proc/${inst.pid}/stat`, 'utf8').split(') ')[1].split(' ')[2])
    assert.equal(pgid, inst.pid)
    const exit = await inst.stop(2000)
    assert.equal(exit.signal, 'SIGTERM')
    assert.equal(exit.stopped, true)
  })

  test('output on both streams in order per stream, a 1 MB burst, a last line without newline, exit code', async () => {
    const script =
      'echo out1; echo err1 >&2; head -c 1048576 /dev/zero | tr "\\0" "x"; echo; echo err2 >&2; printf "no newline"; exit 7'
    const { inst, lines } = await sh(spawner, script, { tailLines: 3 })
    const exit = await inst.exited
    assert.equal(exit.code, 7)
    assert.equal(exit.signal, null)
    assert.equal(describeExit(exit), 'exited with code 7')
    const out = lines.filter((l) => l.startsWith('stdout '))
    const err = lines.filter((l) => l.startsWith('stderr '))
    assert.deepEqual(err, ['stderr err1', 'stderr err2'])
    assert.equal(out.length, 3)
    assert.equal(out[0], 'stdout out1')
    assert.equal(out[1], `stdout ${'x'.repeat(1048576)}`)
    // The unterminated last line arrives before the exit is reported (the tail a crash report shows).
    assert.equal(out[2], 'stdout no newline')
    assert.equal(inst.tail().at(-1), 'no newline')
  })

  test('a death by signal is reported with the name node gives it', async () => {
    for (const [sig, name] of [
      ['USR1', 'SIGUSR1'],
      ['ABRT', 'SIGABRT'],
      ['IO', 'SIGIO'],
    ]) {
      const { inst } = await sh(spawner, `kill -${sig} $$`)
      const exit = await inst.exited
      assert.equal(exit.code, null)
      assert.equal(exit.signal, name)
      assert.equal(exit.stopped, false)
    }
  })

  test('exec failures reject with the same LaunchError words as a direct spawn (ENOENT, EACCES)', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const notExec = join(dir, 'not-executable')
    writeFile(notExec, '#!/bin/sh\necho hi\n')
    chmodSync(notExec, 0o644)
    for (const [argv0, code] of [
      ['/nonexistent/luajit', 'ENOENT'],
      [notExec, 'EACCES'],
      ['no-such-program-anywhere', 'ENOENT'],
    ]) {
      const opts: StartOptions = { spec: { argv: [argv0], cwd: dir, env: {} }, tag: 't', baseEnv: BASE_ENV }
      const viaSpawner = await startInstance({ ...opts, spawner }).then(
        () => assert.fail('started'),
        (e: unknown) => e,
      )
      const direct = await startInstance(opts).then(
        () => assert.fail('started'),
        (e: unknown) => e,
      )
      assert.ok(viaSpawner instanceof LaunchError)
      assert.equal((viaSpawner as Error).message, `could not start ${argv0}: spawn ${argv0} ${code}`)
      assert.equal((viaSpawner as Error).message, (direct as Error).message)
    }
    // A missing working folder fails the start too (as with node's spawn: ENOENT).
    const gone = await startInstance({
      spec: { argv: [SH, '-c', 'true'], cwd: join(dir, 'missing'), env: {} },
      tag: 't',
      spawner,
    }).then(
      () => assert.fail('started'),
      (e: unknown) => e as Error,
    )
    assert.match(gone.message, /could not start .*sh: spawn .*sh ENOENT/)
    assert.equal(spawner.running, 0)
  })

  test('runs in the given folder, with PATH lookup in the child environment', async () => {
    const dir = realpathSync(tempDir())
    dirs.push(dir)
    writeFile(join(dir, 'bin', 'hello-from-path'), '#!/bin/sh\necho "hello from $(pwd)"\n', 0o755)
    const lines: string[] = []
    const inst = await startInstance({
      spec: { argv: ['hello-from-path'], cwd: dir, env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin` } },
      tag: 't',
      baseEnv: BASE_ENV,
      spawner,
      onLine: (l) => lines.push(l),
    })
    assert.equal((await inst.exited).code, 0)
    assert.deepEqual(lines, [`hello from ${dir}`])
  })

  test('passes the environment exactly: non-ASCII, "=" in values, empty values, nothing else', async () => {
    const baseEnv = { PATH: '/usr/bin:/bin', 'WITH=': 'ignored?', EMPTY: '', UNSET: undefined }
    delete (baseEnv as Record<string, unknown>)['WITH=']
    const chunks: string[] = []
    const inst = await startInstance({
      spec: {
        argv: [ENV_BIN, '-0'],
        cwd: process.cwd(),
        env: { NAME: 'Näme ☃ "q"', EQ: 'a=b==c', NL: 'x\ny' },
      },
      tag: 'env',
      baseEnv,
      bootArgs: '{\n\t"a": 1\n}',
      identity: '{\\n\t"display_name": "ü"\\n}',
      spawner,
      onLine: (l) => chunks.push(l),
    })
    assert.equal((await inst.exited).code, 0)
    const got = chunks.join('\n').split('\0').filter(Boolean).sort()
    assert.deepEqual(
      got,
      [
        // the launcher's own: how to ask it to leave, its token, and who its parent is (the spawner)
        'ALLO_ASSIST_LEAVE=stdin',
        `ALLO_ASSIST_INSTANCE=${inst.token}`,
        `ALLO_ASSIST_PARENT_PID=${spawner.pid}`,
        'ALLO_APP_BOOTED_BY_IDENTITY={\\n\t"display_name": "ü"\\n}',
        'ALLO_APP_BOOT_ARGS={\n\t"a": 1\n}',
        'EMPTY=',
        'EQ=a=b==c',
        'NAME=Näme ☃ "q"',
        'NL=x\ny',
        'PATH=/usr/bin:/bin',
      ].sort(),
    )
  })

  test('stop() reaches a grandchild through the process group', async () => {
    const { inst, lines } = await sh(spawner, 'sleep 1000 & echo $!; wait')
    await waitUntil(() => lines.length > 0, 'the grandchild pid')
    const grandchild = Number(lines[0].split(' ')[1])
    assert.ok(isAlive(grandchild))
    const exit = await inst.stop(2000)
    assert.equal(exit.stopped, true)
    await waitUntil(() => !isAlive(grandchild), 'the grandchild is gone')
  })

  test('200 concurrent starts: each starts once, prints its own pid, exits 0', async () => {
    const started = await Promise.all(Array.from({ length: 200 }, () => sh(spawner, 'echo $$')))
    const exits = await Promise.all(started.map((s) => s.inst.exited))
    assert.ok(exits.every((e) => e.code === 0))
    assert.equal(new Set(started.map((s) => s.inst.pid)).size, 200)
    for (const s of started) assert.deepEqual(s.lines, [`stdout ${s.inst.pid}`])
    await waitUntil(() => spawner.running === 0, 'nothing left running')
  })

  test('when the spawner is killed, its running instances are killed and reported lost; the next start gets a new spawner', async () => {
    const own = await ResidentSpawner.start({ luajit: LUAJIT, onNotice: (l) => notices.push(l) })
    try {
      const first = own.pid as number
      const running = await Promise.all([1, 2, 3].map(() => sh(own, 'echo up; exec sleep 1000')))
      await waitUntil(() => running.every((r) => r.lines.length > 0), 'all three up')
      process.kill(first, 'SIGKILL')
      const exits = await Promise.all(running.map((r) => r.inst.exited))
      for (const e of exits) {
        assert.equal(e.signal, 'SIGKILL')
        assert.equal(e.lost, 'process spawner lost')
        assert.equal(describeExit(e), 'killed by SIGKILL (process spawner lost)')
      }
      for (const r of running) await waitUntil(() => !isAlive(r.inst.pid), `instance ${r.inst.pid} gone`)
      assert.ok(
        notices.some((n) => n.includes(`process spawner (pid ${first}) died (killed by SIGKILL)`)),
        notices.join('\n'),
      )
      const again = await sh(own, 'echo again')
      assert.equal((await again.inst.exited).code, 0)
      assert.deepEqual(again.lines, ['stdout again'])
      assert.notEqual(own.pid, first)
      assert.equal(ppidOf(own.pid as number), process.pid)
    } finally {
      await own.close()
    }
  })

  test('when no new spawner can start, launches spawn directly and say so once', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const link = join(dir, 'luajit')
    symlinkSync(LUAJIT, link)
    const said: string[] = []
    const own = await ResidentSpawner.start({ luajit: link, onNotice: (l) => said.push(l) })
    try {
      const first = own.pid as number
      rmSync(link) // LuaJIT "uninstalled" under a running gateway
      process.kill(first, 'SIGKILL')
      await waitUntil(() => said.length === 1, 'the loss is reported')
      for (let i = 0; i < 2; i++) {
        const { inst } = await sh(own, 'exec sleep 1000')
        assert.equal(ppidOf(inst.pid), process.pid, 'spawned directly')
        await inst.stop(2000)
      }
      assert.equal(own.pid, undefined)
      assert.equal(said.length, 2, said.join('\n'))
      assert.match(
        said[1],
        /^could not start the process spawner \(.*luajit .*spawner\.lua\): spawn .*luajit ENOENT; starting instances directly instead \(slower under load\)$/,
      )
    } finally {
      await own.close()
    }
  })

  test('close() ends the spawner; later starts spawn directly', async () => {
    const own = await ResidentSpawner.start({ luajit: LUAJIT })
    const pid = own.pid as number
    await own.close()
    assert.equal(isAlive(pid), false)
    const { inst } = await sh(own, 'exec sleep 1000')
    assert.equal(ppidOf(inst.pid), process.pid, 'spawned directly: a child of this process')
    assert.equal((await inst.stop(2000)).signal, 'SIGTERM')
  })

  test('a spawner that cannot run rejects start() with a LaunchError naming it', async () => {
    await assert.rejects(
      ResidentSpawner.start({ luajit: '/nonexistent/luajit' }),
      (e: unknown) =>
        e instanceof LaunchError &&
        /^could not start the process spawner \(\/nonexistent\/luajit .*spawner\.lua\): spawn \/nonexistent\/luajit ENOENT$/.test(
          e.message,
        ),
    )
  })
})

describe('spawner.lua on its own', () => {
  test('on stdin EOF (the gateway is gone) it asks its children to leave, kills those that stay, then exits', async () => {
    const child = spawn(LUAJIT, [SPAWNER_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] })
    const decoder = new FrameDecoder()
    const frames: string[][] = []
    child.stdout.on('data', (d: Buffer) => frames.push(...decoder.push(d).map((f) => f.map(String))))
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    await waitUntil(() => frames.length > 0, 'hello')
    assert.deepEqual(frames[0], ['H', String(child.pid)])
    const dir = tempDir('assist-spawner-eof-')
    // One leaves when its stdin closes (and says so in a file); one ignores it.
    child.stdin.write(
      startFrame(
        '1',
        ['/bin/sh', '-c', `cat >/dev/null; echo left > ${dir}/left`],
        ['PATH=/usr/bin:/bin'],
        '/',
      ),
    )
    child.stdin.write(startFrame('2', ['/bin/sleep', '1000'], ['PATH=/usr/bin:/bin'], '/'))
    await waitUntil(() => frames.filter((f) => f[0] === 'P').length === 2, 'started')
    const [leaver, sleeper] = frames.filter((f) => f[0] === 'P').map((f) => Number(f[2]))
    child.stdin.end()
    assert.equal(await exited, 0)
    assert.equal(readFileSync(join(dir, 'left'), 'utf8'), 'left\n', 'the first left on its own')
    // Killed children are reaped by whoever inherits them once the spawner is gone: wait for that.
    await waitUntil(() => !isAlive(leaver), 'the first is gone')
    await waitUntil(() => !isAlive(sleeper), 'the one that stayed was killed')
    removeDir(dir)
  })
})
