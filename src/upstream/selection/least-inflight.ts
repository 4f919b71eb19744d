/**
 * Least in flight by the power of two choices (Mitzenmacher; Envoy's LEAST_REQUEST): two
 * targets drawn at random, the one with fewer requests in flight per unit of weight wins.
 * Nearly as good as scanning them all, and no herd onto one target.
 */
import type { SelectionPolicy } from '../types.ts'

export function leastInflight(random: () => number = Math.random): SelectionPolicy {
  return {
    pick(targets) {
      const a = targets[Math.floor(random() * targets.length)]!
      let b = targets[Math.floor(random() * targets.length)]!
      if (b === a && targets.length > 1) b = targets[(targets.indexOf(a) + 1) % targets.length]!
      return b.inflight / b.weight < a.inflight / a.weight ? b : a
    },
  }
}
