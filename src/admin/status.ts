/**
 * GET /status.json on the admin port: what the admin page shows, in one answer. Counters are
 * totals since start (exited workers' included, as on /metrics), so the page gets rates and
 * the p99 of its own window from the difference of two polls; docs/monitoring.md gives the
 * shape. The primary (or single-process mode) supplies the raw sources; this module shapes
 * them, reading each worker's RSS from /proc at poll time.
 */
import { routeName } from '../config/routes.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { MetricsSnapshot } from '../metrics/aggregate.ts'
import { LATENCY_BUCKETS, METRICS } from '../metrics/names.ts'
import type { mergeSnapshots } from '../upstream/snapshot.ts'
import { VERSION } from '../version.ts'

type MergedUpstream = ReturnType<typeof mergeSnapshots>[number]
type MetricValue = MetricsSnapshot[number]['values'][number]

/** A live worker process as its supervisor sees it. */
export interface WorkerInfo {
  pid: number
  generation: number
  state: 'starting' | 'listening' | 'draining'
  /** Why it was spawned: start, crash, recycle or reload. */
  reason: string
  /** When it was spawned, ms since the epoch. */
  startedAt: number
}

/** One SIGHUP reload: when it ended, whether the new config serves, and why not. */
export interface ReloadRecord {
  time: number
  ok: boolean
  error: string | null
}

export interface StatusSources {
  mode: 'workers' | 'single-process'
  /** When the gateway started, ms since the epoch. */
  startedAt: number
  config: () => GatewayConfig
  /**
   * Every worker's metrics merged (exited ones' counters included) and each live worker's
   * own last report; undefined while metrics are off.
   */
  metrics: () => Promise<{ merged: MetricsSnapshot; byPid: ReadonlyMap<number, MetricsSnapshot> } | undefined>
  workers: () => WorkerInfo[]
  upstreams: () => Promise<MergedUpstream[]>
  /** Workers spawned after the first generation, by reason. */
  restarts: () => Readonly<Record<string, number>>
  /** The last reloads, newest first. */
  reloads: () => readonly ReloadRecord[]
  /** The node's shared cache tier, when it runs. */
  sharedCache?: () => { entries: number; bytes: number }
}

export interface RouteStatus {
  name: string
  /** The configured path prefix; null for the gateway's own (`health`, `(none)` for unmatched). */
  path: string | null
  host: string | null
  upstream: string | null
  requests: number
  /** Answers with a 5xx status. */
  errors: number
  /** Cumulative counts of request durations per `latencyBuckets` bound, then +Inf. */
  latency: number[]
}

export interface TargetStatus {
  url: string
  weight: number
  /** From the active health check; `unknown` where the upstream has none. */
  health: 'healthy' | 'unhealthy' | 'unknown'
  /** Ejected by passive health right now, in `ejectedBy` of the workers. */
  ejected: boolean
  ejectedBy: number
  ejections: number
  inflight: number
}

export interface AdminStatus {
  time: number
  version: string
  mode: StatusSources['mode']
  uptimeSeconds: number
  metrics: boolean
  latencyBuckets: readonly number[]
  routes: RouteStatus[]
  upstreams: { name: string; balancing: string; healthCheck: boolean; breaker: string[]; targets: TargetStatus[] }[]
  cache: { results: Record<string, number>; entries: number; bytes: number; evictions: number; shared: { entries: number; bytes: number } | null }
  workers: (WorkerInfo & { rssBytes: number | null; requests: number | null })[]
  restarts: Readonly<Record<string, number>>
  reloads: readonly ReloadRecord[]
}

const VM_RSS = /^VmRSS:\s+(\d+)\s+kB/m

/** A process's resident set from /proc (Linux), read asynchronously; null elsewhere or once it is gone. */
export async function rssOf(pid: number): Promise<number | null> {
  try {
    const kb = VM_RSS.exec(await Bun.file(`/proc/${pid}/status`).text())
    return kb ? Number(kb[1]) * 1024 : null
  } catch {
    return null
  }
}

