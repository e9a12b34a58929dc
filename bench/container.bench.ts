/**
 * The template's image against a naive single-stage image for the same freshly created app, in the
 * same run, with podman (test/helpers/podman.ts: a local Debian base with Node 24; no registry).
 *
 * Anchor: what a user writes without thinking — the "full" Node image (node:24-bookworm is
 * buildpack-deps: compilers, git, dev headers; stood in for by the same base plus build-essential,
 * cmake, git and python3), LuaJIT, `COPY . .` of the whole folder (no .dockerignore), assist
 * installed and allonet fetched after the copy, running as root, node as PID 1.
 *
 * Measured: image size; cold start (`podman run` → first /health 200 on the published port, median
 * of RUNS); the rebuild after a one-line change to lua/main.lua (layer caching: ours only copies the
 * app again; the naive one reinstalls assist and refetches allonet). Builds are slow on a busy
 * machine; one real run is what BENCHMARKS.md records.
 */
import { appendFileSync, cpSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { removeDir } from '../test/helpers/app.js'
import { makeContainerApp } from '../test/helpers/container-app.js'
import { buildCommand, type Podman, podman, podmanOk, setupPodman } from '../test/helpers/podman.js'
import { median, printTable } from './lib.js'

const RUNS = Number(process.env.BENCH_CONTAINER_RUNS ?? 5)

const NAIVE_DOCKERFILE = `FROM BASE
RUN apt-get update && apt-get install -y build-essential cmake git python3 luajit ca-certificates
WORKDIR /app
COPY . .
ARG ASSIST_PACKAGE
ARG ALLONET_BASE_URL
RUN npm install -g "$ASSIST_PACKAGE" && assist fetch --base-url "$ALLONET_BASE_URL"
EXPOSE 8000
CMD ["assist", "serve", "--host", "0.0.0.0"]
`

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

async function build(pm: Podman, dir: string, tag: string, args: string[], noCache = false): Promise<number> {
  const t0 = performance.now()
  await podmanOk(
    pm,
    [...buildCommand(pm), ...(noCache ? ['--no-cache'] : []), ...args, '-t', tag, dir],
    1_800_000,
  )
  return (performance.now() - t0) / 1000
}

async function coldStart(pm: Podman, tag: string): Promise<number> {
  const port = await freePort()
  const name = `allo-assist-bench-${process.pid}-${port}`
  const t0 = performance.now()
  await podmanOk(pm, ['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:8000`, tag])
  try {
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) return performance.now() - t0
      } catch {}
      if (performance.now() - t0 > 120_000) throw new Error(`${tag} never answered /health`)
      await new Promise((r) => setTimeout(r, 20))
    }
  } finally {
    await podman(pm, ['rm', '-f', '-t', '0', name])
  }
}

async function sizeMB(pm: Podman, tag: string): Promise<number> {
  return Number((await podmanOk(pm, ['image', 'inspect', tag, '--format', '{{.Size}}'])).trim()) / 1e6
}

export default async function bench(): Promise<void> {
  const pm = await setupPodman()
  const made = await makeContainerApp('clock')
  const naiveDir = join(made.work, 'naive')
  const ours = `localhost/allo-assist-bench-ours:${process.pid}`
  const naive = `localhost/allo-assist-bench-naive:${process.pid}`
  try {
    cpSync(made.app, naiveDir, { recursive: true })
    for (const f of ['Dockerfile', '.dockerignore']) rmSync(join(naiveDir, f))
    writeFileSync(join(naiveDir, 'Dockerfile'), NAIVE_DOCKERFILE.replace('BASE', pm.baseImage))

    const buildOurs = await build(pm, made.app, ours, made.buildArgs, true)
    const buildNaive = await build(pm, naiveDir, naive, made.buildArgs, true)
    const sOurs = await sizeMB(pm, ours)
    const sNaive = await sizeMB(pm, naive)
    const base = await sizeMB(pm, pm.baseImage)

    const cOurs: number[] = []
    const cNaive: number[] = []
    for (let i = 0; i < RUNS; i++) {
      cOurs.push(await coldStart(pm, ours))
      cNaive.push(await coldStart(pm, naive))
    }

    // The --no-cache builds may leave no layers to reuse: build once more unchanged, then edit.
    await build(pm, made.app, ours, made.buildArgs)
    await build(pm, naiveDir, naive, made.buildArgs)
    for (const dir of [made.app, naiveDir]) appendFileSync(join(dir, 'lua/main.lua'), '-- a change\n')
    const reOurs = await build(pm, made.app, ours, made.buildArgs)
    const reNaive = await build(pm, naiveDir, naive, made.buildArgs)

    const anchorName = 'naive single-stage (full image + build tools, COPY . .)'
    printTable(
      `Container image: template Dockerfile vs naive (base ${base.toFixed(0)} MB, ${RUNS} cold starts each)`,
      [
        {
          metric: 'image size (MB)',
          ours: sOurs,
          anchor: sNaive,
          anchorName,
          note: `base image alone: ${base.toFixed(0)} MB`,
        },
        {
          metric: 'cold start: run → /health 200 (ms, median)',
          ours: median(cOurs),
          anchor: median(cNaive),
          anchorName,
        },
        {
          metric: 'first build, --no-cache (s)',
          ours: buildOurs,
          anchor: buildNaive,
          anchorName,
        },
        {
          metric: 'rebuild after editing lua/main.lua (s)',
          ours: reOurs,
          anchor: reNaive,
          anchorName,
          note: 'ours: only COPY . . reruns',
        },
      ],
    )
  } finally {
    for (const tag of [ours, naive]) await podman(pm, ['rmi', '-f', tag])
    // The --no-cache builds leave whole image chains behind (GBs): drop every untagged image.
    await podman(pm, ['image', 'prune', '-f'])
    await made.mirror.close()
    removeDir(made.work)
  }
}
