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
  parentOf,
  type SelfInfo,
  type ServerMessage,
  type Vec3,
  type ViewAgent,
  type ViewEntity,
} from '../core/view/protocol.js'
import { LocalAnimations } from './animate.js'
import { SceneView } from './scene.js'

interface PageState {
  connected: boolean
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

const state: PageState = {
  connected: false,
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
    ws.onmessage = (ev) => onMessage(JSON.parse(String(ev.data)) as ServerMessage)
    ws.onclose = () => {
      if (socket !== ws) return
      setStatus('closed')
      connect(Math.min(5000, delay * 2 || 500))
    }
  }, delay)
}

function setStatus(s: 'connecting' | 'open' | 'closed'): void {
  state.connected = s === 'open'
  const el = $('status')
  el.className = `status ${s}`
  el.textContent = s === 'open' ? 'live' : s === 'closed' ? 'disconnected: retrying…' : 'connecting…'
}

function onMessage(msg: ServerMessage): void {
  state.messages++
  switch (msg.type) {
    case 'snapshot': {
      const removed = [...entities.keys()]
      entities.clear()
      for (const e of msg.entities) entities.set(e.id, e)
      agents = msg.agents
      self = msg.self
      view.setOwnHand(self.handId)
      log = msg.log.slice()
      state.placeName = msg.placeName
      $('place-name').textContent = msg.placeName
      view.apply(
        msg.entities,
        removed.filter((id) => !entities.has(id)),
      )
      animations.track(msg.entities, removed, performance.now())
      break
    }
    case 'entities':
      for (const id of msg.removed) entities.delete(id)
      for (const e of msg.changed) entities.set(e.id, e)
      view.apply(msg.changed, msg.removed)
      animations.track(msg.changed, msg.removed, performance.now())
      break
    case 'agents':
      agents = msg.agents
      self = msg.self
      view.setOwnHand(self.handId)
      break
    case 'interaction':
      log.push(msg.entry)
      if (log.length > 500) log.splice(0, log.length - 500)
      break
    case 'notice':
      toast(msg.message)
      return
  }
  if (selected && !entities.has(selected)) select(null)
  scheduleRender()
}

// ---- panels -----------------------------------------------------------------------------------

let renderQueued = false
function scheduleRender(): void {
  if (renderQueued) return
  renderQueued = true
  queueMicrotask(() => {
    renderQueued = false
    renderPanels()
  })
}

function renderPanels(): void {
  renderTree()
  renderInspector()
  renderAgents()
  renderLog()
  state.entities = [...entities.keys()]
  state.rendered = view.kinds()
  state.selected = selected
  state.agents = agents
  state.self = self
  state.log = log.slice()
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
    const p = parentOf(e.components)
    const key = p !== null && entities.has(p) ? p : null
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
      ` · owned by ${e.owner ?? (e.id === 'place' ? 'the place' : 'unknown')}`,
    ),
  )
  if (hasCollider(e.components)) {
    const poke = el('button', { type: 'button', id: 'poke', textContent: 'Poke' })
    poke.title = 'Send point, poke true, poke false from the hand, as a visor does'
    poke.addEventListener('click', () => {
      act({ type: 'poke', entityId: e.id })
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
    const d = p.hit.direction
    const to = p.hit.point
    const from: Vec3 = [to[0] - d[0] * 0.4, to[1] - d[1] * 0.4, to[2] - d[2] * 0.4]
    act({ type: 'poke', entityId: target, from, to })
    toast(`poked ${target}`)
  }
})

$('frame').addEventListener('click', () => view.frameAll())

connect()
