import { describe, expect, test } from 'bun:test'
import { validateConfig } from '../config/load.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { createMetricsAggregator, type MetricsSnapshot } from '../metrics/aggregate.ts'
import { LATENCY_BUCKETS } from '../metrics/names.ts'
import { createWorkerMetrics } from '../metrics/registry.ts'
import type { UpstreamSnapshot } from '../upstream/snapshot.ts'
import { mergeSnapshots } from '../upstream/snapshot.ts'
import { buildStatus, rssOf, type StatusSources } from './status.ts'

/** Pids above Linux's largest pid_max (2^22): no process has them. */
const NO_PID = [2 ** 22 + 1, 2 ** 22 + 2, 2 ** 22 + 3]

function config(): GatewayConfig {
  const result = validateConfig({
    upstreams: {
      checked: { targets: [{ url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:2' }], healthCheck: { path: '/health' } },
      plain: { targets: [{ url: 'http://127.0.0.1:3' }] },
    },
    routes: [
      { name: 'api', path: '/api', upstream: 'checked' },
      { path: '/plain', upstream: 'plain', host: 'example.test' },
    ],
  })
  if (!result.ok) throw new Error(result.errors.join('\n'))
  return result.config
}

/** One worker's real registry after `record` ran against it. */
async function workerReport(record: (m: ReturnType<typeof createWorkerMetrics>) => void): Promise<MetricsSnapshot> {
  const metrics = createWorkerMetrics({ version: 'test', bun: Bun.version })
  record(metrics)
  return (await metrics.registry.getMetricsAsJSON()) as MetricsSnapshot
}

const target = (url: string, healthy: boolean, ejected = false, checked = true) => ({ url, weight: 1, healthy, health: checked ? (healthy ? 'healthy' as const : 'unhealthy' as const) : 'unknown' as const, ejected, ejections: ejected ? 1 : 0, inflight: 0 })
const workerUpstreams = (downTarget: boolean, ejected: boolean): UpstreamSnapshot[] => [
  { name: 'checked', balancing: 'round-robin', breaker: ejected ? 'open' : 'closed', targets: [target('http://127.0.0.1:1', true), target('http://127.0.0.1:2', !downTarget, ejected)] },
  { name: 'plain', balancing: 'round-robin', breaker: 'closed', targets: [target('http://127.0.0.1:3', true, false, false)] },
]

function sources(overrides: Partial<StatusSources> = {}): StatusSources {
  return {
    mode: 'workers',
    startedAt: 1_000_000,
    config,
    metrics: async () => undefined,
    workers: () => [
      { pid: process.pid, generation: 2, state: 'listening', reason: 'reload', startedAt: 1_001_000 },
      { pid: NO_PID[0]!, generation: 2, state: 'draining', reason: 'recycle', startedAt: 1_002_000 },
    ],
    upstreams: async () => mergeSnapshots([workerUpstreams(true, true), workerUpstreams(true, false)]),
    restarts: () => ({ crash: 1, recycle: 2, reload: 3 }),
    reloads: () => [{ time: 1_005_000, ok: false, error: 'routes[0].path: must start with "/"' }],
    ...overrides,
  }
}

describe('buildStatus', () => {
  test('routes: totals over live and exited workers, 5xx as errors, the duration histogram summed per route', async () => {
    const aggregator = createMetricsAggregator()
    aggregator.report(NO_PID[0]!, await workerReport((m) => {
      const api = m.http.forRoute('api')
      for (let i = 0; i < 6; i++) api.record('GET', 200, 0.003, 0, 0)
      api.record('POST', 502, 0.2, 0, 0)
      m.http.forRoute('(none)').record('GET', 404, 0.0001, 0, 0)
    }))
    aggregator.report(NO_PID[1]!, await workerReport((m) => {
      m.http.forRoute('api').record('GET', 503, 0.04, 0, 0)
      m.http.forRoute('/plain').record('GET', 200, 0.001, 0, 0)
    }))
    aggregator.report(NO_PID[2]!, await workerReport((m) => m.http.forRoute('api').record('GET', 200, 0.5, 0, 0)))
    await aggregator.retire(NO_PID[2]!)
    const status = await buildStatus(
      sources({ metrics: async () => ({ merged: await aggregator.merged(), byPid: aggregator.byPid() }), workers: () => [{ pid: NO_PID[0]!, generation: 1, state: 'listening', reason: 'start', startedAt: 0 }] })
    )
    expect(status.metrics).toBe(true)
    expect(status.latencyBuckets).toEqual(LATENCY_BUCKETS)
    expect(status.routes.map((r) => [r.name, r.path, r.host, r.upstream, r.requests, r.errors])).toEqual([
      ['api', '/api', null, 'checked', 9, 2],
      ['/plain', '/plain', 'example.test', 'plain', 1, 0],
      ['(none)', null, null, null, 1, 0],
    ])
    const api = status.routes[0]!
    expect(api.latency).toHaveLength(LATENCY_BUCKETS.length + 1)
    expect(api.latency.at(-1)).toBe(9)
    // 0.003 s: six requests at or under the 0.005 bound, none under 0.0025.
    expect(api.latency[LATENCY_BUCKETS.indexOf(0.0025)]).toBe(0)
    expect(api.latency[LATENCY_BUCKETS.indexOf(0.005)]).toBe(6)
    expect(api.latency[LATENCY_BUCKETS.indexOf(0.05)]).toBe(7)
    expect(api.latency[LATENCY_BUCKETS.indexOf(0.25)]).toBe(8)
    expect(status.workers).toEqual([{ pid: NO_PID[0]!, generation: 1, state: 'listening', reason: 'start', startedAt: 0, rssBytes: null, requests: 8 }])
  })

  test('cache: results over routes, entries and bytes summed over workers, the shared tier when it runs', async () => {
    const report = (hits: number, entries: number) =>
      workerReport((m) => {
        for (let i = 0; i < hits; i++) m.cacheResult('api', 'hit')
        m.cacheResult('api', 'miss')
        m.cacheResult('/plain', 'hit')
        m.watchCache(() => ({ entries, bytes: entries * 100, evictions: 1 }))
      })
    const merged = (await import('prom-client')).AggregatorRegistry.aggregate([await report(3, 2), await report(1, 5)])
    const status = await buildStatus(
      sources({ metrics: async () => ({ merged: (await merged.getMetricsAsJSON()) as MetricsSnapshot, byPid: new Map() }), sharedCache: () => ({ entries: 4, bytes: 4096 }) })
    )
    expect(status.cache).toEqual({ results: { hit: 6, miss: 2 }, entries: 7, bytes: 700, evictions: 2, shared: { entries: 4, bytes: 4096 } })
  })

  test('upstreams: health from the active check, unknown without one; ejections and breakers per worker', async () => {
    const status = await buildStatus(sources())
    const [checked, plain] = status.upstreams
    expect(checked).toMatchObject({ name: 'checked', healthCheck: true, breaker: ['open', 'closed'] })
    expect(checked!.targets.map((t) => [t.url, t.health, t.ejected, t.ejectedBy, t.ejections])).toEqual([
      ['http://127.0.0.1:1', 'healthy', false, 0, 0],
      ['http://127.0.0.1:2', 'unhealthy', true, 1, 1],
    ])
    expect(plain).toMatchObject({ name: 'plain', healthCheck: false })
    expect(plain!.targets[0]!.health).toBe('unknown')
  })

  test('metrics off: routes listed at zero, no per-worker requests; workers, restarts and reloads as given', async () => {
    const status = await buildStatus(sources(), 1_010_000)
    expect(status).toMatchObject({ metrics: false, mode: 'workers', time: 1_010_000, uptimeSeconds: 10 })
    expect(status.routes.map((r) => [r.name, r.requests])).toEqual([['api', 0], ['/plain', 0]])
    expect(status.workers.map((w) => [w.pid, w.requests, w.reason])).toEqual([[process.pid, null, 'reload'], [NO_PID[0]!, null, 'recycle']])
    expect(status.workers[0]!.rssBytes).toBeGreaterThan(1024 * 1024)
    expect(status.workers[1]!.rssBytes).toBeNull()
    expect(status.restarts).toEqual({ crash: 1, recycle: 2, reload: 3 })
    expect(status.reloads).toEqual([{ time: 1_005_000, ok: false, error: 'routes[0].path: must start with "/"' }])
  })

  test('rssOf reads VmRSS from /proc: this process has one, a pid that does not exist has none', async () => {
    const rss = await rssOf(process.pid)
    expect(rss).toBeGreaterThan(process.memoryUsage().rss / 2)
    expect(await rssOf(NO_PID[0]!)).toBeNull()
  })
})
