/**
 * The README's quickstart, for real: `assist run` in examples/hello with no URL starts the built-in
 * place and the example app (node, from alloapp.json); a client of ours joins that place like a
 * visor's hand, pokes the app's button, and the app's "Hello!" shows in run's output. Then a save
 * hot-reloads it.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { AlloClient } from '../../src/core/place/client.js'
import { CliProcess, killAllCli } from '../helpers/cli.js'

const HELLO = fileURLToPath(new URL('../../examples/hello', import.meta.url))

after(killAllCli)

test('quickstart: assist run in examples/hello, poke the button, see Hello!, save, see it restart', async () => {
  const p = new CliProcess(['run'], { cwd: HELLO })
  let client: AlloClient | undefined
  const appFile = `${HELLO}/app.mjs`
  const original = readFileSync(appFile, 'utf8')
  try {
    await p.waitFor(/hello is up in Development place/, 30_000)
    const port = Number(/listening on alloplace:\/\/127\.0\.0\.1:(\d+)/.exec(p.output)?.[1])
    client = await AlloClient.connect({ host: '127.0.0.1', port })
    const hand = {
      transform: { matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.1, 1.2, -1.5, 1] },
      intent: { actuate_pose: 'hand/right' },
    }
    await client.announce({
      identity: { display_name: 'poker' },
      avatar: { transform: {}, children: [hand] },
    })
    const state = await client.waitForState((s) =>
      Object.values(s.entities).some((e) => (e.components.text as { string?: string })?.string === 'Hello!'),
    )
    const label = Object.values(state.entities).find(
      (e) => (e.components.text as { string?: string })?.string === 'Hello!',
    )!
    const button = (label.components.relationships as { parent: string }).parent
    assert.ok(state.entities[button]?.components.collider, 'the button has a collider')
    client.oneway(button, ['point', [0, 1.25, -1.5], [0, 1.25, -1.9]])
    client.oneway(button, ['poke', true])
    client.oneway(button, ['poke', false])
    await p.waitFor(/\[hello\] Hello! \(1\)/)
    await client.waitForState((s) =>
      Object.values(s.entities).some(
        (e) => (e.components.text as { string?: string })?.string === 'Hello × 1',
      ),
    )

    writeFileSync(appFile, `${original}\n// a save\n`)
    await p.waitFor(/↻ app\.mjs changed, restarted/)
    await p.waitFor((out) => (out.match(/hello is up in Development place/g) ?? []).length === 2, 30_000)
    writeFileSync(appFile, original) // a restore is a save too: wait for that instance before stopping
    await p.waitFor((out) => (out.match(/hello is up in Development place/g) ?? []).length === 3, 30_000)
  } finally {
    writeFileSync(appFile, original)
    await client?.disconnect()
    p.signal('SIGINT')
    const { code } = await p.closed
    assert.equal(code, 130, 'Ctrl-C ends run with 128 + SIGINT, as a shell reports it')
  }
})
