/**
 * For a test file that runs gateways in-process: `gateway(opts)` starts one on a free loopback port
 * (grace 2 s) with its log captured, `temp()` makes a temp folder; after the file's tests every
 * gateway is closed (forced) and every folder removed. Call it once, at the top of the file.
 */
import { after } from 'node:test'
import { type Gateway, type GatewayOptions, startGateway } from '../../src/core/gateway.js'
import { removeDir, tempDir } from './app.js'
import { type Captured, captureLog } from './gateway.js'

export interface GatewayHarness {
  gateway: (opts: GatewayOptions) => Promise<Gateway & { log: Captured }>
  temp: () => string
}

export function gatewayHarness(): GatewayHarness {
  const dirs: string[] = []
  const gateways: Gateway[] = []
  after(async () => {
    await Promise.all(gateways.map((g) => g.close({ force: true })))
    for (const d of dirs) removeDir(d)
  })
  return {
    async gateway(opts) {
      const log = captureLog()
      const g = await startGateway({ port: 0, host: '127.0.0.1', graceMs: 2000, log, ...opts })
      gateways.push(g)
      return Object.assign(g, { log })
    },
    temp() {
      const d = tempDir()
      dirs.push(d)
      return d
    },
  }
}
