/** Weighted random: each target with probability weight / total. */
import type { SelectionPolicy } from '../types.ts'

export function weightedRandom(random: () => number = Math.random): SelectionPolicy {
  return {
    pick(targets) {
      let total = 0
      for (const target of targets) total += target.weight
      let point = random() * total
      for (const target of targets) {
        point -= target.weight
        if (point < 0) return target
      }
      return targets[targets.length - 1]!
    },
  }
}
