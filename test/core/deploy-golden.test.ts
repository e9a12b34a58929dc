/**
 * Golden files: the exact text of a few representative configurations, kept in test/golden/ so
 * reviewers see what users get. Regenerate after an intended change with:
 *   UPDATE_GOLDEN=1 node --import tsx --test test/core/deploy-golden.test.ts
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { renderNginxSite, resolveNginxOptions } from '../../src/core/deploy/nginx.js'
import { renderSystemdUnit, resolveSystemdOptions } from '../../src/core/deploy/systemd.js'

const GOLDEN = fileURLToPath(new URL('../golden', import.meta.url))
const update = process.env.UPDATE_GOLDEN === '1'

// Fixed, machine-independent inputs (what a typical server install would have).
const SERVER = {
  nodePath: '/usr/bin/node',
  cliPath: '/usr/lib/node_modules/allo-assist/bin/run.js',
  user: 'allo',
}

const CASES: Array<[string, () => string]> = [
  [
    'systemd-app.service',
    () =>
      renderSystemdUnit(resolveSystemdOptions({ ...SERVER, workDir: '/srv/allo/clock', appsRoot: false })),
  ],
  [
    'systemd-apps-root-template.service',
    () =>
      renderSystemdUnit(
        resolveSystemdOptions({
          ...SERVER,
          workDir: '/srv/allo/apps',
          appsRoot: true,
          name: 'allo-gateway',
          instances: 3,
          port: 8000,
          group: 'allo',
          maxInstances: 20,
          maxPerPlace: 4,
          maxLifetime: '12h',
          logFormat: 'json',
          environmentFile: '/etc/allo/gateway.env',
          env: ['LOG_LEVEL=info'],
        }),
      ),
  ],
  ['nginx-default.conf', () => renderNginxSite(resolveNginxOptions({ domain: 'apps.example.com' }))],
  [
    'nginx-two-gateways-rate-limited.conf',
    () =>
      renderNginxSite(
        resolveNginxOptions({
          domain: 'apps.example.com',
          upstreams: ['127.0.0.1:8000', '127.0.0.1:8001'],
          rateLimit: '10r/m',
        }),
      ),
  ],
]

describe('golden deployment configs', () => {
  for (const [file, render] of CASES) {
    test(file, () => {
      const path = join(GOLDEN, file)
      const text = render()
      if (update || !existsSync(path)) {
        if (!update) assert.fail(`${path} is missing; run with UPDATE_GOLDEN=1 to create it`)
        mkdirSync(GOLDEN, { recursive: true })
        writeFileSync(path, text)
      }
      assert.equal(text, readFileSync(path, 'utf8'), `${file} changed; if intended, run with UPDATE_GOLDEN=1`)
    })
  }
})
