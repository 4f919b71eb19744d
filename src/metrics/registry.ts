/**
 * A worker's metrics: one prom-client Registry and typed handles for the gateway's own
 * families. Components do not import prom-client; they get small observer functions.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { CacheStats } from '../middleware/cache/store.ts'
import type { UpstreamObserver } from '../upstream/forward.ts'
import { createHttpMetrics, type HttpMetrics } from './http.ts'
import { LATENCY_BUCKETS, METRICS } from './names.ts'

export interface WorkerMetrics {
  readonly registry: Registry
  /** Counts and times every request, recorded by the serve loop. */
  readonly http: HttpMetrics
  readonly upstream: UpstreamObserver
  cacheResult(route: string, result: string): void
  /** A request the gateway refused itself (400, 404, 405, 413, 414, 431). */
  rejected(reason: string): void
  readonly inflight: { inc(): void; dec(): void }
  /** Reads the cache store's numbers at every scrape. */
  watchCache(stats: () => CacheStats): void
}

export function createWorkerMetrics(info: { version: string; bun: string }): WorkerMetrics {
  const registry = new Registry()
  const registers = [registry]
  const upstreamDuration = new Histogram({
    name: METRICS.upstreamDuration.name,
    help: 'Time from sending a request upstream to its response head, in seconds',
    labelNames: METRICS.upstreamDuration.labels,
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const upstreamErrors = new Counter({
    name: METRICS.upstreamErrors.name,
    help: 'Upstream exchanges that failed, by reason',
    labelNames: METRICS.upstreamErrors.labels,
    registers,
  })
  const cacheRequests = new Counter({
    name: METRICS.cacheRequests.name,
    help: 'GET and HEAD requests on cache-enabled routes, by what the cache did',
    labelNames: METRICS.cacheRequests.labels,
    registers,
  })
  const rejected = new Counter({
    name: METRICS.rejected.name,
    help: 'Requests the gateway answered itself with a 4xx, by error code',
    labelNames: METRICS.rejected.labels,
    registers,
  })
  const inflight = new Gauge({ name: METRICS.inflight, help: 'Requests being handled', registers })
  new Gauge({
    name: METRICS.buildInfo.name,
    help: 'Gateway version and Bun version; always 1',
    labelNames: METRICS.buildInfo.labels,
    aggregator: 'max',
    registers,
  }).set(info, 1)

  let cacheStats: (() => CacheStats) | undefined
  new Gauge({
    name: METRICS.cacheBytes,
    help: 'Bytes held by the response cache',
    registers,
    collect() {
      if (cacheStats) this.set(cacheStats().bytes)
    },
  })
  new Gauge({
    name: METRICS.cacheEntries,
    help: 'Responses held by the response cache',
    registers,
    collect() {
      if (cacheStats) this.set(cacheStats().entries)
    },
  })
  let evictionsSeen = 0
  new Counter({
    name: METRICS.cacheEvictions,
    help: 'Responses evicted from the cache to stay within its bounds',
    registers,
    collect() {
      const evictions = cacheStats?.().evictions ?? 0
      if (evictions > evictionsSeen) this.inc(evictions - evictionsSeen)
      evictionsSeen = evictions
    },
  })

  return {
    registry,
    http: createHttpMetrics(registry),
    upstream: {
      response(upstream, status, seconds) {
        upstreamDuration.observe({ upstream, status_class: `${Math.floor(status / 100)}xx` }, seconds)
      },
      error(upstream, reason) {
        upstreamErrors.inc({ upstream, reason })
      },
    },
    cacheResult: (route, result) => cacheRequests.inc({ route, result }),
    rejected: (reason) => rejected.inc({ reason }),
    inflight: { inc: () => inflight.inc(), dec: () => inflight.dec() },
    watchCache(stats) {
      cacheStats = stats
    },
  }
}
