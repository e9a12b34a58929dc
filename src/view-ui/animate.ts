/**
 * Property animations in the page, run every frame like a visor runs them (allonet's simulation
 * on its local state): the same module the place runs each tick (src/core/place/animation.ts),
 * at the place's time as the page estimates it from the `place` entity's `clock.time`. The place
 * sends states a few times a second; this makes the motion between them smooth.
 */
import { animateEntity, animationsOf } from '../core/place/animation.js'
import { isObject, localMatrix, type ViewEntity } from '../core/view/protocol.js'

/**
 * The place's clock as seen from the page: `clock.time` plus the page time elapsed since it
 * arrived. The smallest delay seen wins (a state that took longer to arrive is older than its
 * clock says), unless the clock jumps back (a new place): then it starts over.
 */
export class PlaceClock {
  /** Place seconds minus page seconds; null until the first clock arrives. */
  private offset: number | null = null

  observe(placeTime: number, pageMs: number): void {
    const offset = placeTime - pageMs / 1000
    if (this.offset === null || offset > this.offset || offset < this.offset - 1) this.offset = offset
  }

  /** The place's time now, in seconds; null before any clock arrived. */
  now(pageMs: number): number | null {
    return this.offset === null ? null : this.offset + pageMs / 1000
  }
}

export class LocalAnimations {
  readonly clock = new PlaceClock()
  /** Entities with at least one property animation. */
  private animated = new Set<string>()

  /** Takes note of changed and removed entities (the place clock, who is animated). */
  track(changed: Iterable<ViewEntity>, removed: Iterable<string>, pageMs: number): void {
    for (const id of removed) this.animated.delete(id)
    for (const e of changed) {
      if (e.id === 'place') {
        const clock = e.components.clock
        if (isObject(clock) && typeof clock.time === 'number') this.clock.observe(clock.time, pageMs)
      }
      const anims = animationsOf(e.components)
      if (anims && Object.keys(anims).length > 0) this.animated.add(e.id)
      else this.animated.delete(e.id)
    }
  }

  /** How many entities animate. */
  get count(): number {
    return this.animated.size
  }

  /**
   * One frame: every animated entity's local matrix at the place's time now, passed to `set`.
   * Returns whether anything animates (the page then draws every frame).
   */
  frame(
    lookup: (id: string) => ViewEntity | undefined,
    pageMs: number,
    set: (id: string, matrix: number[]) => void,
  ): boolean {
    const time = this.clock.now(pageMs)
    if (time === null || this.animated.size === 0) return false
    for (const id of this.animated) {
      const e = lookup(id)
      if (!e) continue
      const r = animateEntity(e.components, time)
      set(id, localMatrix(r ? r.components : e.components))
    }
    return true
  }
}
