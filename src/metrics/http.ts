/**
 * Request count and duration per method, status and route: the standard families
 * gateway_http_requests_total and gateway_http_request_duration_seconds, with the label set
 * @hono/prometheus defines (method, status, ok, route). Each route gets its recorder at
 * boot; a request costs two map reads and two increments (docs/monitoring.md). `route` is
 * the configured route's name, never the raw path; unknown methods count as OTHER, so a
 * client cannot add series.
 */
import type { Registry } from 'prom-client'
import { createCounterFamily, createHistogramFamily, type CounterChild, type HistogramChild } from './family.ts'
import { LATENCY_BUCKETS, METRICS } from './names.ts'

export interface RequestRecorder {
  /** Records one answered request. */
  record(method: string, status: number, seconds: number): void
}

export interface HttpMetrics {
  /** The recorder of one route (or of `health`, or of unmatched requests). */
  forRoute(route: string): RequestRecorder
}

const LABELS = ['method', 'status', 'ok', 'route'] as const
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'])

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const requests = createCounterFamily(registry, {
    name: METRICS.httpRequests,
    help: 'Requests answered, by method (OTHER for an unknown one), status, ok ("true" for a 2xx status, else "false") and route',
    labelNames: LABELS,
  })
  const duration = createHistogramFamily(registry, {
    name: METRICS.httpDuration,
    help: 'Time to the response head in seconds, by method, status, ok ("true" for a 2xx status, else "false") and route',
    labelNames: LABELS,
    buckets: LATENCY_BUCKETS,
  })
  return {
    forRoute(route) {
      const byStatus = new Map<number, Map<string, { count: CounterChild; duration: HistogramChild }>>()
      return {
        record(method, status, seconds) {
          let byMethod = byStatus.get(status)
          if (!byMethod) byStatus.set(status, (byMethod = new Map()))
          let cell = byMethod.get(method)
          if (!cell) {
            const label = KNOWN_METHODS.has(method) ? method : 'OTHER'
            const labels = [label, String(status), String(status >= 200 && status < 300), route]
            cell = { count: requests.child(...labels), duration: duration.child(...labels) }
            byMethod.set(method, cell)
          }
          cell.count.inc()
          cell.duration.observe(seconds)
        },
      }
    },
  }
}
