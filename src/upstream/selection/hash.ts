/**
 * Consistent hashing (a ketama-style ring): each target owns 100 points per unit of weight,
 * and a key goes to the first point at or after its hash that belongs to an available
 * target. A target that leaves gives up only its own keys (about 1/N of them); one that comes
 * back takes them again. Requests without a key are spread round-robin.
 */
import type { SelectionPolicy, Target } from '../types.ts'
import { roundRobin } from './round-robin.ts'

const POINTS_PER_WEIGHT = 100

export function consistentHash(all: readonly Target[]): SelectionPolicy {
  const ring: { point: number; target: Target }[] = []
  for (const target of all) {
    for (let i = 0; i < POINTS_PER_WEIGHT * target.weight; i++) ring.push({ point: Bun.hash.murmur32v3(`${target.base}#${i}`), target })
  }
  ring.sort((x, y) => x.point - y.point)
  const fallback = roundRobin()
  return {
    pick(targets, request) {
      const key = request.hashKey
      if (key === undefined) return fallback.pick(targets, request)
      const available = targets.length === all.length ? undefined : new Set(targets)
      const hash = Bun.hash.murmur32v3(key)
      // The first point at or after the hash (binary search), then onwards round the ring.
      let lo = 0
      let hi = ring.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (ring[mid]!.point < hash) lo = mid + 1
        else hi = mid
      }
      for (let i = 0; i < ring.length; i++) {
        const { target } = ring[(lo + i) % ring.length]!
        if (!available || available.has(target)) return target
      }
      return targets[0]!
    },
  }
}
