/**
 * Issue 3 benchmarks.
 * - Restart latency: file write → the new instance's first output line, `assist run` vs nodemon running
 *   the same Lua app (nodemon default, and nodemon --delay 0.1 which is what it takes to restart once).
 * - Restarts per burst of 20 saves 20 ms apart.
 * - Restarts per save through a temporary file: `sed -i` (sedXXXXXX beside the file, renamed over it)
 *   and an editor's write-then-rename (main.lua.tmp.<n> renamed over main.lua 150 ms later).
 * - Start-up: `assist --version` / `assist --help` vs bare `node -e 0`.
 */
import { spawn, spawnSync } from 'node:child_process'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeLuaApp, removeDir, tempDir } from '../test/helpers/app.js'
import { median, printTable, quantile } from './lib.js'

const CLI = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const NODEMON = fileURLToPath(new URL('../node_modules/nodemon/bin/nodemon.js', import.meta.url))
const SAVES = Number(process.env.BENCH_SAVES ?? 30)
const READY_BOOT = "io.stdout:write('ready\\n') io.stdout:flush()\nos.execute('sleep 1000')\n"

interface Runner {
  name: string
  argv: (root: string) => string[]
}

function watcherProcess(argv: string[], cwd: string) {
  // Its own process group, so stop() can take down whatever the watcher started.
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  })
  const exited = new Promise((r) => child.once('exit', r))
  let readyCount = 0
  let waiter: (() => void) | undefined
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    const lines = buf.split('\n')
    buf = lines.pop() ?? ''
    for (const l of lines)
      if (/\bready$/.test(l)) {
        readyCount++
        waiter?.()
      }
  })
  child.stderr.resume()
  return {
    get ready() {
      return readyCount
    },
    waitReady(n: number, timeoutMs = 10_000): Promise<boolean> {
      if (readyCount >= n) return Promise.resolve(true)
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), timeoutMs)
        waiter = () => {
          if (readyCount >= n) {
            clearTimeout(t)
            waiter = undefined
            resolve(true)
          }
        }
      })
    },
    async stop() {
      const group = -(child.pid as number)
      const signal = (sig: NodeJS.Signals) => {
        try {
          process.kill(group, sig)
        } catch {}
      }
      signal('SIGTERM')
      const timer = setTimeout(() => signal('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
      signal('SIGKILL') // anything the watcher left behind in its group
      spawnSync('pkill', ['-f', cwd]) // and any app it started in a group of its own
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function measure(runner: Runner): Promise<{
  latencies: number[]
  burstRestarts: number[]
  sedRestarts: number[]
  renameRestarts: number[]
}> {
  const parent = tempDir('assist-bench-')
  const root = makeLuaApp('bench', { boot: READY_BOOT }, parent)
  const p = watcherProcess(runner.argv(root), root)
  const latencies: number[] = []
  const burstRestarts: number[] = []
  const sedRestarts: number[] = []
  const renameRestarts: number[] = []
  try {
    if (!(await p.waitReady(1, 20_000))) throw new Error(`${runner.name} never started`)
    await sleep(500)
    for (let i = 0; i < SAVES; i++) {
      const before = p.ready
      const t0 = performance.now()
      writeFileSync(join(root, 'lua/main.lua'), `-- save ${i}\n`)
      if (await p.waitReady(before + 1)) latencies.push(performance.now() - t0)
      await sleep(350) // let any extra restarts settle
    }
    for (let b = 0; b < 3; b++) {
      const before = p.ready
      for (let i = 0; i < 20; i++) {
        writeFileSync(join(root, 'lua/main.lua'), `-- burst ${b} ${i}\n`)
        await sleep(20)
      }
      await sleep(2500)
      burstRestarts.push(p.ready - before)
    }
    const main = join(root, 'lua/main.lua')
    for (let i = 0; i < 3; i++) {
      const before = p.ready
      spawnSync('sed', ['-i', `1s/.*/-- sed ${i}/`, main])
      await sleep(1500)
      sedRestarts.push(p.ready - before)
    }
    for (let i = 0; i < 3; i++) {
      const before = p.ready
      // as a slower editor saves: the temporary file sits there 150 ms before it is renamed over
      writeFileSync(`${main}.tmp.${process.pid}${i}`, `-- renamed ${i}\n`)
      await sleep(150)
      renameSync(`${main}.tmp.${process.pid}${i}`, main)
      await sleep(1500)
      renameRestarts.push(p.ready - before)
    }
  } finally {
    await p.stop()
    removeDir(parent)
  }
  return { latencies, burstRestarts, sedRestarts, renameRestarts }
}

function timeCommand(argv: string[], runs: number, env: NodeJS.ProcessEnv = process.env): number[] {
  const out: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', env })
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed`)
    out.push(performance.now() - t0)
  }
  return out
}

export default async function bench(): Promise<void> {
  const ours: Runner = {
    name: 'assist run',
    argv: () => [process.execPath, CLI, 'run', 'alloplace://localhost'],
  }
  const luaCmd = (root: string) => `luajit allo/boot.lua ${root} alloplace://localhost:21337`
  const nodemonDefault: Runner = {
    name: 'nodemon (default)',
    argv: (root) => [process.execPath, NODEMON, '--watch', root, '-e', 'lua', '--exec', luaCmd(root)],
  }
  const nodemonDelay: Runner = {
    name: 'nodemon --delay 0.1',
    argv: (root) => [
      process.execPath,
      NODEMON,
      '--delay',
      '0.1',
      '--watch',
      root,
      '-e',
      'lua',
      '--exec',
      luaCmd(root),
    ],
  }
  const results = new Map<string, Awaited<ReturnType<typeof measure>>>()
  for (const r of [ours, nodemonDefault, nodemonDelay]) results.set(r.name, await measure(r))
  const o = results.get(ours.name)!
  const rows = []
  for (const anchor of [nodemonDefault, nodemonDelay]) {
    const a = results.get(anchor.name)!
    rows.push(
      {
        metric: `restart latency median (ms, n=${o.latencies.length}/${a.latencies.length})`,
        ours: median(o.latencies),
        anchor: median(a.latencies),
        anchorName: anchor.name,
        note: 'goal ≤ 80 ms',
      },
      {
        metric: 'restart latency p90 (ms)',
        ours: quantile(o.latencies, 0.9),
        anchor: quantile(a.latencies, 0.9),
        anchorName: anchor.name,
      },
      {
        metric: 'restarts per burst of 20 saves (median of 3)',
        ours: median(o.burstRestarts),
        anchor: median(a.burstRestarts),
        anchorName: anchor.name,
        note: 'goal: 1',
      },
      {
        metric: 'restarts per `sed -i` save (median of 3)',
        ours: median(o.sedRestarts),
        anchor: median(a.sedRestarts),
        anchorName: anchor.name,
        note: 'goal: 1',
      },
      {
        metric: 'restarts per write, 150 ms, rename save (median of 3)',
        ours: median(o.renameRestarts),
        anchor: median(a.renameRestarts),
        anchorName: anchor.name,
        note: 'goal: 1',
      },
    )
  }
  printTable('assist run: restart on save (Lua app, real luajit)', rows)

  const runs = Number(process.env.BENCH_STARTUP_RUNS ?? 15)
  const bare = median(timeCommand([process.execPath, '-e', '0'], runs))
  const version = median(timeCommand([process.execPath, CLI, '--version'], runs))
  // Help as users get it: rendered by oclif the first time, then the kept text
  // (src/core/help-cache.ts). Its own cache folder, warmed by one call each; the oclif render is
  // timed with the cache switched off.
  const cacheHome = tempDir('assist-bench-help-')
  const helpEnv = { ...process.env, XDG_CACHE_HOME: cacheHome }
  timeCommand([process.execPath, CLI, '--help'], 1, helpEnv)
  const help = median(timeCommand([process.execPath, CLI, '--help'], runs, helpEnv))
  const helpFirst = median(
    timeCommand([process.execPath, CLI, '--help'], runs, { ...helpEnv, ASSIST_NO_HELP_CACHE: '1' }),
  )
  timeCommand([process.execPath, CLI, 'run', '--help'], 1, helpEnv)
  const commandHelp = median(timeCommand([process.execPath, CLI, 'run', '--help'], runs, helpEnv))
  removeDir(cacheHome)
  printTable('CLI start-up (wall ms, median)', [
    { metric: 'assist --version', ours: version, anchor: bare, anchorName: 'node -e 0', note: 'goal ≤ 2.5×' },
    { metric: 'assist --help', ours: help, anchor: bare, anchorName: 'node -e 0', note: 'goal ≤ 2.5×' },
    {
      metric: 'assist --help, first time (oclif renders it)',
      ours: helpFirst,
      anchor: bare,
      anchorName: 'node -e 0',
      note: 'once per version, width, colour',
    },
    { metric: 'assist run --help', ours: commandHelp, anchor: bare, anchorName: 'node -e 0' },
  ])
}
