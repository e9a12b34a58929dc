/**
 * The place's asset relay (channel 3), after allonet's server: a request for an asset the place
 * does not have is sent to every other agent; the first source to deliver it completely wins, the
 * bytes are cached for the place's lifetime, and every waiting requester gets the range it asked for.
 */
import {
  ASSET_CHUNK,
  ASSET_DATA,
  ASSET_FAILURE,
  ASSET_REQUEST,
  type AssetMessage,
  decodeAsset,
  encodeAsset,
  parseRange,
} from './asset-wire.js'

export interface AssetPeer {
  readonly id: string
}

export interface AssetRelayOptions<P extends AssetPeer> {
  send(peer: P, message: Buffer): void
  /**
   * Agents to ask for an asset the place does not have (never the requester). `publishedBy` is the
   * request's optional `published_by` entity id.
   */
  sourcesFor(requester: P, assetId: string, publishedBy?: string): P[]
  warn(peer: P, message: string): void
  /** Largest asset the relay fetches (bytes). */
  maxAssetBytes?: number
  /** Total bytes the cache may hold. */
  maxCacheBytes?: number
  /** Give up on a fetch after this long without progress (ms). */
  fetchTimeoutMs?: number
}

interface Fetch<P> {
  id: string
  requesters: Array<{ peer: P; range: [number, number] }>
  sources: Map<string, P>
  buffer?: Buffer
  total?: number
  received: number
  source?: string
  timer?: NodeJS.Timeout
}

export class AssetRelay<P extends AssetPeer> {
  private cache = new Map<string, Buffer>()
  private cacheBytes = 0
  private fetches = new Map<string, Fetch<P>>()
  private readonly maxAsset: number
  private readonly maxCache: number
  private readonly timeoutMs: number

  constructor(private readonly opts: AssetRelayOptions<P>) {
    this.maxAsset = opts.maxAssetBytes ?? 32 * 1024 * 1024
    this.maxCache = opts.maxCacheBytes ?? 256 * 1024 * 1024
    this.timeoutMs = opts.fetchTimeoutMs ?? 30_000
  }

  /** Ids of the assets the place has cached. */
  cachedIds(): string[] {
    return [...this.cache.keys()]
  }

  handle(from: P, data: Buffer): void {
    const msg = decodeAsset(data)
    if (typeof msg === 'string') {
      this.opts.warn(from, `dropped a malformed asset message: ${msg}`)
      return
    }
    if (msg.mid === ASSET_REQUEST) this.onRequest(from, msg)
    else if (msg.mid === ASSET_DATA) this.onData(from, msg)
    else if (msg.mid === ASSET_FAILURE) this.onFailure(from, msg)
    else this.opts.warn(from, `dropped an asset message with unknown mid ${msg.mid}`)
  }

  private fail(peer: P, id: string, reason: string, code: number): void {
    this.opts.send(peer, encodeAsset(ASSET_FAILURE, { id, error_reason: reason, error_code: code }))
  }

  private answer(peer: P, id: string, bytes: Buffer, range: [number, number]): void {
    const [offset, wanted] = range
    if (offset >= bytes.length && bytes.length > 0) {
      this.fail(peer, id, 'Requested range is past the end of the asset', 1)
      return
    }
    const length = Math.min(wanted, ASSET_CHUNK, bytes.length - offset)
    this.opts.send(
      peer,
      encodeAsset(
        ASSET_DATA,
        { id, range: [offset, length], total_length: bytes.length },
        bytes.subarray(offset, offset + length),
      ),
    )
  }

  private onRequest(from: P, msg: AssetMessage): void {
    const id = msg.header.id
    const range = msg.header.range === undefined ? [0, ASSET_CHUNK] : parseRange(msg.header.range)
    if (typeof id !== 'string' || id === '' || !range) {
      this.opts.warn(from, 'answered a malformed asset request (no id or bad range) with an error')
      this.fail(from, typeof id === 'string' ? id : '', 'Malformed request', 2)
      return
    }
    const cached = this.cache.get(id)
    if (cached) {
      this.answer(from, id, cached, range as [number, number])
      return
    }
    const existing = this.fetches.get(id)
    if (existing) {
      existing.requesters.push({ peer: from, range: range as [number, number] })
      return
    }
    const publishedBy = typeof msg.header.published_by === 'string' ? msg.header.published_by : undefined
    const sources = this.opts.sourcesFor(from, id, publishedBy)
    if (sources.length === 0) {
      this.fail(from, id, 'Server could not find asset', 1)
      return
    }
    const fetch: Fetch<P> = {
      id,
      requesters: [{ peer: from, range: range as [number, number] }],
      sources: new Map(sources.map((s) => [s.id, s])),
      received: 0,
    }
    this.fetches.set(id, fetch)
    this.arm(fetch)
    const request = encodeAsset(ASSET_REQUEST, { id, range: [0, ASSET_CHUNK] })
    for (const s of sources) this.opts.send(s, request)
  }

