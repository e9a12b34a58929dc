/**
 * `assist create demo --yes --no-install --no-git` against the generator people know:
 * `npm create vite@latest demo -- --template vanilla`, run from the npm cache (--offline) so the
 * network does not count. Both are timed as whole processes (wall time, spawn to exit), in
 * alternation, in the same run, each in a fresh empty folder. Goal: ours is faster.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BenchRow, median, printTable, quantile } from './lib.js'

const CLI = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const RUNS = Math.max(10, Number(process.env.BENCH_RUNS ?? 12))

interface Tool {
  name: string
  argv: string[]
  /** A file that must exist afterwards (the run really scaffolded). */
  made: string
}

const OURS: Tool = {
  name: 'assist create',
  argv: [process.execPath, CLI, 'create', 'demo', '--yes', '--no-install', '--no-git'],
  made: 'demo/lua/main.lua',
}
const VITE: Tool = {
  name: 'npm create vite@latest (vanilla, --offline)',
  argv: [
    'npm',
    'create',
    '--yes',
    '--offline',
    'vite@latest',
    'demo',
    '--',
    '--template',
    'vanilla',
    '--no-interactive',
  ],
  made: 'demo/index.html',
}

function timeOnce(tool: Tool): number {
  const dir = mkdtempSync(join(tmpdir(), 'assist-bench-create-'))
  try {
    const start = performance.now()
    const r = spawnSync(tool.argv[0], tool.argv.slice(1), {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false' },
      encoding: 'utf8',
    })
    const ms = performance.now() - start
    if (r.status !== 0 || !existsSync(join(dir, tool.made))) {
      throw new Error(`${tool.name} failed (exit ${r.status}): ${r.stderr || r.stdout}`)
    }
    return ms
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export default async function bench(): Promise<void> {
  // Prime the npm cache so the anchor can run --offline, then warm both up once.
  const prime = spawnSync('npm', ['cache', 'add', 'create-vite@latest'], { encoding: 'utf8' })
  if (prime.status !== 0) throw new Error(`npm cache add create-vite@latest failed: ${prime.stderr}`)
  timeOnce(OURS)
  timeOnce(VITE)
  const ours: number[] = []
  const vite: number[] = []
  for (let i = 0; i < RUNS; i++) {
    ours.push(timeOnce(OURS))
    vite.push(timeOnce(VITE))
  }
  const m = median(ours)
  const a = median(vite)
  const rows: BenchRow[] = [
    {
      metric: `scaffold wall time, median of ${RUNS} (ms)`,
      ours: m,
      anchor: a,
      anchorName: VITE.name,
      note: `goal: faster — ${m < a ? 'met' : 'NOT met'}`,
    },
    {
      metric: `scaffold wall time, p90 of ${RUNS} (ms)`,
      ours: quantile(ours, 0.9),
      anchor: quantile(vite, 0.9),
      anchorName: VITE.name,
    },
  ]
  printTable('create: scaffold a new app (assist create demo --yes --no-install --no-git)', rows)
}
