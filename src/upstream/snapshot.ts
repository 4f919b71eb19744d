/** What admin GET /upstreams shows of one worker's upstreams: targets, their health, the breaker. */
import type { Upstream } from './upstream.ts'

/** Active health: the checker's verdict, or unknown where no check runs (or none has answered yet). */
export type TargetHealthState = 'healthy' | 'unhealthy' | 'unknown'

export interface TargetSnapshot {
  url: string
  weight: number
  health: TargetHealthState
  /** Ejected by passive health right now. */
  ejected: boolean
  ejections: number
  inflight: number
}

export interface UpstreamSnapshot {
  name: string
  balancing: string
  breaker: string
  targets: TargetSnapshot[]
}

export function snapshotOf(upstream: Upstream, now = performance.now()): UpstreamSnapshot {
  return {
    name: upstream.name,
    balancing: upstream.config.balancing,
    breaker: upstream.breakerState,
    targets: upstream.targets.map((t) => ({
      url: t.base,
      weight: t.weight,
      health: t.checked ? (t.healthy ? 'healthy' : 'unhealthy') : 'unknown',
      ejected: t.ejectedUntil > now,
      ejections: t.ejections,
      inflight: t.inflight,
    })),
  }
}

/** Every worker gets the same verdicts; while one is on its way, a verdict beats unknown and unhealthy beats healthy. */
const RANK: Record<TargetHealthState, number> = { unknown: 0, healthy: 1, unhealthy: 2 }
const worse = (a: TargetHealthState, b: TargetHealthState) => (RANK[b] > RANK[a] ? b : a)

/**
 * The node's view, merged from every worker's: a target is ejected if any worker ejected
 * it (with how many do), ejections and in-flight counts add up, and the breaker state is
 * listed per worker.
 */
export function mergeSnapshots(perWorker: UpstreamSnapshot[][]) {
  const merged = new Map<string, { name: string; balancing: string; breakers: string[]; targets: Map<string, TargetSnapshot & { ejectedBy: number }> }>()
  for (const upstreams of perWorker) {
    for (const u of upstreams) {
      let entry = merged.get(u.name)
      if (!entry) merged.set(u.name, (entry = { name: u.name, balancing: u.balancing, breakers: [], targets: new Map() }))
      entry.breakers.push(u.breaker)
      for (const t of u.targets) {
        const seen = entry.targets.get(t.url)
        if (!seen) entry.targets.set(t.url, { ...t, ejectedBy: t.ejected ? 1 : 0 })
        else {
          seen.ejected ||= t.ejected
          seen.ejectedBy += t.ejected ? 1 : 0
          seen.ejections += t.ejections
          seen.inflight += t.inflight
          seen.health = worse(seen.health, t.health)
        }
      }
    }
  }
  return [...merged.values()].map((u) => ({ name: u.name, balancing: u.balancing, breaker: u.breakers, targets: [...u.targets.values()] }))
}
