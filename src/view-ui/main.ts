/**
 * The development place's web view: a live 3D view of the world, the entity tree, an inspector,
 * the agents and the interactions, fed by the view server's WebSocket. The page acts as a user
 * through the server's agent: clicking an entity with a collider pokes it like a visor's hand,
 * dragging a grabbable entity grabs and moves it.
 */
import {
  type ClientMessage,
  hasCollider,
  type InteractionEntry,
  isObject,
  type PlaceStatus,
  parentOf,
  type SelfInfo,
  type ServerMessage,
  type SourceInfo,
  treeParents,
  type Vec3,
  type ViewAgent,
  type ViewEntity,
} from '../core/view/protocol.js'
import { LocalAnimations } from './animate.js'
import { SceneView } from './scene.js'

interface PageState {
  connected: boolean
  /** The view server's link to the place (remote places: connecting / reconnecting). */
  placeStatus: PlaceStatus['state']
  /** What the status badge says. */
  statusText: string
  /** Where the world comes from. */
  source: SourceInfo | null
  placeName: string
  /** Ids of the entities in the tree. */
  entities: string[]
  /** Ids with a 3D object, and what each one draws. */
  rendered: Record<string, string>
  selected: string | null
  agents: ViewAgent[]
  self: SelfInfo
  log: InteractionEntry[]
  /** Messages received from the server (snapshot, deltas, …). */
  messages: number
  /** Actions sent by the page, in order. */
  actions: ClientMessage[]
  assetsLoaded: string[]
  assetErrors: Record<string, string>
  frames: number
  /** The local matrix the 3D view draws an entity with (animations applied), for tests. */
  drawnMatrix(id: string): number[] | null
  /** Where the viewer's eyes (the camera) are, world coordinates. */
  viewer(): Vec3
  /** The place's time as the page estimates it (seconds), null before the first clock. */
  placeTime(): number | null
  /** Entities with property animations, run by the page every frame. */
  animating: number
  /** Canvas pixel position of an entity's collider centre (for tests). */
  screenPointOf(id: string): { x: number; y: number } | null
  /** The entity as the page has it. */
  entity(id: string): ViewEntity | null
  /** The meshes the 3D view draws for an entity (vertex and index counts, colour). */
  meshesOf(id: string): Array<{ vertices: number; indices: number; color: string }>
}

declare global {
  interface Window {
    __assistView: PageState
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const canvas = $<HTMLCanvasElement>('scene')
const view = new SceneView(canvas)

const entities = new Map<string, ViewEntity>()
const animations = new LocalAnimations()
view.beforeFrame = () =>
  animations.frame(
    (id) => entities.get(id),
    performance.now(),
    (id, m) => view.setLocalMatrix(id, m),
  )
view.skipFraming = (id) => self.agentId !== null && entities.get(id)?.ownerId === self.agentId
let agents: ViewAgent[] = []
let self: SelfInfo = { agentId: null, avatarId: null, handId: null }
let log: InteractionEntry[] = []
let selected: string | null = null
let socket: WebSocket | null = null
let wsState: 'connecting' | 'open' | 'closed' = 'connecting'
let placeStatus: PlaceStatus = { state: 'connecting' }

const state: PageState = {
  connected: false,
  placeStatus: 'connecting',
  statusText: '',
  source: null,
  placeName: '',
  entities: [],
  rendered: {},
  selected: null,
  agents: [],
  self,
  log: [],
  messages: 0,
  actions: [],
  get assetsLoaded() {
    return [...view.assetsLoaded]
  },
  get assetErrors() {
    return Object.fromEntries(view.assetErrors)
  },
  get frames() {
    return view.frames
  },
  drawnMatrix: (id: string) => view.localMatrixOf(id),
  viewer: () => view.viewer(),
  placeTime: () => animations.clock.now(performance.now()),
  get animating() {
    return animations.count
  },
  entity(id: string) {
    return entities.get(id) ?? null
  },
  meshesOf(id: string) {
    return view.meshesOf(id)
  },
  screenPointOf(id: string) {
    const p = view.centreOf(id)
    if (!p) return null
    const r = canvas.getBoundingClientRect()
    const s = view.toScreen(p)
    return { x: r.left + s.x, y: r.top + s.y }
  },
}
window.__assistView = state

function act(msg: ClientMessage): void {
  state.actions.push(msg)
  if (state.actions.length > 1000) state.actions.splice(0, state.actions.length - 1000)
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg))
}

function toast(text: string): void {
  const el = $('toast')
  el.textContent = text
  el.hidden = false
  clearTimeout((toast as unknown as { t?: number }).t)
  ;(toast as unknown as { t?: number }).t = window.setTimeout(() => {
    el.hidden = true
  }, 2500)
}

