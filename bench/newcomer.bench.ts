/**
 * A newcomer's first app, from nothing to the app running: `assist create demo --yes --build` then
 * `assist run`, timed from create's spawn to the place announcing the app (the app is in the built-in
 * place) — against `npm create vite` + `npm install` + `npm run dev`, timed to vite's "ready" line.
 *
 * cold: nothing cached (ours: an empty build cache, so allonet is cloned and compiled; vite: an empty
 *   npm cache, so create-vite and vite's dependencies come from the npm registry).
 * warm: the second app (ours: the cached build; vite: the npm cache from before, --prefer-offline).
 *
 * Ours builds the small stand-in allonet of test/helpers/allonet-fixture.ts (a local repository with a
 * gone submodule pin, ENet, cmake + cc), because CI cannot reach github.com; the real allonet's cold
 * build is recorded by hand in BENCHMARKS.md. Whole processes, wall time, alternating, same run.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeAllonetFixture, NETWORKED_ALLOUI_FILES } from '../test/helpers/allonet-fixture.js'
import { PENLIGHT_STANDIN_FILES } from '../test/helpers/alloui-standin.js'
import { FILE_PROTOCOL_ENV, makeAllouiFixture } from '../test/helpers/git-fixture.js'
import { type BenchRow, median, printTable } from './lib.js'

const CLI = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const TEMPLATES = fileURLToPath(new URL('../templates', import.meta.url))
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS_NEWCOMER ?? 3))

/** Spawns `argv` (own process group) and resolves with the ms from `t0` when its output matches `ready`. */
function until(
  argv: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
  ready: RegExp,
  t0: number,
): Promise<{ ms: number; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      ...opts,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    const timer = setTimeout(() => {
      stop(child)
      reject(new Error(`${argv.join(' ')}: no ${ready} in 300 s:\n${out}`))
    }, 300_000)
    const on = (d: Buffer) => {
      out += d
      if (ready.test(out)) {
        clearTimeout(timer)
        resolve({ ms: performance.now() - t0, child })
      }
    }
    child.stdout.on('data', on)
    child.stderr.on('data', on)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (!ready.test(out)) reject(new Error(`${argv.join(' ')} exited ${code} before ${ready}:\n${out}`))
    })
  })
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((r) => child.once('exit', r))
  try {
    process.kill(-(child.pid as number), 'SIGINT')
  } catch {
    return
  }
  const t = setTimeout(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL')
    } catch {}
  }, 5000)
  await gone
  clearTimeout(t)
}

function must(r: ReturnType<typeof spawnSync>, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${r.stderr}${r.stdout}`)
}

export default async function bench(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'assist-bench-newcomer-'))
  try {
    const allonet = makeAllonetFixture(join(base, 'allonet'))
    const alloui = makeAllouiFixture(join(base, 'alloui'), NETWORKED_ALLOUI_FILES, PENLIGHT_STANDIN_FILES)
    const template = join(base, 'templates', 'lua')
    cpSync(join(TEMPLATES, 'lua'), template, { recursive: true })
    cpSync(join(TEMPLATES, '_shared'), join(base, 'templates', '_shared'), { recursive: true })
    writeFileSync(join(base, 'templates', '_shared', 'allo', 'allonet.lock'), `${allonet.version}\n`)
    const warmCache = join(base, 'warm-cache')
    const npmWarm = join(base, 'npm-warm')
    let n = 0

    const ours = async (cache: string): Promise<number> => {
      const dir = join(base, `ours-${n++}`)
      mkdirSync(dir)
      const env = {
        ...process.env,
        ...FILE_PROTOCOL_ENV,
        NO_COLOR: '1',
        XDG_CACHE_HOME: cache,
        ALLONET_BASE_URL: '',
      }
      const t0 = performance.now()
      must(
        spawnSync(
          process.execPath,
          [
            CLI,
            'create',
            'demo',
            '--template',
            template,
            '--yes',
            '--build',
            '--allonet-url',
            allonet.repo,
            '--alloui-url',
            alloui.url,
          ],
          { cwd: dir, env, encoding: 'utf8' },
        ),
        'assist create',
      )
      const { ms, child } = await until(
        [process.execPath, CLI, 'run'],
        { cwd: join(dir, 'demo'), env },
        /announced: "demo"/,
        t0,
      )
      await stop(child)
      return ms
    }
    const vite = async (npmCache: string, offline: boolean): Promise<number> => {
      const dir = join(base, `vite-${n++}`)
      mkdirSync(dir)
      const env = {
        ...process.env,
        NO_COLOR: '1',
        npm_config_cache: npmCache,
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
        ...(offline ? { npm_config_prefer_offline: 'true' } : {}),
      }
      const t0 = performance.now()
      must(
        spawnSync(
          'npm',
          ['create', '--yes', 'vite@latest', 'demo', '--', '--template', 'vanilla', '--no-interactive'],
          {
            cwd: dir,
            env,
            encoding: 'utf8',
          },
        ),
        'npm create vite',
      )
      must(spawnSync('npm', ['install'], { cwd: join(dir, 'demo'), env, encoding: 'utf8' }), 'npm install')
      const { ms, child } = await until(
        ['npm', 'run', 'dev'],
        { cwd: join(dir, 'demo'), env },
        /ready in/,
        t0,
      )
      await stop(child)
      return ms
    }

    // Prime the warm caches (their first runs are the cold ones' equals, not counted).
    await ours(warmCache)
    await vite(npmWarm, false)
    const oursCold: number[] = []
    const oursWarm: number[] = []
    const viteCold: number[] = []
    const viteWarm: number[] = []
    for (let i = 0; i < RUNS; i++) {
      oursCold.push(await ours(join(base, `cold-cache-${i}`)))
      viteCold.push(await vite(join(base, `npm-cold-${i}`), false))
      oursWarm.push(await ours(warmCache))
      viteWarm.push(await vite(npmWarm, true))
    }
    const rows: BenchRow[] = [
      {
        metric: `cold: create → app in the place, median of ${RUNS} (ms)`,
        ours: median(oursCold),
        anchor: median(viteCold),
        anchorName: 'npm create vite + npm install + npm run dev → "ready" (empty npm cache)',
        note: 'ours clones and compiles the stand-in allonet (cmake + cc)',
      },
      {
        metric: `warm: create → app in the place, median of ${RUNS} (ms)`,
        ours: median(oursWarm),
        anchor: median(viteWarm),
        anchorName: 'the same, npm cache primed (--prefer-offline)',
        note: 'ours installs the cached build',
      },
    ]
    printTable('newcomer: assist create --yes --build + assist run → the app in the built-in place', rows)
    console.log(
      `\nall runs (ms): ours cold ${oursCold.map(Math.round).join(', ')}; vite cold ${viteCold.map(Math.round).join(', ')}; ` +
        `ours warm ${oursWarm.map(Math.round).join(', ')}; vite warm ${viteWarm.map(Math.round).join(', ')}`,
    )
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
}
