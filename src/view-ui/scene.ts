/** The 3D view: one three.js object per entity, parented like the entities, drawn from their components. */
import * as THREE from 'three'
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js'
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js'
import {
  type Components,
  isObject,
  localMatrix,
  parentOf,
  treeParents,
  type Vec3,
  type ViewEntity,
} from '../core/view/protocol.js'

export type ContentKind = 'inline' | 'asset' | 'hardcoded' | 'text' | 'hand' | 'none'

interface Node {
  id: string
  group: THREE.Group
  /** JSON of the components that shaped the content, to rebuild only when they change. */
  contentKey: string
  content: THREE.Object3D | null
  collider: THREE.Mesh | null
  kind: ContentKind
}

/** Inline meshes bigger than this are not drawn (a broken or hostile place could send any size). */
const MAX_VERTICES = 1_000_000
/** "Frame all" puts the camera at least this far from what it frames. */
const MIN_VIEWING_DISTANCE = 1.6
/** Text drawn: at most this many characters and lines. */
const MAX_TEXT = 4000
const MAX_LINES = 100

const num = (v: unknown, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v : d)

function colorOf(material: Record<string, unknown>): { color: THREE.Color; alpha: number } {
  const c = Array.isArray(material.color) ? material.color : [1, 1, 1, 1]
  const color = new THREE.Color().setRGB(num(c[0], 1), num(c[1], 1), num(c[2], 1), THREE.SRGBColorSpace)
  return { color, alpha: num(c[3], 1) }
}

function vec3s(v: unknown): number[][] | null {
  if (!Array.isArray(v)) return null
  return v.every((p) => Array.isArray(p) && p.every((n) => typeof n === 'number')) ? (v as number[][]) : null
}

/** BufferGeometry of an inline `geometry` component (vertices, uvs, normals, triangles). */
export function inlineGeometry(g: Record<string, unknown>): {
  geometry: THREE.BufferGeometry
  flat: boolean
} {
  const vertices = vec3s(g.vertices) ?? []
  const triangles = vec3s(g.triangles) ?? []
  const uvs = vec3s(g.uvs)
  const normals = vec3s(g.normals)
  const geometry = new THREE.BufferGeometry()
  geometry.setAttribute(
    'position',
    new THREE.Float32BufferAttribute(vertices.flat().slice(0, vertices.length * 3), 3),
  )
  if (uvs && uvs.length === vertices.length) {
    geometry.setAttribute(
      'uv',
      new THREE.Float32BufferAttribute(
        uvs.flatMap((u) => [u[0] ?? 0, u[1] ?? 0]),
        2,
      ),
    )
  }
  const index = triangles.flat().filter((i) => Number.isInteger(i) && i >= 0 && i < vertices.length)
  geometry.setIndex(index)
  // Normals only help when there is one per vertex; otherwise shade each face flat.
  const flat = !(normals && normals.length === vertices.length)
  if (!flat) geometry.setAttribute('normal', new THREE.Float32BufferAttribute(normals!.flat(), 3))
  else geometry.computeVertexNormals()
  geometry.computeBoundingSphere()
  return { geometry, flat }
}

export class SceneView {
  readonly renderer: THREE.WebGLRenderer
  readonly scene = new THREE.Scene()
  readonly camera: THREE.PerspectiveCamera
  readonly controls: OrbitControls
  readonly world = new THREE.Group()
  private nodes = new Map<string, Node>()
  private textures = new Map<string, THREE.Texture>()
  private textureUsers: Array<{ assetId: string; material: THREE.MeshStandardMaterial }> = []
  private gltf = new GLTFLoader()
  private selectionBox: THREE.Box3Helper | null = null
  private selected: string | null = null
  private needsRender = true
  private framedOnce = false
  frames = 0
  /** Entities left out of "Frame all" (the page's own hand). */
  skipFraming: (id: string) => boolean = () => false
  /** The page's own hand entity (it has no geometry in the place; the view draws one for it). */
  private ownHand: string | null = null
  /** Assets that failed to load (id → reason), for the page's state. */
  readonly assetErrors = new Map<string, string>()
  /** Assets loaded, for the page's state. */
  readonly assetsLoaded = new Set<string>()
  /** Runs before each frame; true: draw this frame (something animates). */
  beforeFrame: () => boolean = () => false

