/**
 * Ctrl-C while create is working: during the render nothing may be left behind; during the
 * install the app stays, git is stopped, and the message says how to finish.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { removeDir, tempDir, writeFile } from '../helpers/app.js'
import { CliProcess, sleep } from '../helpers/cli.js'
import { snapshot } from '../helpers/fs-snapshot.js'
import { KEY, plain, runCliInPty } from '../helpers/pty.js'

/** Processes whose working directory is inside `dir` (e.g. a git left running). */
function processesIn(dir: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`)
      if (cwd === dir || cwd.startsWith(`${dir}/`)) found.push(pid)
    } catch {
      /* gone, or not ours to see */
    }
  }
  return found
}

async function waitUntil(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

test('Ctrl-C (SIGINT) in the middle of rendering removes the temporary folder: nothing is left', async () => {
  const parent = tempDir()
  const templates = tempDir('assist-tpl-')
  try {
    // A template whose last file is a FIFO: reading it blocks, so the render is caught halfway,
    // with lua/main.lua already written into the temporary folder.
    const tpl = join(templates, 'blocking')
    writeFile(join(tpl, 'lua/main.lua'), 'print("__PROJNAME__")\n')
    execFileSync('mkfifo', [join(tpl, 'zz-blocks')])
    const before = snapshot(parent)
    const cli = new CliProcess(['create', 'clock', '--template', tpl, '--no-git', '--no-install'], {
      cwd: parent,
    })
    await waitUntil('the temporary folder with main.lua', () =>
      readdirSync(parent).some(
        (e) => e.startsWith('.clock.assist-') && existsSync(join(parent, e, 'lua/main.lua')),
      ),
    )
    cli.signal('SIGINT')
    const end = await cli.closed
    assert.ok(end.signal === 'SIGINT' || end.code === 130, `${JSON.stringify(end)} ${cli.output}`)
    assert.match(cli.stderr, /Cancelled: nothing was written\./)
    assert.deepEqual(snapshot(parent), before)
  } finally {
    removeDir(parent)
    removeDir(templates)
  }
})

test('Ctrl-C during the install (in a terminal): git is stopped, the app stays, the message says how to finish', async () => {
  const parent = tempDir()
  // A server that accepts connections and never answers: git waits on it until stopped.
  const server: Server = createServer(() => {})
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const url = `http://127.0.0.1:${port}/alloui-lua.git`
  try {
    const r = runCliInPty(['create', 'clock', '--yes', '--alloui-url', url], {
      cwd: parent,
      env: { GIT_TERMINAL_PROMPT: '0' },
      steps: [['Add alloui-lua as a git submodule', KEY.ctrlC]],
    })
    const out = plain(r.output)
    assert.equal(r.error, null, out)
    assert.equal(r.code, 130, out)
    assert.match(
      out,
      new RegExp(
        `Cancelled: finish the install with: cd clock && git submodule add -- ${url.replace(/[.]/g, '\\.')} allo/deps/alloui && git submodule update --init --recursive\\.`,
      ),
    )
    const app = join(parent, 'clock')
    assert.ok(existsSync(join(app, 'lua/main.lua')), 'the app stays')
    assert.equal(existsSync(join(app, 'allo/deps')), false, 'the half-made clone is removed')
    await waitUntil('git to be gone', () => processesIn(parent).length === 0)
  } finally {
    server.close()
    removeDir(parent)
  }
})