// ---- connection -------------------------------------------------------------------------------

function connect(delay = 0): void {
  setTimeout(() => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)
    socket = ws
    setStatus('connecting')
    ws.onopen = () => setStatus('open')
    ws.onmessage = (ev) => {
      let msg: ServerMessage
      try {
        msg = JSON.parse(String(ev.data)) as ServerMessage
      } catch {
        return
      }
      enqueue(msg)
    }
    ws.onclose = () => {
      if (socket !== ws) return
      setStatus('closed')
      connect(Math.min(5000, delay * 2 || 500))
    }
  }, delay)
}

function setStatus(s: 'connecting' | 'open' | 'closed'): void {
  wsState = s
  showStatus()
}

/** The badge: the page's link to the view server first, then the view's link to the place. */
function showStatus(): void {
  const live = wsState === 'open' && placeStatus.state === 'live'
  state.connected = wsState === 'open'
  state.placeStatus = placeStatus.state
  const el = $('status')
  let cls: string
  let text: string
  if (wsState === 'closed') [cls, text] = ['closed', 'disconnected: retrying…']
  else if (wsState === 'connecting') [cls, text] = ['connecting', 'connecting…']
  else if (live) [cls, text] = ['open', 'live']
  else if (placeStatus.state === 'reconnecting') [cls, text] = ['closed', 'reconnecting to the place…']
  else [cls, text] = ['connecting', 'connecting to the place…']
  el.className = `status ${cls}`
  el.textContent = text
  el.title = placeStatus.detail ?? ''
  state.statusText = text
  document.body.classList.toggle('stale', wsState === 'open' && !live)
}

function setPlaceName(name: string): void {
  state.placeName = name
  $('place-name').textContent = name
  document.title = `${name} · allo-assist`
}

/**
 * Messages are applied once per animation frame: entity changes that arrive between two frames
 * are merged (the latest version of each entity wins), so a busy place costs one scene update
 * and one panel render per frame, however many messages it sends.
 */
let inbox: ServerMessage[] = []
let frameQueued = false
function enqueue(msg: ServerMessage): void {
  inbox.push(msg)
  if (frameQueued) return
  frameQueued = true
  // A hidden tab gets no animation frames: the timer keeps the inbox from growing meanwhile.
  const run = () => {
    cancelAnimationFrame(raf)
    clearTimeout(timer)
    if (frameQueued) drain()
  }
  const raf = requestAnimationFrame(run)
  const timer = setTimeout(run, 250)
}

function drain(): void {
  frameQueued = false
  const batch = inbox
  inbox = []
  let changed = new Map<string, ViewEntity>()
  let removed = new Set<string>()
  const applyEntities = () => {
    if (changed.size === 0 && removed.size === 0) return
    const list = [...changed.values()]
    view.apply(list, [...removed])
    animations.track(list, removed, performance.now())
    changed = new Map()
    removed = new Set()
  }
  for (const msg of batch) {
    state.messages++
    switch (msg.type) {
      case 'snapshot': {
        applyEntities()
        const gone = [...entities.keys()]
        entities.clear()
        for (const e of msg.entities) entities.set(e.id, e)
        agents = msg.agents
        self = msg.self
        view.setOwnHand(self.handId)
        log = msg.log.slice()
        state.source = msg.source
        $('source-note').hidden = msg.source.kind !== 'remote'
        placeStatus = msg.status
        showStatus()
        setPlaceName(msg.placeName)
        const removedNow = gone.filter((id) => !entities.has(id))
        view.apply(msg.entities, removedNow)
        animations.track(msg.entities, removedNow, performance.now())
        treeKey = ''
        break
      }
      case 'entities':
        for (const id of msg.removed) {
          entities.delete(id)
          changed.delete(id)
          removed.add(id)
        }
        for (const e of msg.changed) {
          entities.set(e.id, e)
          changed.set(e.id, e)
          removed.delete(e.id)
        }
        break
      case 'agents':
        agents = msg.agents
        self = msg.self
        view.setOwnHand(self.handId)
        break
      case 'interactions':
        log.push(...msg.entries)
        if (log.length > 500) log.splice(0, log.length - 500)
        break
      case 'status':
        placeStatus = msg.status
        showStatus()
        setPlaceName(msg.placeName)
        break
      case 'notice':
        toast(msg.message)
        break
    }
  }
  applyEntities()
  if (selected && !entities.has(selected)) select(null)
  renderPanels()
}

// ---- panels -----------------------------------------------------------------------------------

/** After a user's action (a selection): the panels follow at once, not at the next frame. */
let renderQueued = false
function scheduleRender(): void {
  if (renderQueued) return
  renderQueued = true
  queueMicrotask(() => {
    renderQueued = false
    renderPanels()
  })
}

