/**
 * Smooth weighted round-robin (nginx's): each pick adds every target's weight to its
 * running score, takes the highest and subtracts the total from it, so weights 5:1:1 give
 * a a b a c a a rather than five a's in a row. Equal weights make it plain round-robin.
 */
import type { SelectionPolicy, Target } from '../types.ts'

export function roundRobin(): SelectionPolicy {
  const score = new Map<Target, number>()
  return {
    pick(targets) {
      let total = 0
      let best: Target | undefined
      let bestScore = -Infinity
      for (const target of targets) {
        const current = (score.get(target) ?? 0) + target.weight
        score.set(target, current)
        total += target.weight
        if (current > bestScore) {
          best = target
          bestScore = current
        }
      }
      score.set(best!, bestScore - total)
      return best!
    },
  }
}
