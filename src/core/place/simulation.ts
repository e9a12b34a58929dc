/**
 * Grabbing, as the real place simulates it each tick (allonet `src/simulation/grabbing.c`): an
 * entity held through an intent's `poses.hand/*.grab` follows that hand entity (the agent's entity
 * with `intent.actuate_pose` = the hand, already moved to the pose by `Place.simulatePoses`).
 * Pure over a small world interface, so it can be tested without a network.
 */
import { invert, isMatrix, localMatrix, multiply, parentOf, worldMatrix } from '../matrix.js'
import { isPlainObject as isObj } from './json.js'

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

function vec3(v: unknown, d: number[]): number[] {
  return Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === 'number') ? (v as number[]) : d
}

/** One tick of grabbing for every agent with an avatar and an intent. */
export function simulateGrabs(world: SimWorld, agents: Iterable<SimAgent>): void {
  const worldOf = (id: string | null) => worldMatrix(id, (e) => world.get(e)?.components)
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
      const held = grab.grabber_from_entity_transform
      const grabbed = world.get(grab.entity)
      const grabbable = grabbed?.components.grabbable
      if (!isMatrix(held) || !grabbed || !isObj(grabbable)) continue
      let actuatedId: string | null = grabbed.id
      if (typeof grabbable.actuate_on === 'string' && grabbable.actuate_on !== '') {
        actuatedId = grabbable.actuate_on === '$parent' ? parentOf(grabbed.components) : grabbable.actuate_on
      }
      const actuated = actuatedId ? world.get(actuatedId) : undefined
      if (!actuated || actuated.id === 'place') continue
      const worldFromGrabbed = multiply(worldOf(grabberId), held)
      const grabbedFromActuated = multiply(invert(worldOf(grabbed.id)), worldOf(actuated.id))
      const worldFromActuated = multiply(worldFromGrabbed, grabbedFromActuated)
      const parentFromActuated = multiply(invert(worldOf(parentOf(actuated.components))), worldFromActuated)
      const orig = localMatrix(actuated.components)
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