/** What the tree shows (ids, parents, owners, component names): it is rebuilt only when this changes. */
let treeKey = ''
let inspectedShown: ViewEntity | null = null
let inspectedId: string | null = null
let agentsShown: ViewAgent[] | null = null
let logShown: InteractionEntry[] = []
let parents = new Map<string, string | null>()

function renderPanels(): void {
  parents = treeParents(entities)
  const key = treeSignature()
  if (key !== treeKey) {
    treeKey = key
    renderTree()
  }
  const inspected = selected ? (entities.get(selected) ?? null) : null
  if (inspected !== inspectedShown || selected !== inspectedId) {
    inspectedShown = inspected
    inspectedId = selected
    renderInspector()
  }
  if (agents !== agentsShown) {
    agentsShown = agents
    renderAgents()
  }
  if (log.length !== logShown.length || log.at(-1) !== logShown.at(-1)) scheduleLog()
  state.entities = [...entities.keys()]
  state.rendered = view.kinds()
  state.selected = selected
  state.agents = agents
  state.self = self
}

/** The log list is rebuilt at most 4 times a second: a busy place logs thousands of interactions. */
let logTimer: number | null = null
let logRenderedAt = 0
function scheduleLog(): void {
  if (logTimer !== null) return
  logTimer = window.setTimeout(
    () => {
      logTimer = null
      logRenderedAt = performance.now()
      logShown = log.slice()
      renderLog()
      state.log = logShown
    },
    Math.max(0, logRenderedAt + 250 - performance.now()),
  )
}

function treeSignature(): string {
  const parts: string[] = [selected ?? '']
  for (const e of entities.values()) {
    parts.push(e.id, parents.get(e.id) ?? '', e.owner ?? '', Object.keys(e.components).join(' '))
  }
  return parts.join('\u0000')
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  const { dataset, ...rest } = props
  Object.assign(node, rest)
  if (dataset) Object.assign(node.dataset, dataset)
  node.append(...children)
  return node
}

function renderTree(): void {
  const children = new Map<string | null, ViewEntity[]>()
  for (const e of entities.values()) {
    const key = parents.get(e.id) ?? null
    const list = children.get(key) ?? []
    list.push(e)
    children.set(key, list)
  }
  const build = (parent: string | null, seen: Set<string>): HTMLUListElement => {
    const ul = el('ul')
    const list = (children.get(parent) ?? []).sort((a, b) =>
      a.id === 'place'
        ? -1
        : b.id === 'place'
          ? 1
          : (a.owner ?? '').localeCompare(b.owner ?? '') || a.id.localeCompare(b.id),
    )
    for (const e of list) {
      if (seen.has(e.id)) continue
      seen.add(e.id)
      const names = Object.keys(e.components).filter((n) => n !== 'relationships' && n !== 'transform')
      const row = el(
        'div',
        { className: `row${e.id === selected ? ' selected' : ''}`, dataset: { entityId: e.id } },
        el('span', { className: 'id' }, e.id),
        el('span', { className: 'owner' }, e.owner ?? (e.id === 'place' ? 'place' : '')),
        el('span', { className: 'comps' }, names.join(' ')),
      )
      row.addEventListener('click', () => select(e.id))
      const li = el('li', {}, row)
      if (children.has(e.id)) li.append(build(e.id, seen))
      ul.append(li)
    }
    return ul
  }
  const tree = build(null, new Set())
  tree.id = 'tree'
  tree.className = 'tree'
  $('tree').replaceWith(tree)
  $('entity-count').textContent = `(${entities.size})`
}

function renderInspector(): void {
  const box = $('inspector')
  box.replaceChildren()
  const e = selected ? entities.get(selected) : undefined
  if (!e) {
    box.append(el('p', { className: 'muted' }, 'Select an entity in the tree or the 3D view.'))
    return
  }
  box.append(
    el(
      'p',
      {},
      el('span', { className: 'id' }, e.id),
      state.source?.kind === 'remote'
        ? e.ownerId
          ? ` · in the tree of ${e.ownerId === e.id ? 'itself' : e.ownerId} (${e.owner ?? 'unknown'})`
          : ' · the place'
        : ` · owned by ${e.owner ?? (e.id === 'place' ? 'the place' : 'unknown')}`,
    ),
  )
  if (hasCollider(e.components)) {
    const poke = el('button', { type: 'button', id: 'poke', textContent: 'Poke' })
    poke.title = 'Send point, poke true, poke false, point-exit from the hand, as a visor does'
    poke.addEventListener('click', () => {
      act({ type: 'poke', entityId: e.id, viewer: view.viewer() })
      toast(`poked ${e.id}`)
    })
    box.append(poke)
  }
  box.append(el('pre', { id: 'components' }, formatJson(e.components)))
}

