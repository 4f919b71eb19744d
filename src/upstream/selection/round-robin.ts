/** Round-robin over an upstream's targets: the default, stateless beyond a counter. */
import type { SelectionPolicy, Target } from '../types.ts'

/** Returns a policy that cycles through the targets in order. */
export function roundRobin(): SelectionPolicy {
  let next = 0
  return {
    pick(targets: readonly Target[]): Target {
      const target = targets[next % targets.length]!
      next = (next + 1) % targets.length
      return target
    },
  }
}
