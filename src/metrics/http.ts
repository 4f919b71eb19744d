/**
 * Request count and duration per method, status and route: the standard families
 * gateway_http_requests_total and gateway_http_request_duration_seconds, with the label set
 * @hono/prometheus defines (method, status, ok, route); and body bytes in and out per route.
 * Each route gets its recorder at boot; a request costs two map reads and up to four
 * increments (docs/monitoring.md). `route` is
 * the configured route's name, never the raw path; unknown methods count as OTHER, so a
 * client cannot add series.
 */
import type { Registry } from 'prom-client'
import { createCounterFamily, createHistogramFamily, type CounterChild, type HistogramChild } from './family.ts'
import { LATENCY_BUCKETS, METRICS } from './names.ts'

export interface RequestRecorder {
  /**
   * Records one answered request; `requestBytes` and `responseBytes` are the two heads'
   * declared body lengths (`declaredLength`), which the caller may know without reading a head.
   */
  record(method: string, status: number, seconds: number, requestBytes: number, responseBytes: number): void
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
  const requestBytes = createCounterFamily(registry, {
    name: METRICS.requestBytes.name,
    help: 'Request body bytes per route, as declared by Content-Length (a chunked body without one is not counted); a route appears with its first body',
    labelNames: METRICS.requestBytes.labels,
  })
  const responseBytes = createCounterFamily(registry, {
    name: METRICS.responseBytes.name,
    help: 'Response body bytes per route, as declared by Content-Length: upstream answers, cache hits and the gateway\'s own error bodies (a chunked body without one, HEAD and 304 answers are not counted); a route appears with its first body',
    labelNames: METRICS.responseBytes.labels,
  })
  const families: Families = { requests, duration, requestBytes, responseBytes }
  return { forRoute: (route) => new RouteRecorder(route, families) }
}

interface Families {
  requests: ReturnType<typeof createCounterFamily>
  duration: ReturnType<typeof createHistogramFamily>
  requestBytes: ReturnType<typeof createCounterFamily>
  responseBytes: ReturnType<typeof createCounterFamily>
}

/**
 * One route's recorder: its series are found once, on first use (a class, not closures: a
 * worker holds one per route, and 10,000 routes hold 10,000 of these).
 */
class RouteRecorder implements RequestRecorder {
  private byStatus: Map<number, Map<string, { count: CounterChild; duration: HistogramChild }>> | undefined = undefined
  private bytesIn: CounterChild | undefined = undefined
  private bytesOut: CounterChild | undefined = undefined

  constructor(
    private readonly route: string,
    private readonly families: Families
  ) {}

  record(method: string, status: number, seconds: number, requestBytes: number, responseBytes: number): void {
    const { route, families } = this
    if (requestBytes > 0) (this.bytesIn ??= families.requestBytes.child(route)).inc(requestBytes)
    // A HEAD or 304 answer may declare the length of a body it does not carry (RFC 9110 §8.6).
    const answered = method === 'HEAD' || status === 304 ? 0 : responseBytes
    if (answered > 0) (this.bytesOut ??= families.responseBytes.child(route)).inc(answered)
    const byStatus = (this.byStatus ??= new Map())
    let byMethod = byStatus.get(status)
    if (!byMethod) byStatus.set(status, (byMethod = new Map()))
    let cell = byMethod.get(method)
    if (!cell) {
      const label = KNOWN_METHODS.has(method) ? method : 'OTHER'
      const labels = [label, String(status), String(status >= 200 && status < 300), route]
      cell = { count: families.requests.child(...labels), duration: families.duration.child(...labels) }
      byMethod.set(method, cell)
    }
    cell.count.inc()
    cell.duration.observe(seconds)
  }
}

/** A head's Content-Length as a number; 0 when absent (Bun.serve refused a malformed one already). */
export function declaredLength(headers: Pick<Headers, 'get'>): number {
  const value = headers.get('content-length')
  return value === null ? 0 : Number(value) || 0
}