/** Pretty JSON with arrays of plain values kept on one line (matrices, vertices, colours). */
export function formatJson(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (
      value.every(
        (v) =>
          v === null || typeof v !== 'object' || (Array.isArray(v) && v.every((x) => typeof x !== 'object')),
      )
    )
      return JSON.stringify(value).replace(/,/g, ', ')
    const inner = `${indent}  `
    return `[\n${value.map((v) => inner + formatJson(v, inner)).join(',\n')}\n${indent}]`
  }
  if (isObject(value)) {
    const keys = Object.keys(value)
    if (keys.length === 0) return '{}'
    const inner = `${indent}  `
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${formatJson(value[k], inner)}`).join(',\n')}\n${indent}}`
  }
  return JSON.stringify(value) ?? 'null'
}

function renderAgents(): void {
  const ul = $('agents')
  ul.replaceChildren(
    ...agents.map((a) =>
      el(
        'li',
        { className: a.self ? 'you' : '', dataset: { agentId: a.id } },
        `${a.name}${a.self ? ' (this page)' : ''} · ${a.id}${a.avatarId ? ` · avatar ${a.avatarId}` : ''}`,
      ),
    ),
  )
  $('agent-count').textContent = `(${agents.length})`
}

const nameOf = (id: string, agent: string | null) => (agent ? `${agent}:${id}` : id || '""')

function renderLog(): void {
  const ol = $('log')
  const items = log.slice(-200).reverse()
  ol.replaceChildren(
    ...items.map((x) =>
      el(
        'li',
        { className: x.type === 'request' ? 'req' : '' },
        el('span', { className: 't' }, new Date(x.at).toLocaleTimeString()),
        ` ${x.type} ${nameOf(x.from, x.fromAgent)} → ${nameOf(x.to, x.toAgent)} ${JSON.stringify(x.body)}`,
      ),
    ),
  )
}

function select(id: string | null): void {
  selected = id
  view.select(id)
  scheduleRender()
}

// ---- 3D input: click to select + poke, drag a grabbable -----------------------------------------

function pokeTarget(id: string): string | null {
  let cur: string | null = id
  const seen = new Set<string>()
  while (cur && !seen.has(cur)) {
    seen.add(cur)
    const e = entities.get(cur)
    if (!e) return null
    if (hasCollider(e.components)) return cur
    cur = parentOf(e.components)
  }
  return null
}

function isGrabbable(id: string): boolean {
  const g = entities.get(id)?.components.grabbable
  return isObject(g) && g.grabbable !== false
}

const translation = (p: Vec3) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, p[0], p[1], p[2], 1]

let press: { x: number; y: number; hit: ReturnType<SceneView['pick']>; dragging: boolean } | null = null

canvas.addEventListener('pointerdown', (ev) => {
  if (ev.button !== 0) return
  const r = canvas.getBoundingClientRect()
  const hit = view.pick(ev.clientX - r.left, ev.clientY - r.top)
  press = { x: ev.clientX, y: ev.clientY, hit, dragging: false }
  // Dragging a grabbable entity moves it instead of orbiting the camera.
  if (hit && isGrabbable(hit.entityId)) {
    view.controls.enabled = false
    canvas.setPointerCapture(ev.pointerId)
  }
})

canvas.addEventListener('pointermove', (ev) => {
  if (!press?.hit || !isGrabbable(press.hit.entityId)) return
  const moved = Math.hypot(ev.clientX - press.x, ev.clientY - press.y)
  if (!press.dragging && moved < 5) return
  const r = canvas.getBoundingClientRect()
  const p = view.dragPoint(ev.clientX - r.left, ev.clientY - r.top, press.hit.point)
  if (!press.dragging) {
    press.dragging = true
    act({ type: 'grab', entityId: press.hit.entityId, hand: translation(press.hit.point) })
  }
  act({ type: 'grab-move', hand: translation(p) })
})

canvas.addEventListener('pointerup', (ev) => {
  if (ev.button !== 0 || !press) return
  const p = press
  press = null
  view.controls.enabled = true
  if (p.dragging) {
    act({ type: 'release' })
    return
  }
  if (Math.hypot(ev.clientX - p.x, ev.clientY - p.y) >= 5) return
  if (!p.hit) {
    select(null)
    return
  }
  // Select what a hand would press (the nearest entity with a collider), else what was hit.
  const target = pokeTarget(p.hit.entityId)
  select(target ?? p.hit.entityId)
  if (target) {
    // The hand goes where a visor user's would be: at arm's length from the eyes, toward the hit.
    act({ type: 'poke', entityId: target, to: p.hit.point, viewer: view.viewer() })
    toast(`poked ${target}`)
  }
})

$('frame').addEventListener('click', () => view.frameAll())

connect()
