/**
 * Bounded loopback load test: 500 launches at concurrency 32 of a short-lived real luajit app.
 * Every request is answered, every instance starts exactly once and is reaped, nothing is left.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { after, it } from 'node:test'
import { silentLog, startGateway } from '../../src/core/gateway.js'
import { makeLuaApp, removeDir, tempDir } from '../helpers/app.js'
import { isAlive } from '../helpers/cli.js'
import { PLACE, PLACE_IDENTITY, QUICK_BOOT_LUA, waitUntil } from '../helpers/gateway.js'

const TOTAL = 500
const CONCURRENCY = 32
const root = tempDir()
after(() => removeDir(root))

function post(
  port: number,
  agent: Agent,
  body: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/quick',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-alloverse-server': PLACE,
          'x-alloverse-launched-by': PLACE_IDENTITY,
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d) => {
          text += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** Pids of processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (cmd.includes(needle)) found.push(Number(entry))
    } catch {
      // gone
    }
  }
  return found
}

it(`${TOTAL} launches at concurrency ${CONCURRENCY}: all answered, each started once and reaped`, async () => {
  const app = makeLuaApp('quick', { boot: QUICK_BOOT_LUA }, root)
  const g = await startGateway({
    appsRoot: root,
    port: 0,
    host: '127.0.0.1',
    log: silentLog,
    maxInstances: 0,
  })
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  const answers: Array<{ status: number; json: Record<string, unknown> }> = []
  let next = 0
  async function worker() {
    while (next < TOTAL) {
      const i = next++
      const token = `load${String(i).padStart(5, '0')}`
      answers.push(
        await post(
          g.port,
          agent,
          `{"initialLocation":[1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1],"avatarToken":"${token}"}`,
        ),
      )
    }
  }
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    assert.equal(answers.length, TOTAL, 'every request answered')
    const failed = answers.filter((a) => a.status !== 200)
    assert.deepEqual(failed, [], 'every launch succeeded')
    const ids = new Set(answers.map((a) => a.json.instance))
    assert.equal(ids.size, TOTAL, 'one distinct instance per launch')

    await waitUntil(() => g.instances().length === 0, 'every instance was reaped', 120_000)
    const health = (await (await fetch(`${g.url}health`)).json()) as Record<string, unknown>
    assert.equal(health.instances, 0)
    assert.equal(health.starting, 0)

    const lines = readFileSync(join(app, 'launches.log'), 'utf8').split('\n').filter(Boolean)
    const tokens = lines.map((l) => l.split(' ')[0])
    assert.equal(tokens.length, TOTAL, 'exactly one start per launch')
    assert.equal(new Set(tokens).size, TOTAL, 'no launch started twice')
    for (let i = 0; i < TOTAL; i++) assert.ok(tokens.includes(`load${String(i).padStart(5, '0')}`))

    const pids = answers.map((a) => a.json.pid as number)
    assert.deepEqual(
      pids.filter((p) => isAlive(p)),
      [],
      'no instance process (or zombie) left',
    )
    assert.deepEqual(processesMentioning(app), [], 'no process of the app left')
  } finally {
    agent.destroy()
    await g.close({ force: true })
  }
})