const valuesOf = (snapshot: MetricsSnapshot | undefined, name: string) => snapshot?.find((m) => m.name === name)?.values ?? []
const sumOf = (snapshot: MetricsSnapshot | undefined, name: string) => valuesOf(snapshot, name).reduce((sum, v) => sum + v.value, 0)

/** Requests, 5xx and the duration histogram per route label, summed over methods and statuses. */
function routeCounters(merged: MetricsSnapshot | undefined) {
  const byRoute = new Map<string, { requests: number; errors: number; latency: number[] }>()
  const of = (route: string) => {
    let counters = byRoute.get(route)
    if (!counters) byRoute.set(route, (counters = { requests: 0, errors: 0, latency: new Array(LATENCY_BUCKETS.length + 1).fill(0) }))
    return counters
  }
  for (const { labels, value } of valuesOf(merged, METRICS.httpRequests)) {
    const counters = of(String(labels.route))
    counters.requests += value
    if (String(labels.status).startsWith('5')) counters.errors += value
  }
  const slot = new Map(LATENCY_BUCKETS.map((le, i) => [String(le), i]))
  slot.set('+Inf', LATENCY_BUCKETS.length)
  // A histogram's values are its buckets, _sum and _count, told apart by metricName.
  for (const { labels, value, metricName } of valuesOf(merged, METRICS.httpDuration) as (MetricValue & { metricName?: string })[]) {
    const i = metricName === `${METRICS.httpDuration}_bucket` ? slot.get(String(labels.le)) : undefined
    if (i !== undefined) of(String(labels.route)).latency[i]! += value
  }
  return byRoute
}

export async function buildStatus(sources: StatusSources, now = Date.now()): Promise<AdminStatus> {
  const config = sources.config()
  const [sample, upstreams] = await Promise.all([sources.metrics(), sources.upstreams()])
  const merged = sample?.merged
  const counters = routeCounters(merged)
  const routes: RouteStatus[] = config.routes.map((r) => {
    const name = routeName(r)
    const seen = counters.get(name)
    counters.delete(name)
    return { name, path: r.path, host: r.host ?? null, upstream: r.upstream ?? r.split?.map((entry) => entry.upstream).join(', ') ?? null, ...(seen ?? { requests: 0, errors: 0, latency: new Array(LATENCY_BUCKETS.length + 1).fill(0) }) }
  })
  // The gateway's own routes, and routes a reload removed, after the configured ones.
  for (const [name, seen] of counters) routes.push({ name, path: null, host: null, upstream: null, ...seen })

  const results: Record<string, number> = {}
  for (const { labels, value } of valuesOf(merged, METRICS.cacheRequests.name)) {
    const result = String(labels.result)
    results[result] = (results[result] ?? 0) + value
  }
  const workers = await Promise.all(
    sources.workers().map(async (w) => {
      const own = sample?.byPid.get(w.pid)
      return { ...w, rssBytes: await rssOf(w.pid), requests: sample ? sumOf(own, METRICS.httpRequests) : null }
    })
  )
  return {
    time: now,
    version: VERSION,
    mode: sources.mode,
    uptimeSeconds: Math.round((now - sources.startedAt) / 1000),
    metrics: sample !== undefined,
    latencyBuckets: LATENCY_BUCKETS,
    routes,
    upstreams: upstreams.map((u) => {
      const healthCheck = config.upstreams[u.name]?.healthCheck !== undefined
      return {
        name: u.name,
        balancing: u.balancing,
        healthCheck,
        breaker: u.breaker,
        targets: u.targets.map((t) => ({
          url: t.url,
          weight: t.weight,
          health: t.health,
          ejected: t.ejected,
          ejectedBy: t.ejectedBy,
          ejections: t.ejections,
          inflight: t.inflight,
        })),
      }
    }),
    cache: {
      results,
      entries: sumOf(merged, METRICS.cacheEntries),
      bytes: sumOf(merged, METRICS.cacheBytes),
      evictions: sumOf(merged, METRICS.cacheEvictions),
      shared: sources.sharedCache?.() ?? null,
    },
    workers,
    restarts: sources.restarts(),
    reloads: sources.reloads(),
  }
}