  constructor(readonly canvas: HTMLCanvasElement) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true })
    this.renderer.setPixelRatio(window.devicePixelRatio)
    this.scene.background = new THREE.Color(0x2b3038)
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.01, 200)
    this.camera.position.set(0, 1.6, 1)
    this.controls = new OrbitControls(this.camera, canvas)
    this.controls.target.set(0, 1.2, -2)
    this.controls.addEventListener('change', () => this.invalidate())
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x445566, 1.6))
    const sun = new THREE.DirectionalLight(0xffffff, 1.6)
    sun.position.set(1, 3, 2)
    this.scene.add(sun)
    const grid = new THREE.GridHelper(20, 40, 0x556070, 0x3a414c)
    this.scene.add(grid)
    this.world.matrixAutoUpdate = false
    this.scene.add(this.world)
    new ResizeObserver(() => this.resize()).observe(canvas)
    this.resize()
    const loop = () => {
      if (this.beforeFrame()) this.needsRender = true
      if (this.needsRender) {
        this.needsRender = false
        this.controls.update()
        this.renderer.render(this.scene, this.camera)
        this.frames++
      }
      requestAnimationFrame(loop)
    }
    requestAnimationFrame(loop)
  }

  invalidate(): void {
    this.needsRender = true
  }

  /** Marks which entity is the page's own hand, so it gets a visible shape (redrawn if it exists). */
  setOwnHand(id: string | null): void {
    if (id === this.ownHand) return
    const before = this.ownHand
    this.ownHand = id
    for (const n of [before, id]) {
      const node = n ? this.nodes.get(n) : undefined
      if (!node) continue
      node.contentKey = '' // rebuild on the next upsert
      this.upsert({ id: node.id, components: node.group.userData.components } as ViewEntity)
    }
    this.invalidate()
  }

  private resize(): void {
    const w = this.canvas.clientWidth || 1
    const h = this.canvas.clientHeight || 1
    this.renderer.setSize(w, h, false)
    this.camera.aspect = w / h
    this.camera.updateProjectionMatrix()
    this.invalidate()
  }

  /** Applies changed entities and removals, then re-parents everything by `relationships.parent`. */
  apply(changed: ViewEntity[], removed: string[]): void {
    for (const id of removed) this.removeNode(id)
    // What changed decides the work: a change nobody can see (the place's clock ticking) draws no
    // frame, which matters with thousands of entities.
    let structure = removed.length > 0
    let visible = structure
    for (const e of changed) {
      const r = this.upsert(e)
      structure ||= r.structure
      visible ||= r.visible
    }
    if (!visible) return
    if (structure) {
      // Parents as the tree has them: a cycle (from a broken place) would make three.js recurse forever.
      const parents = treeParents(
        new Map([...this.nodes].map(([id, n]) => [id, { components: n.group.userData.components }])),
      )
      for (const [id, node] of this.nodes) {
        const parentId = parents.get(id) ?? null
        const parent = (parentId && this.nodes.get(parentId)?.group) || this.world
        if (node.group.parent !== parent) parent.add(node.group)
      }
    }
    this.world.updateMatrixWorld(true)
    if (this.selected && !this.nodes.has(this.selected)) this.select(null)
    else this.updateSelectionBox()
    if (!this.framedOnce && this.frameAll()) this.framedOnce = true
    this.invalidate()
  }

  /** Sets an entity's local matrix for the next frames (animations), until its next update. */
  setLocalMatrix(id: string, m: number[]): void {
    const node = this.nodes.get(id)
    if (!node) return
    node.group.matrix.fromArray(m)
    node.group.matrixWorldNeedsUpdate = true
    if (id === this.selected) this.updateSelectionBox()
  }

  /** The local matrix an entity is drawn with (column-major), for the page's state. */
  localMatrixOf(id: string): number[] | null {
    return this.nodes.get(id)?.group.matrix.toArray() ?? null
  }

  ids(): string[] {
    return [...this.nodes.keys()]
  }

  /** The meshes an entity draws (its own content, not its children's), for tests. */
  meshesOf(id: string): Array<{ vertices: number; indices: number; color: string }> {
    const out: Array<{ vertices: number; indices: number; color: string }> = []
    this.nodes.get(id)?.content?.traverse((o) => {
      if (!(o instanceof THREE.Mesh)) return
      const m = (Array.isArray(o.material) ? o.material[0] : o.material) as THREE.MeshStandardMaterial
      out.push({
        vertices: o.geometry.getAttribute('position')?.count ?? 0,
        indices: o.geometry.index?.count ?? 0,
        color: m.color ? `#${m.color.getHexString()}` : '',
      })
    })
    return out
  }

  kinds(): Record<string, ContentKind> {
    return Object.fromEntries([...this.nodes].map(([id, n]) => [id, n.kind]))
  }

  /** Creates or updates an entity's object; says whether anything drawn or the hierarchy changed. */
  private upsert(e: ViewEntity): { visible: boolean; structure: boolean } {
    let node = this.nodes.get(e.id)
    const isNew = !node
    if (!node) {
      const group = new THREE.Group()
      group.name = e.id
      group.matrixAutoUpdate = false
      group.userData.entityId = e.id
      node = { id: e.id, group, contentKey: '', content: null, collider: null, kind: 'none' }
      this.nodes.set(e.id, node)
    }
    const c = e.components
    const m = localMatrix(c)
    const now = node.group.matrix.elements
    let visible = isNew || m.some((v, i) => v !== now[i])
    if (visible) {
      node.group.matrix.fromArray(m)
      node.group.matrixWorldNeedsUpdate = true
    }
    const parentId = parentOf(c)
    const structure = isNew || parentId !== node.group.userData.parentId
    node.group.userData.parentId = parentId
    node.group.userData.components = c

    const key = JSON.stringify([
      c.geometry,
      c.material,
      c.text,
      c.transform && (c.transform as { size?: unknown }).size,
    ])
    if (key !== node.contentKey) {
      node.contentKey = key
      if (node.content) {
        node.group.remove(node.content)
        disposeTree(node.content)
      }
      const { object, kind } = this.buildContent(e.id, c)
      node.content = object
      node.kind = kind
      if (object) node.group.add(object)
      visible = true
    }
    const colliderKey = JSON.stringify(c.collider ?? null)
    if (colliderKey !== node.group.userData.colliderKey) {
      node.group.userData.colliderKey = colliderKey
      if (node.collider) {
        node.group.remove(node.collider)
        disposeTree(node.collider)
        node.collider = null
      }
      if (isObject(c.collider)) {
        const col = c.collider
        const box = new THREE.Mesh(
          new THREE.BoxGeometry(num(col.width, 0.01), num(col.height, 0.01), num(col.depth, 0.01)),
          new THREE.MeshBasicMaterial({ visible: false }),
        )
        box.position.set(num(col.x), num(col.y), num(col.z))
        box.userData.entityId = e.id
        box.userData.isCollider = true
        node.collider = box
        node.group.add(box)
      }
      visible = true
    }
    return { visible: visible || structure, structure }
  }

  private removeNode(id: string): void {
    const node = this.nodes.get(id)
    if (!node) return
    this.nodes.delete(id)
    // Children that are still alive go back to the world root until their parent reappears.
    for (const child of [...node.group.children]) {
      if (child.userData.entityId && child !== node.collider && this.nodes.has(child.userData.entityId)) {
        this.world.add(child)
      }
    }
    node.group.parent?.remove(node.group)
    if (node.content) disposeTree(node.content)
    if (node.collider) disposeTree(node.collider)
  }

  private material(id: string, c: Components, flat: boolean): THREE.MeshStandardMaterial {
    const m = isObject(c.material) ? c.material : {}
    const { color, alpha } = colorOf(m)
    const mat = new THREE.MeshStandardMaterial({
      color,
      roughness: num(m.roughness, 0.8),
      metalness: num(m.metalness, 0),
      transparent: alpha < 1 || m.hasTransparency === true,
      opacity: alpha,
      side: THREE.DoubleSide,
      flatShading: flat,
    })
    if (typeof m.texture === 'string' && !this.assetErrors.has(m.texture)) {
      mat.map = this.texture(id, m.texture)
      if (!this.assetsLoaded.has(m.texture)) this.textureUsers.push({ assetId: m.texture, material: mat })
    }
    return mat
  }

  private texture(entityId: string, assetId: string): THREE.Texture {
    let tex = this.textures.get(assetId)
    if (!tex) {
      tex = new THREE.TextureLoader().load(
        `asset/${encodeURIComponent(assetId)}`,
        () => {
          this.assetsLoaded.add(assetId)
          this.textureUsers = this.textureUsers.filter((x) => x.assetId !== assetId)
          this.invalidate()
        },
        undefined,
        () => {
          // Draw the plain colour rather than a black surface.
          this.assetErrors.set(assetId, `texture of ${entityId} could not be loaded`)
          for (const u of this.textureUsers.filter((x) => x.assetId === assetId)) {
            u.material.map = null
            u.material.needsUpdate = true
          }
          this.textureUsers = this.textureUsers.filter((x) => x.assetId !== assetId)
          this.invalidate()
        },
      )
      tex.colorSpace = THREE.SRGBColorSpace
      this.textures.set(assetId, tex)
    }
    return tex
  }

  private buildContent(id: string, c: Components): { object: THREE.Object3D | null; kind: ContentKind } {
    const g = isObject(c.geometry) ? c.geometry : null
    if (g?.type === 'inline' && !(Array.isArray(g.vertices) && g.vertices.length > MAX_VERTICES)) {
      const { geometry, flat } = inlineGeometry(g)
      const mesh = new THREE.Mesh(geometry, this.material(id, c, flat))
      mesh.userData.entityId = id
      return { object: mesh, kind: 'inline' }
    }
    if (g?.type === 'asset' && typeof g.name === 'string') {
      const holder = new THREE.Group()
      const assetId = g.name
      const material = isObject(c.material) ? c.material : null
      this.gltf.load(
        `asset/${encodeURIComponent(assetId)}`,
        (gltf) => {
          gltf.scene.traverse((o) => {
            o.userData.entityId = id
            if (material && o instanceof THREE.Mesh && typeof material.texture === 'string') {
              o.material = this.material(id, c, false)
            }
          })
          holder.add(gltf.scene)
          this.assetsLoaded.add(assetId)
          this.world.updateMatrixWorld(true)
          // The model arrives after the entity: fit the selection box and, if nothing was framed yet, the camera.
          if (this.selected === id) this.updateSelectionBox()
          if (!this.framedOnce && this.frameAll()) this.framedOnce = true
          this.invalidate()
        },
        undefined,
        (err) => {
          this.assetErrors.set(assetId, `model of ${id}: ${(err as Error).message ?? err}`)
          this.invalidate()
        },
      )
      return { object: holder, kind: 'asset' }
    }
    if (id === this.ownHand && !g) {
      // The page's hand: a small translucent hand-sized block with a pointing finger (not pickable).
      const hand = new THREE.Group()
      const mat = new THREE.MeshStandardMaterial({ color: 0x7fc4ff, transparent: true, opacity: 0.75 })
      const palm = new THREE.Mesh(new THREE.BoxGeometry(0.06, 0.02, 0.09), mat)
      const finger = new THREE.Mesh(new THREE.BoxGeometry(0.015, 0.015, 0.06), mat)
      finger.position.set(0, 0, -0.07)
      hand.add(palm, finger)
      return { object: hand, kind: 'hand' }
    }
    if (g?.type === 'hardcoded-model') {
      const name = String(g.name ?? '')
      const geometry = name.includes('head')
        ? new THREE.SphereGeometry(0.1, 16, 12)
        : name.includes('hand')
          ? new THREE.BoxGeometry(0.06, 0.03, 0.12)
          : new THREE.BoxGeometry(0.2, 0.2, 0.2)
      const mesh = new THREE.Mesh(geometry, this.material(id, c, false))
      mesh.userData.entityId = id
      return { object: mesh, kind: 'hardcoded' }
    }
    if (isObject(c.text) && typeof c.text.string === 'string' && c.text.string !== '') {
      const mesh = textMesh(c)
      mesh.userData.entityId = id
      return { object: mesh, kind: 'text' }
    }
    return { object: null, kind: 'none' }
  }

  /** Objects a click can hit: colliders and drawn meshes. */
  private pickables(): THREE.Object3D[] {
    const out: THREE.Object3D[] = []
    for (const node of this.nodes.values()) {
      if (node.id === this.ownHand) continue
      if (node.collider) out.push(node.collider)
      if (node.content) out.push(node.content)
    }
    return out
  }

  /** The nearest entity under a canvas point (pixels), with the hit point and ray direction. */
  pick(x: number, y: number): { entityId: string; point: Vec3; direction: Vec3; collider: boolean } | null {
    const ndc = new THREE.Vector2(
      (x / this.canvas.clientWidth) * 2 - 1,
      -(y / this.canvas.clientHeight) * 2 + 1,
    )
    const ray = new THREE.Raycaster()
    ray.setFromCamera(ndc, this.camera)
    this.world.updateMatrixWorld(true)
    const hits = ray.intersectObjects(this.pickables(), true)
    for (const hit of hits) {
      let o: THREE.Object3D | null = hit.object
      while (o && !o.userData.entityId) o = o.parent
      if (!o) continue
      return {
        entityId: o.userData.entityId as string,
        point: hit.point.toArray() as Vec3,
        direction: ray.ray.direction.toArray() as Vec3,
        collider: hit.object.userData.isCollider === true,
      }
    }
    return null
  }

  /** Where the viewer's eyes are (the camera), in world coordinates. */
  viewer(): Vec3 {
    return this.camera.position.toArray() as Vec3
  }

  /** Where a world point lands on the canvas (pixels), for tests and tooltips. */
  toScreen(p: Vec3): { x: number; y: number } {
    const v = new THREE.Vector3(...p).project(this.camera)
    return { x: ((v.x + 1) / 2) * this.canvas.clientWidth, y: ((1 - v.y) / 2) * this.canvas.clientHeight }
  }

  /** World position of an entity's collider centre (or origin). */
  centreOf(id: string): Vec3 | null {
    const node = this.nodes.get(id)
    if (!node) return null
    this.world.updateMatrixWorld(true)
    const target = node.collider ?? node.group
    return target.getWorldPosition(new THREE.Vector3()).toArray() as Vec3
  }

  /** A point on the plane through `through` facing the camera, under a canvas point. */
  dragPoint(x: number, y: number, through: Vec3): Vec3 {
    const ndc = new THREE.Vector2(
      (x / this.canvas.clientWidth) * 2 - 1,
      -(y / this.canvas.clientHeight) * 2 + 1,
    )
    const ray = new THREE.Raycaster()
    ray.setFromCamera(ndc, this.camera)
    const normal = this.camera.getWorldDirection(new THREE.Vector3())
    const plane = new THREE.Plane().setFromNormalAndCoplanarPoint(normal, new THREE.Vector3(...through))
    const out = new THREE.Vector3()
    return (ray.ray.intersectPlane(plane, out) ?? new THREE.Vector3(...through)).toArray() as Vec3
  }

  select(id: string | null): void {
    this.selected = id
    this.updateSelectionBox()
    this.invalidate()
  }

  private updateSelectionBox(): void {
    if (this.selectionBox) {
      this.scene.remove(this.selectionBox)
      this.selectionBox.dispose()
      this.selectionBox = null
    }
    const node = this.selected ? this.nodes.get(this.selected) : undefined
    if (!node) return
    this.world.updateMatrixWorld(true)
    const box = new THREE.Box3().setFromObject(node.group)
    if (box.isEmpty()) {
      const p = node.group.getWorldPosition(new THREE.Vector3())
      box.setFromCenterAndSize(p, new THREE.Vector3(0.05, 0.05, 0.05))
    }
    this.selectionBox = new THREE.Box3Helper(box, 0xffd24a)
    this.scene.add(this.selectionBox)
  }

  /** Points the camera at everything but the place; false if there is nothing to frame. */
  frameAll(): boolean {
    this.world.updateMatrixWorld(true)
    const box = new THREE.Box3()
    const one = new THREE.Box3()
    // Entities absurdly far away (or with broken matrices) would leave the camera nowhere.
    const near = (v: THREE.Vector3) => Math.abs(v.x) < 1e5 && Math.abs(v.y) < 1e5 && Math.abs(v.z) < 1e5
    for (const node of this.nodes.values()) {
      if (!(node.content || node.collider) || this.skipFraming(node.id)) continue
      one.makeEmpty().expandByObject(node.group)
      if (!one.isEmpty() && near(one.min) && near(one.max)) box.union(one)
    }
    if (box.isEmpty()) return false
    const centre = box.getCenter(new THREE.Vector3())
    const size = box.getSize(new THREE.Vector3())
    const radius = Math.max(size.length() / 2, 0.2)
    // Never nearer than a person would stand before an app (the page's hand is at arm's length
    // from the camera; alloui opens popups 0.8 m beyond it, which should land in front of the app).
    const dist = Math.max(
      (radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2))) * 0.9,
      MIN_VIEWING_DISTANCE,
    )
    this.controls.target.copy(centre)
    this.camera.position.set(centre.x + dist * 0.15, centre.y + dist * 0.2, centre.z + dist)
    this.camera.lookAt(centre)
    this.controls.update()
    this.invalidate()
    return true
  }
}

