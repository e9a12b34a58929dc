/**
 * `assist generate`: how hardened the default unit is (systemd-analyze security exposure, lower is
 * better) against a naive unit (just ExecStart=), and how long the real `nginx -t` takes on the
 * generated site against a minimal hand-written proxy site. Runs the real tools.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { cliEntryPath, nodeBinaryPath } from '../src/core/deploy/files.js'
import { renderNginxSite, resolveNginxOptions } from '../src/core/deploy/nginx.js'
import { renderSystemdUnit, resolveSystemdOptions } from '../src/core/deploy/systemd.js'
import {
  DEFAULT_UNIT_EXPOSURE_GOAL,
  deployWorkDir,
  nginxTest,
  selfSignedCert,
  systemdExposure,
  tmpPrefix,
} from '../test/helpers/deploy.js'
import { median, printTable } from './lib.js'

const RUNS = 15

async function timeNginxT(prefix: string, site: string): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    const r = await nginxTest(prefix, site)
    times.push(performance.now() - t0)
    if (r.code !== 0) throw new Error(`nginx -t failed: ${r.stderr}`)
  }
  return median(times)
}

export default async function bench(): Promise<void> {
  const work = deployWorkDir('bench-')
  const prefix = tmpPrefix()
  try {
    const unit = resolveSystemdOptions({
      workDir: work,
      appsRoot: false,
      nodePath: nodeBinaryPath(),
      cliPath: cliEntryPath(),
      user: 'allo',
    })
    const ours = join(work, unit.fileName)
    writeFileSync(ours, renderSystemdUnit(unit))
    const naive = join(work, 'naive.service')
    writeFileSync(naive, `[Service]\nExecStart=${nodeBinaryPath()} ${cliEntryPath()} serve\n`)
    const e1 = await systemdExposure(ours)
    const e0 = await systemdExposure(naive)

    const { cert, key } = await selfSignedCert(prefix, 'apps.example.com')
    const genDir = join(prefix, 'generated')
    const plainDir = join(prefix, 'plain')
    mkdirSync(genDir)
    mkdirSync(plainDir)
    const genSite = join(genDir, 'site.conf')
    writeFileSync(
      genSite,
      renderNginxSite(
        resolveNginxOptions({
          domain: 'apps.example.com',
          cert,
          key,
          upstreams: ['127.0.0.1:8000', '127.0.0.1:8001'],
          rateLimit: '10r/m',
          acmeRoot: join(prefix, 'acme'),
          accessLog: join(prefix, 'access.log'),
        }),
      ),
    )
    const plainSite = join(plainDir, 'site.conf')
    writeFileSync(
      plainSite,
      `server {\n    listen 443 ssl;\n    server_name apps.example.com;\n    ssl_certificate ${cert};\n    ssl_certificate_key ${key};\n    location / { proxy_pass http://127.0.0.1:8000; }\n}\n`,
    )
    const tGen = await timeNginxT(genDir, genSite)
    const tPlain = await timeNginxT(plainDir, plainSite)

    printTable('generate: unit hardening and nginx -t', [
      {
        metric: 'systemd-analyze security exposure, default unit (0 best, 10 worst)',
        ours: e1.score,
        anchor: e0.score,
        anchorName: 'naive unit (ExecStart= only)',
        note: `goal ≤ ${DEFAULT_UNIT_EXPOSURE_GOAL} (${e1.rating}); anchor ${e0.rating}; ${e1.score <= DEFAULT_UNIT_EXPOSURE_GOAL ? 'met' : 'NOT met'}`,
      },
      {
        metric: `nginx -t on the site, median of ${RUNS} (ms)`,
        ours: tGen,
        anchor: tPlain,
        anchorName: 'minimal TLS proxy site',
        note: 'generated: 2 upstreams, rate limit, ACME + redirect server',
      },
    ])
  } finally {
    rmSync(work, { recursive: true, force: true })
    rmSync(prefix, { recursive: true, force: true })
  }
}
