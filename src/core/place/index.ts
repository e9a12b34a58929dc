export {
  AlloClient,
  type AnnounceOptions,
  assetIdOf,
  type ClientOptions,
  type ClientState,
  type Interaction,
} from './client.js'
export { cjsonNumber, cjsonPrint } from './json.js'
export {
  type AgentEvent,
  type AgentInfo,
  DEFAULT_PLACE_NAME,
  type EntitySnapshot,
  type InteractionEvent,
  type LaunchEvent,
  Place,
  type PlaceLog,
  type PlaceOptions,
  type RevisionEvent,
  type WorldSnapshot,
} from './place.js'
export { CHANNEL, type Transport } from './transport.js'
