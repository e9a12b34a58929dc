/**
 * The `assist serve` gateway (see gateway/server.ts). Other code — the development place, tests,
 * the nginx live test — runs a gateway in-process with `startGateway`.
 */
export { type AppListing, listApps, resolveApp } from './gateway/apps.js'
export { createLog, type GatewayLog, type LogFormat, silentLog } from './gateway/log.js'
export type { InstanceView, Limits } from './gateway/registry.js'
export {
  type CloseOptions,
  type Gateway,
  type GatewayMode,
  type GatewayOptions,
  type GatewayTimeouts,
  startGateway,
} from './gateway/server.js'
export { HttpError } from './gateway/validate.js'
