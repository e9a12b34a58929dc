/**
 * A view fed by a recorded world instead of a live place: for rendering the documentation
 * screenshot and for looking at a saved state. Its hand sends nowhere; it keeps what it would
 * have sent, and serves assets from a fixed set of bytes.
 */
import { createHash } from 'node:crypto'
import type { Components, InteractionEntry, Mat4, SelfInfo, ViewEntity } from './protocol.js'
import type { GrabPose, ViewHand, WorldListener, WorldSource } from './server.js'
import { type ViewWorld, worldFromState } from './world.js'

export class RecordedWorld implements WorldSource {
  readonly reportsInteractions = false
  private world: ViewWorld
  private listeners = new Set<WorldListener>()

  constructor(state: unknown, opts: { placeName?: string; agentNames?: Record<string, string> } = {}) {
    this.world = worldFromState(state, opts)
  }

  current(): ViewWorld {
    return this.world
  }

  subscribe(listener: WorldListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Adds or replaces an entity (as a place would after spawn_entity / change_components). */
  set(id: string, components: Components, owner: string | null = null): void {
    this.world.entities.set(id, { id, components, owner, ownerId: owner === null ? null : `agent-${owner}` })
    this.changed()
  }

  remove(id: string): void {
    this.world.entities.delete(id)
    this.changed()
  }

  private changed(): void {
    for (const l of this.listeners) l.onChange()
  }

  emitInteraction(entry: InteractionEntry): void {
    for (const l of this.listeners) l.onInteraction(entry)
  }

  entity(id: string): ViewEntity | undefined {
    return this.world.entities.get(id)
  }
}

export interface SentInteraction {
  type: 'oneway' | 'request'
  receiver: string
  body: unknown[]
}

export class RecordingHand implements ViewHand {
  readonly sent: SentInteraction[] = []
  readonly poses: Array<{ hand: Mat4 | null; grab: GrabPose | null }> = []
  private assets = new Map<string, Uint8Array>()

  constructor(assets: Iterable<Uint8Array> = []) {
    for (const bytes of assets) this.assets.set(assetIdOf(bytes), bytes)
  }

  self(): SelfInfo {
    return { agentId: null, avatarId: null, handId: 'view-hand' }
  }

  send(type: 'oneway' | 'request', receiver: string, body: unknown[]): void {
    this.sent.push({ type, receiver, body })
  }

  pose(hand: Mat4 | null, grab: GrabPose | null): void {
    this.poses.push({ hand, grab })
  }

  async fetchAsset(id: string): Promise<Uint8Array> {
    const bytes = this.assets.get(id)
    if (!bytes) throw new Error(`no source has ${id}`)
    return bytes
  }
}

/** `asset:sha256:<hex>` of some bytes: how allonet names assets. */
export function assetIdOf(bytes: Uint8Array): string {
  return `asset:sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/**
 * The asset bytes a recorded session carried (`traces/*.jsonl`, channel 3, mid 2 "data"
 * messages), so a recorded world can show its textures.
 */
export function assetsFromTrace(jsonl: string): Uint8Array[] {
  const out = new Map<string, Uint8Array>()
  for (const line of jsonl.split('\n')) {
    if (!line.includes('"asset"')) continue
    const cmd = JSON.parse(line) as {
      reassembled?: { hex?: string; asset?: { mid: number; header_len: number } }
      payload?: { hex?: string; asset?: { mid: number; header_len: number } }
    }
    const p = cmd.reassembled ?? cmd.payload
    if (!p?.hex || p.asset?.mid !== 2) continue
    const all = Buffer.from(p.hex, 'hex')
    const data = new Uint8Array(all.subarray(4 + p.asset.header_len))
    out.set(assetIdOf(data), data)
  }
  return [...out.values()]
}
