/**
 * Downloading a ~5 MB allonet library from a local mirror: `assist fetch --force` (whole CLI run)
 * and the core download (in-process) against `curl -o` (the anchor) — median of 12 runs each,
 * interleaved. Plus `assist doctor` wall time on a complete app, against bare `node -e 0`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { downloadLibrary } from '../src/core/deps/fetch.js'
import { makeLuaApp, tempDir } from '../test/helpers/app.js'
import { CLI } from '../test/helpers/cli.js'
import { startMirror } from '../test/helpers/mirror.js'
import { buildSharedLib } from '../test/helpers/native.js'
import { median, printTable } from './lib.js'

const RUNS = 12
const V = '1.0.0.gabcdef0'

function timeSync(fn: () => void): number {
  const t = performance.now()
  fn()
  return performance.now() - t
}

export default async function bench(): Promise<void> {
  const dir = tempDir('assist-bench-')
  const lib = buildSharedLib(join(dir, 'liballonet.so'), 1)
  appendFileSync(lib, Buffer.alloc(5 * 1024 * 1024, 0xab)) // a real ELF header, ~5 MB body
  const body = readFileSync(lib)
  const m = await startMirror()
  m.file(`/${V}/linux-x64/liballonet.so`, body)
  const url = `${m.url}/${V}/linux-x64/liballonet.so`
  const root = makeLuaApp('benchapp', {
    withLib: false,
    files: { 'allo/allonet.lock': `${V}\n`, 'allo/deps/alloui/README.md': 'x\n' },
  })
  mkdirSync(join(root, 'allo/lib'), { recursive: true })
  const env = { ...process.env, NO_COLOR: '1', ALLONET_BASE_URL: m.url }
  const p = { platform: 'linux-x64' as const, file: 'liballonet.so' }
  const cli: number[] = []
  const core: number[] = []
  const curl: number[] = []
  const curlOut = join(dir, 'curl.so')
  try {
    for (let i = 0; i < RUNS; i++) {
      // the server runs in this process, so child processes are awaited asynchronously
      cli.push(await timeChild(process.execPath, [CLI, 'fetch', '--force'], root, env))
      const t = performance.now()
      const dl = await downloadLibrary(m.url, V, p, join(root, 'allo/lib/liballonet.so'), {
        timeoutMs: 30_000,
      })
      core.push(performance.now() - t)
      rmSync(dl.tmp)
      rmSync(curlOut, { force: true })
      curl.push(await timeChild('curl', ['-sS', '-f', '-o', curlOut, url], dir, env))
    }
    if (!readFileSync(curlOut).equals(body)) throw new Error('curl download differs')
  } finally {
    await m.close()
  }

  // doctor on a complete app (real library, lock = cache, alloui present)
  writeFileSync(join(root, 'allo/lib/allonet.cache'), `${V}\n`)
  const doctor: number[] = []
  const bare: number[] = []
  const upToDate: number[] = []
  const port = String(20000 + (process.pid % 20000))
  for (let i = 0; i < RUNS; i++) {
    doctor.push(
      timeSync(() => {
        const r = spawnSync(process.execPath, [CLI, 'doctor', '--port', port], { cwd: root, env })
        if (r.status !== 0) throw new Error(`doctor failed:\n${r.stdout}${r.stderr}`)
      }),
    )
    upToDate.push(timeSync(() => execFileSync(process.execPath, [CLI, 'fetch'], { cwd: root, env })))
    bare.push(timeSync(() => execFileSync(process.execPath, ['-e', '0'])))
  }
  rmSync(dir, { recursive: true, force: true })
  rmSync(join(root, '..'), { recursive: true, force: true })

  const mb = (body.length / 1048576).toFixed(1)
  printTable(`fetch: ${mb} MB library from a local mirror, median of ${RUNS}`, [
    {
      metric: 'assist fetch --force, whole CLI (ms)',
      ours: median(cli),
      anchor: median(curl),
      anchorName: 'curl -o',
      note: 'includes Node + oclif start-up, sha256 file, header check, atomic rename',
    },
    {
      metric: 'core download + verify, in-process (ms)',
      ours: median(core),
      anchor: median(curl),
      anchorName: 'curl -o',
      note: 'streaming to temp file with sha256, checksum fetch, header check',
    },
    {
      metric: 'assist fetch, already up to date (ms)',
      ours: median(upToDate),
      anchor: median(bare),
      anchorName: 'node -e 0',
      note: 'the CLI start-up floor the whole-CLI fetch pays',
    },
    {
      metric: 'assist doctor, complete app (ms)',
      ours: median(doctor),
      anchor: median(bare),
      anchorName: 'node -e 0',
      note: 'runs luajit -v, luajit FFI load, git ×3, port bind',
    },
  ])
}

function timeChild(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now()
    import('node:child_process').then(({ spawn }) => {
      const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'ignore', 'inherit'] })
      child.on('error', reject)
      child.on('close', (code) =>
        code === 0 ? resolve(performance.now() - t) : reject(new Error(`${cmd} exited with ${code}`)),
      )
    })
  })
}
