/**
 * A worker's metrics: one prom-client Registry and typed handles for the gateway's own
 * families. Components do not import prom-client; they get small observer functions. The
 * per-request families are slot families (family.ts): a request increments plain numbers,
 * and prom-client reads them at scrape time.
 */
import { Counter, Gauge, Registry } from 'prom-client'
import type { CacheStats } from '../policies/cache/store.ts'
import type { UpstreamErrorCode } from '../upstream/errors.ts'
import type { UpstreamObserver } from '../upstream/types.ts'
import { createCounterFamily, createHistogramFamily, registerCollected, type CounterChild, type HistogramChild } from './family.ts'
import { registerProcessMetrics } from './process.ts'
import type { Upstream } from '../upstream/upstream.ts'
import type { BridgeObserver } from '../upstream/websocket/bridge.ts'
import type { WebSocketSlots } from '../upstream/websocket/slots.ts'
import type { ExportStats } from '../tracing/exporter.ts'
import { createHttpMetrics, type HttpMetrics } from './http.ts'
import { LATENCY_BUCKETS, METRICS, PREFIX } from './names.ts'
import { counterCatalog, type BuiltinMetrics, type PolicyMetrics } from '../kernel/policy.ts'

export interface WorkerMetrics {
  readonly registry: Registry
  /** Counts and times every request, per route. */
  readonly http: HttpMetrics
  /** The observer of one upstream's exchanges. */
  upstream(name: string): UpstreamObserver
  cacheResult(route: string, result: string): void
  /** A request the gateway refused itself (4xx, and 503 overloaded). */
  rejected(reason: string): void
  /** A route's auth stage refused a credential: missing, unknown, invalid or expired. */
  authFailed(route: string, reason: string): void
  /** A route's rate limit refused a request. */
  rateLimited(route: string): void
  /** The hooks a route's stages count with: the built-ins' families, and plugins' own counters (`gateway_plugin_<name>_total`). */
  forPolicies(route: string): PolicyMetrics & BuiltinMetrics
  /** Requests being handled, read at every scrape. */
  inflight: number
  /** Proxied WebSockets: messages and bytes each way, closes by code. */
  readonly websocket: BridgeObserver
  /** Reads the cache store's numbers at every scrape. */
  watchCache(stats: () => CacheStats): void
  /** Reads the open sockets and pending handshakes at every scrape: the very numbers the cap counts. */
  watchWebSockets(slots: Pick<WebSocketSlots, 'open' | 'handshakes'>): void
  /** Reads each target's tries and failures at every scrape (they are counted on the target itself). */
  watchUpstreams(upstreams: () => readonly Pick<Upstream, 'name' | 'targets'>[]): void
  /** Exports the span queue's counts (tracing on only: no families otherwise). */
  watchTracing(stats: () => ExportStats): void
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** This process's own families are labelled with its pid (`worker`). */
export function createWorkerMetrics(info: { version: string; bun: string }): WorkerMetrics {
  const registry = new Registry()
  const registers = [registry]
  /** Plugins' counters by name: routes of one plugin share its families. */
  const pluginCounter = counterCatalog((name, help, labels) => new Counter({ name: `${PREFIX}plugin_${name}_total`, help, labelNames: ['route', ...labels], registers }))
  const upstreamDuration = createHistogramFamily(registry, {
    name: METRICS.upstreamDuration.name,
    help: 'Time from sending a request upstream to the response head, in seconds, retries included (one observation per answered request), by upstream and the status_class of the answer: 1xx, 2xx, 3xx, 4xx, 5xx (a class appears with its first answer); failed requests are in gateway_upstream_errors_total',
    labelNames: METRICS.upstreamDuration.labels,
    buckets: LATENCY_BUCKETS,
  })
  const upstreamErrors = createCounterFamily(registry, {
    name: METRICS.upstreamErrors.name,
    help: 'Upstream requests that failed after any retries (each try: gateway_upstream_target_failures_total), and bodies cut after the head, by reason: connect_refused, dns, connect_timeout, headers_timeout, body_timeout, reset, malformed_head, length_mismatch, tls',
    labelNames: METRICS.upstreamErrors.labels,
  })
  const cacheRequests = createCounterFamily(registry, {
    name: METRICS.cacheRequests.name,
    help: 'GET and HEAD requests on cache-enabled routes, by what the cache did: hit, miss, bypass, expired, stale, revalidated',
    labelNames: METRICS.cacheRequests.labels,
  })
  const rejected = createCounterFamily(registry, {
    name: METRICS.rejected.name,
    help: 'Requests the gateway refused itself, by error code: bad_request, unauthorized, not_found, method_not_allowed, payload_too_large, uri_too_long, header_fields_too_large, rate_limited, auth_throttled (4xx), grpc_unimplemented (a gRPC call answered with grpc-status 12) and overloaded (503); docs/proxying.md says when',
    labelNames: METRICS.rejected.labels,
  })
  const ejections = createCounterFamily(registry, {
    name: METRICS.ejections.name,
    help: 'Targets ejected by passive health (outlier detection)',
    labelNames: METRICS.ejections.labels,
  })
  const retries = createCounterFamily(registry, {
    name: METRICS.retries.name,
    help: 'Requests that were retried, by how they ended (success, failure, budget_exhausted)',
    labelNames: METRICS.retries.labels,
  })
  const breakerOpen = new Map<string, number>()
  new Gauge({
    name: METRICS.breakerOpen.name,
    help: 'Circuit breaker state per upstream: 0 closed, 0.5 half-open, 1 open (the highest of the workers)',
    labelNames: METRICS.breakerOpen.labels,
    aggregator: 'max',
    registers,
    collect() {
      for (const [upstream, value] of breakerOpen) this.set({ upstream }, value)
    },
  })
  const authFailures = createCounterFamily(registry, {
    name: METRICS.authFailures.name,
    help: 'Requests refused by a route\'s authentication, by reason: missing, unknown (API key), invalid or expired (JWT)',
    labelNames: METRICS.authFailures.labels,
  })
  const rateLimited = createCounterFamily(registry, {
    name: METRICS.rateLimited.name,
    help: 'Requests refused by a route\'s rate limit',
    labelNames: METRICS.rateLimited.labels,
  })
  const mirrorRequests = createCounterFamily(registry, {
    name: METRICS.mirrorRequests.name,
    help: "Requests a route chose to mirror (routes[].mirror), by outcome: sent (the mirror answered, any status), failed (no answer), skipped_body (body over maxBodyBytes or unsized), skipped_busy (maxInFlight copies under way)",
    labelNames: METRICS.mirrorRequests.labels,
  })
  const compressed = createCounterFamily(registry, {
    name: METRICS.compressed.name,
    help: 'Answers the gateway compressed, by encoding: zstd, br, gzip (a cache hit sends stored bytes and is not counted again)',
    labelNames: METRICS.compressed.labels,
  })
  const compressionSaved = createCounterFamily(registry, {
    name: METRICS.compressionSaved.name,
    help: 'Body bytes compression saved (before minus after), by encoding: zstd, br, gzip; a stream cut short adds none',
    labelNames: METRICS.compressionSaved.labels,
  })
  new Gauge({
    name: METRICS.buildInfo.name,
    help: 'Gateway version and Bun version; always 1',
    labelNames: METRICS.buildInfo.labels,
    aggregator: 'max',
    registers,
  }).set(info, 1)

  // Only with a cached route (watchCache): no cache, no cache series.
  let cacheStats: (() => CacheStats) | undefined
  const ofCache = (value: (stats: CacheStats) => number) => () => (cacheStats ? [{ labels: {}, value: value(cacheStats()) }] : [])
  registerCollected(registry, METRICS.cacheBytes, 'Bytes held by the response cache (this worker\'s memory tier)', 'gauge', ofCache((s) => s.bytes))
  registerCollected(registry, METRICS.cacheEntries, 'Responses held by the response cache (this worker\'s memory tier)', 'gauge', ofCache((s) => s.entries))
  registerCollected(registry, METRICS.cacheEvictions, 'Responses evicted from the cache to stay within its bounds (maxEntries, maxBytes)', 'counter', ofCache((s) => s.evictions))

  const wsMessages = createCounterFamily(registry, { name: METRICS.websocketMessages.name, help: 'WebSocket messages relayed, by direction: to_upstream, to_client', labelNames: METRICS.websocketMessages.labels })
  const wsBytes = createCounterFamily(registry, { name: METRICS.websocketBytes.name, help: 'WebSocket payload bytes relayed, by direction: to_upstream, to_client', labelNames: METRICS.websocketBytes.labels })
  const wsCloses = createCounterFamily(registry, { name: METRICS.websocketCloses.name, help: 'WebSocket closes seen from clients, by code (3xxx and 4xxx grouped)', labelNames: METRICS.websocketCloses.labels })
  let wsSlots: Pick<WebSocketSlots, 'open' | 'handshakes'> | undefined
  new Gauge({
    name: METRICS.websocketConnections,
    help: 'Proxied WebSockets open',
    registers,
    collect() {
      this.set(wsSlots?.open.size ?? 0)
    },
  })
  new Gauge({
    name: METRICS.websocketHandshakes,
    help: 'Upstream WebSocket handshakes under way (they count against maxConnectionsPerWorker)',
    registers,
    collect() {
      this.set(wsSlots?.handshakes ?? 0)
    },
  })
  // A direction's two series, found once on first use: every relayed message counts in them,
  // and a label lookup (an array, a join, a Map get each) per message cost 0.18 µs an echo.
  const wsSeries: Partial<Record<'to_upstream' | 'to_client', { messages: CounterChild; bytes: CounterChild }>> = {}
  const websocket: BridgeObserver = {
    message(direction, bytes) {
      const series = (wsSeries[direction] ??= { messages: wsMessages.child(direction), bytes: wsBytes.child(direction) })
      series.messages.inc()
      series.bytes.inc(bytes)
    },
    closed(code) {
      wsCloses.child(code >= 4000 ? '4xxx' : code >= 3000 ? '3xxx' : String(code)).inc()
    },
  }
  let upstreamsOf: (() => readonly Pick<Upstream, 'name' | 'targets'>[]) | undefined
  // Counted by the balancer on the Target (no label lookup per try); a target is listed once it was tried.
  registerCollected(registry, METRICS.targetRequests.name, 'Tries sent to each upstream target (target: its base URL, as in /upstreams; retries count, WebSocket handshakes do not); one series per configured target that was tried, so bounded by the config', 'counter', () =>
    (upstreamsOf?.() ?? []).flatMap((u) => u.targets.filter((t) => t.sent > 0).map((t) => ({ labels: { upstream: u.name, target: t.base }, value: t.sent })))
  )
  registerCollected(registry, METRICS.targetFailures.name, 'Tries of each upstream target that failed, by reason: connect_refused, dns, connect_timeout, headers_timeout, body_timeout, reset, malformed_head, length_mismatch, tls (a body cut after the head counts too; an upstream\'s 5xx is an answer, not counted); bounded by the configured targets', 'counter', () =>
    (upstreamsOf?.() ?? []).flatMap((u) => u.targets.flatMap((t) => [...(t.failedBy ?? [])].map(([reason, value]) => ({ labels: { upstream: u.name, target: t.base, reason }, value }))))
  )
  registerProcessMetrics(registry, String(process.pid))
  const cacheByRoute = new Map<string, Map<string, CounterChild>>()
  const metrics: WorkerMetrics = {
    registry,
    http: createHttpMetrics(registry),
    upstream(name) {
      // A status class's series is made on its first response: none for a class never seen.
      const byClass: (HistogramChild | undefined)[] = [undefined, undefined, undefined, undefined, undefined]
      const byCode = new Map<UpstreamErrorCode, CounterChild>()
      return {
        response(status, seconds) {
          const i = Math.min(Math.max(Math.floor(status / 100), 1), 5) - 1
          ;(byClass[i] ??= upstreamDuration.child(name, STATUS_CLASSES[i]!)).observe(seconds)
        },
        error(code) {
          let child = byCode.get(code)
          if (!child) byCode.set(code, (child = upstreamErrors.child(name, code)))
          child.inc()
        },
        retry: (outcome) => retries.child(name, outcome).inc(),
        ejected: (target) => ejections.child(name, target).inc(),
        breaker: (state) => void breakerOpen.set(name, state === 'open' ? 1 : state === 'half-open' ? 0.5 : 0),
      }
    },
    cacheResult(route, result) {
      let byResult = cacheByRoute.get(route)
      if (!byResult) cacheByRoute.set(route, (byResult = new Map()))
      let child = byResult.get(result)
      if (!child) byResult.set(result, (child = cacheRequests.child(route, result)))
      child.inc()
    },
    rejected: (reason) => rejected.child(reason).inc(),
    authFailed: (route, reason) => authFailures.child(route, reason).inc(),
    rateLimited: (route) => rateLimited.child(route).inc(),
    forPolicies: (route) => ({
      authFailure: (reason) => authFailures.child(route, reason).inc(),
      rateLimited: () => rateLimited.child(route).inc(),
      mirrored: (outcome) => mirrorRequests.child(route, outcome).inc(),
      compressed(encoding, savedBytes) {
        compressed.child(route, encoding).inc()
        compressionSaved.child(route, encoding).inc(savedBytes)
      },
      counter(name, help, labels = []) {
        const counter = pluginCounter(name, help, labels)
        return (values) => counter.inc({ ...values, route })
      },
    }),
    inflight: 0,
    websocket,
    watchCache(stats) {
      cacheStats = stats
    },
    watchWebSockets(slots) {
      wsSlots = slots
    },
    watchUpstreams(read) {
      upstreamsOf = read
    },
    watchTracing(stats) {
      watchTracing(registry, stats)
    },
  }
  new Gauge({
    name: METRICS.inflight,
    help: 'Requests being handled',
    registers,
    collect() {
      this.set(metrics.inflight)
    },
  })
  return metrics
}

/** The tracing counters: the exporter's running totals, read at every scrape (a reason appears with its first drop). */
function watchTracing(registry: Registry, stats: () => ExportStats): void {
  registerCollected(
    registry,
    METRICS.tracingDropped.name,
    'Spans dropped instead of exported, by reason: queue_full (tracing.queueSize reached), export_failed (the collector refused the batch or could not be reached)',
    'counter',
    () => {
      const now = stats()
      return DROP_REASONS.filter(([key]) => now[key] > 0).map(([key, reason]) => ({ labels: { reason }, value: now[key] }))
    }
  )
  registerCollected(registry, METRICS.tracingExported, 'Spans the collector accepted (a 2xx answer to their batch)', 'counter', () => [{ labels: {}, value: stats().exported }])
}

const DROP_REASONS = [
  ['queueFull', 'queue_full'],
  ['exportFailed', 'export_failed'],
] as const