function textMesh(c: Components): THREE.Mesh {
  const t = c.text as Record<string, unknown>
  const size = isObject(c.transform) && Array.isArray(c.transform.size) ? (c.transform.size as number[]) : []
  const width = num(t.width, num(size[0], 0.5)) || 0.5
  const height = num(t.height, num(size[1], 0.1)) || 0.1
  const pxPerM = Math.min(2048 / width, 2048 / height, 1000)
  const canvas = document.createElement('canvas')
  canvas.width = Math.max(2, Math.round(width * pxPerM))
  canvas.height = Math.max(2, Math.round(height * pxPerM))
  const ctx = canvas.getContext('2d')!
  const m = isObject(c.material) ? c.material : {}
  const { color } = colorOf(m)
  ctx.fillStyle = `#${color.getHexString(THREE.SRGBColorSpace)}`
  const lines = String(t.string).slice(0, MAX_TEXT).split('\n').slice(0, MAX_LINES)
  const lineHeight =
    t.fitToWidth === true
      ? canvas.height / lines.length
      : Math.min(canvas.height / lines.length, canvas.height)
  ctx.font = `${Math.floor(lineHeight * 0.8)}px system-ui, sans-serif`
  const halign = t.halign === 'left' ? 'left' : t.halign === 'right' ? 'right' : 'center'
  ctx.textAlign = halign
  ctx.textBaseline = 'middle'
  const x = halign === 'left' ? 0 : halign === 'right' ? canvas.width : canvas.width / 2
  const total = lineHeight * lines.length
  const top =
    t.valign === 'top' ? 0 : t.valign === 'bottom' ? canvas.height - total : (canvas.height - total) / 2
  lines.forEach((line, i) => {
    ctx.fillText(line, x, top + lineHeight * (i + 0.5), canvas.width)
  })
  const texture = new THREE.CanvasTexture(canvas)
  texture.colorSpace = THREE.SRGBColorSpace
  return new THREE.Mesh(
    new THREE.PlaneGeometry(width, height),
    new THREE.MeshBasicMaterial({
      map: texture,
      transparent: true,
      side: THREE.DoubleSide,
      depthWrite: false,
    }),
  )
}

function disposeTree(o: THREE.Object3D): void {
  o.traverse((x) => {
    if (x instanceof THREE.Mesh) {
      x.geometry.dispose()
      const mats = Array.isArray(x.material) ? x.material : [x.material]
      for (const m of mats) {
        // Textures from assets are shared and cached; canvas textures belong to this mesh.
        if (m.map instanceof THREE.CanvasTexture) m.map.dispose()
        m.dispose()
      }
    }
  })
}
