/**
 * Our place with an agent on the real C ENet library: a LuaJIT process (FFI to Debian's libenet,
 * the library liballonet vendors) connects, announces, spawns a button, is poked by our TS client
 * through the place, answers, and leaves on ["quit"] — as alloui apps do. Needs luajit and libenet.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { connectClient, startTestPlace, waitForPlace } from '../../helpers/place.js'

const AGENT = fileURLToPath(new URL('../../fixtures/place/lua-agent.lua', import.meta.url))
const children: ChildProcess[] = []
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})

function lines(child: ChildProcess): { out: string[]; waitFor(re: RegExp): Promise<RegExpExecArray> } {
  const out: string[] = []
  const waiters: Array<() => void> = []
  let pending = ''
  child.stdout?.on('data', (d) => {
    pending += d
    const parts = pending.split('\n')
    pending = parts.pop() ?? ''
    out.push(...parts)
    for (const w of waiters) w()
  })
  child.stderr?.on('data', (d) => out.push(`stderr: ${d}`))
  return {
    out,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${re} from the Lua agent; it printed:\n${out.join('\n')}`)),
          15_000,
        )
        const check = () => {
          for (const l of out) {
            const m = re.exec(l)
            if (m) {
              clearTimeout(timer)
              resolve(m)
              return true
            }
          }
          return false
        }
        if (!check()) waiters.push(() => void check())
      }),
  }
}

test('a LuaJIT agent on the C ENet library: announce, spawn, state, poke through the place, quit', async () => {
  const { place, log } = await startTestPlace(undefined, { name: 'Lua test place' })
  try {
    const child = spawn('luajit', [AGENT, '127.0.0.1', String(place.port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(child)
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    const agent = lines(child)
    const [, avatar, placeName] = await agent.waitFor(/^announced ([a-y]{10}) (.*)$/)
    assert.equal(placeName, 'Lua test place')
    const [, button] = await agent.waitFor(/^spawned ([a-y]{10})$/)
    await agent.waitFor(/^state has /)
    const clock = await agent.waitFor(/^clock (.*)$/)
    assert.match(clock[1], /"client_time":\s[\d.]+, "server_time":\s[\d.]+/)
    assert.ok(log.has(/announced: "lua-agent"/))
    // The place tracks the agent's acknowledgements (its intents carry the revisions it got).
    await waitForPlace(
      place,
      () => (place.agentList().find((a) => a.displayName === 'lua-agent')?.ackedRevision ?? 0) > 0,
    )

    const visor = await connectClient(place, undefined, 'visor')
    const st = await visor.waitForState((s) => s.entities[button] !== undefined)
    assert.equal((st.entities[button].components.relationships as { parent: string }).parent, avatar)
    assert.deepEqual(await visor.request(button, ['poke', true]), ['poke', 'ok'])
    await agent.waitFor(new RegExp(`^poked ${visor.avatarId} ${button}$`))
    assert.deepEqual(await visor.request(avatar, ['quit']), ['quit', 'ok'])
    assert.equal(await exited, 0)
    await agent.waitFor(/^disconnected/)
    const gone = await visor.waitForState(
      (s) => s.entities[avatar] === undefined && s.entities[button] === undefined,
    )
    assert.equal(gone.entities[avatar], undefined)
    assert.ok(log.has(/disconnected: "lua-agent".*removed 2 entities/), log.lines.join('\n'))
    await visor.disconnect()
  } finally {
    await place.close()
  }
})
