/**
 * A freshly created app ready for an image build, and what the build needs from outside, all local:
 * the checkout's `npm pack` tarball and a stand-in liballonet (built with cc) for the locked version,
 * both served by a local HTTP mirror (test/helpers/mirror.ts); alloui from the local stand-in
 * repository (test/helpers/alloui-standin.ts). Used by test/e2e/container.test.ts and the benchmark.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ALLOUI_STANDIN_FILES, LIBALLONET_STANDIN_C, PENLIGHT_STANDIN_FILES } from './alloui-standin.js'
import { tempDir } from './app.js'
import { runCli } from './cli.js'
import { FILE_PROTOCOL_ENV, makeAllouiFixture } from './git-fixture.js'
import { type Mirror, startMirror } from './mirror.js'

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
export const VERSION = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string

export interface ContainerApp {
  work: string
  app: string
  mirror: Mirror
  /** Build arguments a user would pass: the assist package (a tarball URL) and the allonet mirror. */
  buildArgs: string[]
}

export async function makeContainerApp(name = 'clock'): Promise<ContainerApp> {
  const work = tempDir('assist-container-')
  execFileSync('npm', ['pack', '--pack-destination', work], { cwd: REPO, stdio: 'pipe' })
  const tgz = `allo-assist-${VERSION}.tgz`
  const mirror = await startMirror()
  mirror.file(`/${tgz}`, readFileSync(join(work, tgz)), false)
  execFileSync('cc', ['-shared', '-fPIC', '-o', join(work, 'liballonet.so'), '-x', 'c', '-'], {
    input: LIBALLONET_STANDIN_C,
  })
  const fx = makeAllouiFixture(join(work, 'fixtures'), ALLOUI_STANDIN_FILES, PENLIGHT_STANDIN_FILES)
  const c = await runCli(['create', name, '--alloui-url', fx.url, '--alloui-ref', 'v1', '--author', 'A'], {
    cwd: work,
    env: FILE_PROTOCOL_ENV,
    timeoutMs: 120_000,
  })
  if (c.code !== 0) throw new Error(`assist create failed:\n${c.stdout}\n${c.stderr}`)
  const app = join(work, name)
  const lock = readFileSync(join(app, 'allo/allonet.lock'), 'utf8').trim()
  mirror.file(`/${lock}/linux-x64/liballonet.so`, readFileSync(join(work, 'liballonet.so')))
  return {
    work,
    app,
    mirror,
    buildArgs: [
      '--build-arg',
      `ASSIST_PACKAGE=${mirror.url}/${tgz}`,
      '--build-arg',
      `ALLONET_BASE_URL=${mirror.url}`,
    ],
  }
}