  private arm(fetch: Fetch<P>): void {
    clearTimeout(fetch.timer)
    fetch.timer = setTimeout(() => this.giveUp(fetch, 'Server could not find asset'), this.timeoutMs)
    fetch.timer.unref?.()
  }

  private giveUp(fetch: Fetch<P>, reason: string): void {
    clearTimeout(fetch.timer)
    this.fetches.delete(fetch.id)
    for (const r of fetch.requesters) this.fail(r.peer, fetch.id, reason, 1)
  }

  private onData(from: P, msg: AssetMessage): void {
    const id = msg.header.id
    const fetch = typeof id === 'string' ? this.fetches.get(id) : undefined
    if (!fetch?.sources.has(from.id)) return // nobody asked this agent for it: ignore
    if (fetch.source !== undefined && fetch.source !== from.id) return // another source was first
    const range = parseRange(msg.header.range)
    const total = msg.header.total_length
    if (!range || !Number.isSafeInteger(total) || (total as number) < 0) {
      this.opts.warn(
        from,
        `sent asset data for ${id} with a bad range or total_length; ignored it as a source`,
      )
      this.strike(fetch, from)
      return
    }
    const [offset, length] = range
    if (
      length !== msg.data.length ||
      offset + length > (total as number) ||
      (total as number) > this.maxAsset
    ) {
      this.opts.warn(from, `sent asset data for ${id} that does not match its header (or is too large)`)
      this.strike(fetch, from)
      return
    }
    if (fetch.total !== undefined && fetch.total !== total) {
      this.opts.warn(from, `changed the total length of asset ${id} mid-transfer`)
      this.strike(fetch, from)
      return
    }
    if (offset !== fetch.received) return // not the chunk we asked for next
    fetch.source = from.id
    fetch.total = total as number
    fetch.buffer ??= Buffer.alloc(fetch.total)
    msg.data.copy(fetch.buffer, offset)
    fetch.received = offset + length
    if (fetch.received < fetch.total) {
      if (length === 0) {
        this.strike(fetch, from)
        return
      }
      this.arm(fetch)
      const next = Math.min(ASSET_CHUNK, fetch.total - fetch.received)
      this.opts.send(from, encodeAsset(ASSET_REQUEST, { id: fetch.id, range: [fetch.received, next] }))
      return
    }
    clearTimeout(fetch.timer)
    this.fetches.delete(fetch.id)
    this.store(fetch.id, fetch.buffer)
    for (const r of fetch.requesters) this.answer(r.peer, fetch.id, fetch.buffer, r.range)
  }

  private store(id: string, bytes: Buffer): void {
    if (bytes.length > this.maxCache) return
    while (this.cacheBytes + bytes.length > this.maxCache && this.cache.size > 0) {
      const [oldest, old] = this.cache.entries().next().value as [string, Buffer]
      this.cache.delete(oldest)
      this.cacheBytes -= old.length
    }
    this.cache.set(id, bytes)
    this.cacheBytes += bytes.length
  }

  private onFailure(from: P, msg: AssetMessage): void {
    const id = msg.header.id
    const fetch = typeof id === 'string' ? this.fetches.get(id) : undefined
    if (fetch?.sources.has(from.id)) this.strike(fetch, from)
  }

  private strike(fetch: Fetch<P>, source: AssetPeer): void {
    fetch.sources.delete(source.id)
    if (fetch.source === source.id) {
      // The source we were reading from is out: start over with whoever is left.
      fetch.source = undefined
      fetch.received = 0
      fetch.buffer = undefined
      fetch.total = undefined
      if (fetch.sources.size > 0) {
        // Ask whoever is left again, from the beginning.
        this.arm(fetch)
        const request = encodeAsset(ASSET_REQUEST, { id: fetch.id, range: [0, ASSET_CHUNK] })
        for (const s of fetch.sources.values()) this.opts.send(s, request)
        return
      }
    }
    if (fetch.sources.size === 0) this.giveUp(fetch, 'Server could not find asset')
  }

  /** An agent left: it is no source any more, and its own requests are dropped. */
  forget(peer: P): void {
    for (const fetch of [...this.fetches.values()]) {
      fetch.requesters = fetch.requesters.filter((r) => r.peer.id !== peer.id)
      if (fetch.requesters.length === 0) {
        clearTimeout(fetch.timer)
        this.fetches.delete(fetch.id)
        continue
      }
      if (fetch.sources.has(peer.id)) this.strike(fetch, peer)
    }
  }

  close(): void {
    for (const f of this.fetches.values()) clearTimeout(f.timer)
    this.fetches.clear()
  }
}
