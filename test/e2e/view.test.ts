/**
 * `assist place` and `assist run` with the web view, through the built CLI: the view's URL is
 * printed and serves the page and the live world; --open runs the user's browser (a stand-in
 * script named by $BROWSER, which the `open` package's xdg-open honours); flag mistakes are
 * one-line errors.
 */
import assert from 'node:assert/strict'
import { chmodSync, existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import WebSocket from 'ws'
import { makeLuaApp, removeDir, tempDir, writeFile } from '../helpers/app.js'
import { CliProcess, runCli } from '../helpers/cli.js'

const VIEW_URL = /Web view: (http:\/\/127\.0\.0\.1:(\d+)\/)/

function firstMessage(url: string): Promise<{ type: string; entities: Array<{ id: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('message', (data) => {
      resolve(JSON.parse(String(data)))
      ws.close()
    })
    ws.once('error', reject)
  })
}

async function stop(p: CliProcess): Promise<{ code: number | null }> {
  p.signal('SIGINT')
  return p.closed
}

describe('assist place: the web view', () => {
  it('prints the view URL, serves the page, and pushes the world on the WebSocket', async () => {
    const p = new CliProcess(['place', '--port', '0'])
    try {
      await p.waitFor(VIEW_URL)
      const url = VIEW_URL.exec(p.output)![1]
      const page = await fetch(url)
      assert.equal(page.status, 200)
      assert.match(page.headers.get('content-type') ?? '', /text\/html/)
      assert.match(await page.text(), /<script type="module" src="app.js">/)
      const js = await fetch(new URL('app.js', url))
      assert.equal(js.status, 200)
      assert.ok((await js.arrayBuffer()).byteLength > 100_000, 'three.js is bundled into the page')
      assert.equal((await fetch(new URL('nope.js', url))).status, 404)
      const first = await firstMessage(`${url.replace('http', 'ws')}ws`)
      assert.equal(first.type, 'snapshot')
      assert.ok(first.entities.some((e) => e.id === 'place'))
      // The page's agent joined when the page connected.
      await p.waitFor(/announced as "web view"|web view/)
    } finally {
      const { code } = await stop(p)
      assert.equal(code, 0)
    }
  })

  it('--view-port on a busy port is a one-line error, and nothing keeps running', async () => {
    const busy = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()))
    const port = (busy.address() as { port: number }).port
    try {
      const r = await runCli(['place', '--port', '0', '--view-port', String(port)])
      assert.equal(r.code, 4, 'EXIT.network')
      assert.match(r.stderr, new RegExp(`Port ${port} on 127.0.0.1 is already in use for the web view`))
      assert.match(r.stderr, /--view-port/)
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    } finally {
      busy.close()
    }
  })

  it('--no-view serves no view', async () => {
    const p = new CliProcess(['place', '--port', '0', '--no-view'])
    try {
      await p.waitFor(/listening on alloplace:/)
      assert.doesNotMatch(p.output, /Web view/)
    } finally {
      await stop(p)
    }
  })

  it('--open opens the view in the default browser', async () => {
    const dir = tempDir('assist-open-')
    const seen = join(dir, 'opened.txt')
    const browser = join(dir, 'fake-browser')
    writeFile(browser, `#!/bin/sh\necho "$1" > "${seen}"\n`)
    chmodSync(browser, 0o755)
    const env = { BROWSER: browser, DISPLAY: '', XDG_CURRENT_DESKTOP: '', DESKTOP_SESSION: '' }
    const p = new CliProcess(['place', '--port', '0', '--open'], { env })
    try {
      await p.waitFor(VIEW_URL)
      const url = VIEW_URL.exec(p.output)![1]
      for (let i = 0; i < 200 && !existsSync(seen); i++) await new Promise((r) => setTimeout(r, 50))
      assert.equal(readFileSync(seen, 'utf8').trim(), url)
    } finally {
      await stop(p)
      removeDir(dir)
    }
  })
})

describe('assist run: the web view of the built-in place', () => {
  it('prints the view URL beside the built-in place', async () => {
    const parent = tempDir('assist-view-run-')
    const app = makeLuaApp('viewapp', {}, parent)
    const p = new CliProcess(['run', '--no-watch'], { cwd: app })
    try {
      await p.waitFor(VIEW_URL)
      const url = VIEW_URL.exec(p.output)![1]
      assert.equal((await fetch(url)).status, 200)
    } finally {
      await stop(p)
      removeDir(parent)
    }
  })

  it('with a place URL, --view serves the view of that place as a client of it, beside the app', async () => {
    const place = new CliProcess(['place', '--port', '0', '--no-view'])
    const parent = tempDir('assist-view-run-remote-')
    const app = makeLuaApp('viewapp', {}, parent)
    try {
      await place.waitFor(/listening on (alloplace:\/\/127\.0\.0\.1:\d+)/)
      const placeUrl = /listening on (alloplace:\/\/127\.0\.0\.1:\d+)/.exec(place.output)![1]
      const p = new CliProcess(['run', placeUrl, '--view', '--no-watch'], { cwd: app })
      try {
        await p.waitFor(VIEW_URL)
        await p.waitFor(/\[view\] Joined "Development place"/)
        const url = VIEW_URL.exec(p.output)![1]
        const first = (await firstMessage(`${url.replace('http', 'ws')}ws`)) as unknown as {
          source: { kind: string; url: string }
          status: { state: string }
        }
        assert.deepEqual(first.source, { kind: 'remote', url: placeUrl })
        assert.equal(first.status.state, 'live')
        await place.waitFor(/announced: "web view"/)
      } finally {
        await stop(p)
      }
      await place.waitFor(/disconnected: "web view"/)
    } finally {
      await stop(place)
      removeDir(parent)
    }
  })

  it('--no-view with --view-port (or --open) is a one-line error', async () => {
    const r = await runCli(['run', 'alloplace://localhost', '--no-view', '--view-port', '8080'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--no-view turns the web view off/)
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  })
})
