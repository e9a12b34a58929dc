/**
 * Grabbing, as the real place simulates it each tick (allonet `src/simulation/grabbing.c`): an
 * entity held through an intent's `poses.hand/*.grab` follows that hand entity (the agent's entity
 * with `intent.actuate_pose` = the hand, already moved to the pose by `Place.simulatePoses`).
 * Pure over a small world interface, so it can be tested without a network.
 */

type Components = Readonly<Record<string, unknown>>

export interface SimWorld {
  get(id: string): { id: string; components: Components; owner: string | null } | undefined
  setComponent(id: string, name: string, value: unknown): void
  ownedBy(owner: string): string[]
}

export interface SimAgent {
  id: string
  avatarId?: string
  intent?: Record<string, unknown>
}

type M = number[]
const IDENTITY: M = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function matrixOf(v: unknown): M | null {
  return Array.isArray(v) && v.length === 16 && v.every((n) => typeof n === 'number' && Number.isFinite(n))
    ? (v as M)
    : null
}

function localOf(c: Components | undefined): M {
  const t = c?.transform
  return (isObj(t) && matrixOf(t.matrix)) || IDENTITY
}

function parentOf(c: Components | undefined): string | null {
  const r = c?.relationships
  return isObj(r) && typeof r.parent === 'string' ? r.parent : null
}

function mul(a: M, b: M): M {
  const o = new Array<number>(16)
  for (let c = 0; c < 4; c++)
    for (let r = 0; r < 4; r++) {
      let s = 0
      for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k]
      o[c * 4 + r] = s
    }
  return o
}

/** Inverse of an affine matrix (rotation/scale + translation). */
function invertAffine(m: M): M {
  const [a, b, c, , d, e, f, , g, h, i] = m
  const det = a * (e * i - f * h) - d * (b * i - c * h) + g * (b * f - c * e)
  if (!det) return IDENTITY
  const inv = [
    (e * i - f * h) / det,
    (c * h - b * i) / det,
    (b * f - c * e) / det,
    (f * g - d * i) / det,
    (a * i - c * g) / det,
    (c * d - a * f) / det,
    (d * h - e * g) / det,
    (b * g - a * h) / det,
    (a * e - b * d) / det,
  ]
  const [tx, ty, tz] = [m[12], m[13], m[14]]
  return [
    inv[0],
    inv[1],
    inv[2],
    0,
    inv[3],
    inv[4],
    inv[5],
    0,
    inv[6],
    inv[7],
    inv[8],
    0,
    -(inv[0] * tx + inv[3] * ty + inv[6] * tz),
    -(inv[1] * tx + inv[4] * ty + inv[7] * tz),
    -(inv[2] * tx + inv[5] * ty + inv[8] * tz),
    1,
  ]
}

function worldOf(world: SimWorld, id: string | null): M {
  let m = IDENTITY
  const seen = new Set<string>()
  const chain: M[] = []
  let cur = id
  while (cur && !seen.has(cur)) {
    seen.add(cur)
    const e = world.get(cur)
    if (!e) break
    chain.push(localOf(e.components))
    cur = parentOf(e.components)
  }
  for (let k = chain.length - 1; k >= 0; k--) m = mul(m, chain[k])
  return m
}

function vec3(v: unknown, d: number[]): number[] {
  return Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === 'number') ? (v as number[]) : d
}

/** One tick of grabbing for every agent with an avatar and an intent. */
export function simulateGrabs(world: SimWorld, agents: Iterable<SimAgent>): void {
  for (const agent of agents) {
    const poses = agent.intent?.poses
    if (!agent.avatarId || !isObj(poses)) continue
    // The agent's hand entities: its entities with intent.actuate_pose naming a hand.
    const posed = new Map<string, string>()
    for (const id of world.ownedBy(agent.id)) {
      const intent = world.get(id)?.components.intent
      if (isObj(intent) && typeof intent.actuate_pose === 'string') posed.set(intent.actuate_pose, id)
    }
    for (const hand of ['hand/left', 'hand/right'] as const) {
      const pose = poses[hand]
      const grab = isObj(pose) ? pose.grab : undefined
      const grabberId = posed.get(hand)
      if (!isObj(grab) || typeof grab.entity !== 'string' || !grabberId) continue
      const held = matrixOf(grab.grabber_from_entity_transform)
      const grabbed = world.get(grab.entity)
      const grabbable = grabbed?.components.grabbable
      if (!held || !grabbed || !isObj(grabbable)) continue
      let actuatedId: string | null = grabbed.id
      if (typeof grabbable.actuate_on === 'string' && grabbable.actuate_on !== '') {
        actuatedId = grabbable.actuate_on === '$parent' ? parentOf(grabbed.components) : grabbable.actuate_on
      }
      const actuated = actuatedId ? world.get(actuatedId) : undefined
      if (!actuated || actuated.id === 'place') continue
      const worldFromGrabbed = mul(worldOf(world, grabberId), held)
      const grabbedFromActuated = mul(invertAffine(worldOf(world, grabbed.id)), worldOf(world, actuated.id))
      const worldFromActuated = mul(worldFromGrabbed, grabbedFromActuated)
      const parentFromActuated = mul(
        invertAffine(worldOf(world, parentOf(actuated.components))),
        worldFromActuated,
      )
      const orig = localOf(actuated.components)
      const tc = vec3(grabbable.translation_constraint, [1, 1, 1])
      const rc = vec3(grabbable.rotation_constraint, [1, 1, 1])
      // Translation: the allowed axes from the new matrix, the others kept. Rotation: the new one
      // if any axis is allowed, else the old one (allonet cherry-picks axis-angle components).
      const keepRotation = rc.every((x) => x === 0)
      const next = keepRotation ? [...orig.slice(0, 12)] : [...parentFromActuated.slice(0, 12)]
      for (let k = 0; k < 3; k++) next.push(orig[12 + k] * (1 - tc[k]) + parentFromActuated[12 + k] * tc[k])
      next.push(1)
      const rounded = next.map((v) => Math.round(v * 1e6) / 1e6)
      const t = isObj(actuated.components.transform) ? actuated.components.transform : {}
      if (JSON.stringify(t.matrix) !== JSON.stringify(rounded))
        world.setComponent(actuated.id, 'transform', { ...t, matrix: rounded })
    }
  }
}
