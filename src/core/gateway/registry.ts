/**
 * The gateway's instance registry: every running instance, plus slots reserved by launches that
 * are still starting, so limits hold under concurrent requests.
 */
import { randomUUID } from 'node:crypto'
import type { Instance } from '../launcher.js'
import { HttpError } from './validate.js'

export interface Limits {
  /** Most instances at once (0: no limit). */
  maxInstances: number
  /** Most instances per place (0: no limit). */
  maxPerPlace: number
}

export interface InstanceRecord {
  id: string
  /** Log tag, e.g. `allo-clock#3`. */
  tag: string
  app: string
  place: string
  /** The place as counted for --max-per-place. */
  placeKey: string
  displayName?: string
  pid: number
  startedAt: Date
  instance: Instance
}

/** What `GET /instances` shows for one instance. */
export interface InstanceView {
  id: string
  app: string
  place: string
  display_name: string | null
  pid: number
  started_at: string
  uptime_s: number
}

export interface Reservation {
  place: string
  /** The place as counted for --max-per-place (see placeKey). */
  key: string
  released: boolean
}

/**
 * The place a launch counts against: `alloplace://H.Example.:21337` and `alloplace://h.example:21337`
 * are one place (host names are case-insensitive, and a trailing dot names the same host). Pure.
 */
export function placeKey(href: string): string {
  const m = /^alloplace:\/\/(\[[^\]]*\]|[^:]*)(:\d+)?$/i.exec(href)
  if (!m) return href
  let host = m[1].toLowerCase()
  if (host.startsWith('[')) {
    try {
      host = new URL(`http://${host}/`).hostname // canonical IPv6 (::1 for 0:0::1)
    } catch {}
  } else host = host.replace(/\.+$/, '')
  return `alloplace://${host}${m[2] ?? ''}`
}

export class Registry {
  private readonly records = new Map<string, InstanceRecord>()
  private readonly perPlace = new Map<string, number>()
  private pending = 0
  private seq = 0

  constructor(private readonly limits: Limits) {}

  get size(): number {
    return this.records.size
  }

  get starting(): number {
    return this.pending
  }

  /** Claims a slot for a launch to `place`, or throws 503 (gateway full) / 429 (place full). */
  reserve(place: string): Reservation {
    const { maxInstances, maxPerPlace } = this.limits
    if (maxInstances > 0 && this.records.size + this.pending >= maxInstances) {
      throw new HttpError(503, 'This app server is at capacity right now; try again in a minute.', {
        'Retry-After': '30',
      })
    }
    const key = placeKey(place)
    const here = this.perPlace.get(key) ?? 0
    if (maxPerPlace > 0 && here >= maxPerPlace) {
      throw new HttpError(429, `This place already runs ${here} apps from this server; close one first.`, {
        'Retry-After': '30',
      })
    }
    this.pending++
    this.perPlace.set(key, here + 1)
    return { place, key, released: false }
  }

  /** Gives back a slot whose launch failed. */
  release(r: Reservation): void {
    if (r.released) return
    r.released = true
    this.pending--
    this.dropPlace(r.key)
  }

  /** Turns a reservation into a tracked instance; returns its record. */
  add(
    r: Reservation,
    fields: Omit<InstanceRecord, 'id' | 'tag' | 'pid' | 'startedAt' | 'place' | 'placeKey'>,
  ): InstanceRecord {
    if (r.released) throw new Error('reservation already released')
    r.released = true
    this.pending--
    let id: string
    do id = randomUUID().replaceAll('-', '').slice(0, 12)
    while (this.records.has(id))
    this.seq++
    const record: InstanceRecord = {
      ...fields,
      id,
      tag: `${fields.app}#${this.seq}`,
      place: r.place,
      placeKey: r.key,
      pid: fields.instance.pid,
      startedAt: fields.instance.startedAt,
    }
    this.records.set(id, record)
    return record
  }

  /** Forgets an instance (it has exited). */
  remove(id: string): void {
    const record = this.records.get(id)
    if (!record) return
    this.records.delete(id)
    this.dropPlace(record.placeKey)
  }

  get(id: string): InstanceRecord | undefined {
    return this.records.get(id)
  }

  list(): InstanceRecord[] {
    return [...this.records.values()]
  }

  view(now = Date.now()): InstanceView[] {
    return this.list().map((r) => ({
      id: r.id,
      app: r.app,
      place: r.place,
      display_name: r.displayName ?? null,
      pid: r.pid,
      started_at: r.startedAt.toISOString(),
      uptime_s: Math.round((now - r.startedAt.getTime()) / 100) / 10,
    }))
  }

  private dropPlace(place: string): void {
    const n = (this.perPlace.get(place) ?? 1) - 1
    if (n <= 0) this.perPlace.delete(place)
    else this.perPlace.set(place, n)
  }
}
