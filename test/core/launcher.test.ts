import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { describeExit, LaunchError, runCommand, startInstance } from '../../src/core/launcher.js'
import { loadProject } from '../../src/core/project.js'
import { launchSpecFor } from '../../src/core/runtimes/index.js'
import { makeLuaApp, tempDir, writeFile } from '../helpers/app.js'
import { isAlive, sleep } from '../helpers/cli.js'

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

describe('launcher', () => {
  test('starts a real Lua app with exact argv and env, tags its lines, stops it with TERM', async () => {
    const root = makeLuaApp('launch')
    const spec = launchSpecFor(loadProject(root), 'alloplace://localhost:21337')
    const lines: string[] = []
    const bootArgs = '{\n  "initialLocation": [1,0,0,0, 0,1,0,0, 0,0,1,0, 0,1.2,-2,1]\n}'
    const identity = '{\\n\\t"display_name":\\t"Näme \\"q\\""\\n}'
    const inst = await startInstance({
      spec,
      tag: 'launch#1',
      bootArgs,
      identity,
      onLine: (line, stream, i) => lines.push(`${i.tag} ${stream} ${line}`),
    })
    assert.ok(inst.pid > 0)
    await waitFor(() => lines.length > 0, 'first line')
    assert.deepEqual(lines, ['launch#1 stdout booted 1 alloplace://localhost:21337'])
    const rec = JSON.parse(readFileSync(join(root, 'record.json'), 'utf8'))
    assert.deepEqual(rec.args, [root, 'alloplace://localhost:21337'])
    assert.equal(rec.argv0, join(root, 'allo/boot.lua'))
    assert.equal(rec.boot_args, bootArgs)
    assert.equal(rec.identity, identity)
    const exit = await inst.stop(2000)
    assert.equal(exit.signal, 'SIGTERM')
    assert.equal(exit.stopped, true)
    assert.equal(inst.running, false)
    assert.equal(describeExit(exit), 'killed by SIGTERM')
  })

  test('stop() takes down the whole process group, including a child the app started', async () => {
    const root = makeLuaApp('tree')
    const spec = launchSpecFor(loadProject(root), 'alloplace://localhost:21337')
    spec.env.TEST_APP_MODE = 'child'
    const inst = await startInstance({ spec, tag: 'tree' })
    await waitFor(() => {
      try {
        return readFileSync(join(root, 'child.pid'), 'utf8').trim().length > 0
      } catch {
        return false
      }
    }, 'child pid')
    const childPid = Number(readFileSync(join(root, 'child.pid'), 'utf8'))
    assert.ok(isAlive(childPid), 'the child sleep runs')
    await inst.stop(2000)
    await waitFor(() => !isAlive(childPid), 'child gone')
  })

  test('an app that ignores SIGTERM is killed after the grace period', async () => {
    const dir = tempDir()
    writeFile(
      join(dir, 'stubborn.sh'),
      "#!/bin/sh\ntrap '' TERM\necho ready\nwhile true; do sleep 0.1; done\n",
      0o755,
    )
    const lines: string[] = []
    const inst = await startInstance({
      spec: { argv: [join(dir, 'stubborn.sh')], cwd: dir, env: {} },
      tag: 's',
      onLine: (l) => lines.push(l),
    })
    await waitFor(() => lines.includes('ready'), 'ready')
    const exit = await inst.stop(300)
    assert.equal(exit.signal, 'SIGKILL')
  })

  test('reports exit code and keeps the tail of the output', async () => {
    const root = makeLuaApp('crash')
    const spec = launchSpecFor(loadProject(root), 'alloplace://h:1')
    spec.env.TEST_APP_MODE = 'crash'
    const inst = await startInstance({ spec, tag: 'c' })
    const exit = await inst.exited
    assert.equal(exit.code, 3)
    assert.equal(exit.stopped, false)
    assert.equal(describeExit(exit), 'exited with code 3')
    assert.deepEqual(inst.tail(), ['booted 1 alloplace://h:1', 'boom: something broke'])
  })

  test('a program that does not exist rejects with LaunchError', async () => {
    await assert.rejects(
      startInstance({ spec: { argv: ['/nonexistent/luajit'], cwd: tempDir(), env: {} }, tag: 'x' }),
      (e: unknown) => e instanceof LaunchError && /could not start \/nonexistent\/luajit/.test(e.message),
    )
  })

  test('runCommand collects output, exit code and feeds stdin', async () => {
    const r = await runCommand(['sh', '-c', 'read x; echo "got $x"; echo err >&2; exit 4'], { input: 'hi\n' })
    assert.deepEqual([r.code, r.stdout, r.stderr], [4, 'got hi\n', 'err\n'])
    const t = await runCommand(['sleep', '5'], { timeoutMs: 100 })
    assert.equal(t.signal, 'SIGKILL')
    await assert.rejects(runCommand(['/no/such/tool']), LaunchError)
  })
})
