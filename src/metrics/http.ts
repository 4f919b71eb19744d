/**
 * Request count and duration per method, status and route: @hono/prometheus's standard
 * families (gateway_http_requests_total, gateway_http_request_duration_seconds), created by
 * @hono/prometheus in our registry. They are recorded from the serve loop rather than by
 * its middleware: that extra async layer measured +10.7% CPU per proxied request here,
 * against a 5% budget (docs/monitoring.md). `route` is the configured route's name, never
 * the raw path.
 */
import { prometheus } from '@hono/prometheus'
import type { Counter, Histogram, Registry } from 'prom-client'
import { METRICS, PREFIX, UNMATCHED_ROUTE } from './names.ts'

export interface HttpMetrics {
  /** Remembers which route answered `request` (set by the route handlers). */
  tag(request: Request, route: string): void
  /** Records one answered request. */
  record(request: Request, status: number, seconds: number): void
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const unused = () => UNMATCHED_ROUTE
  prometheus({
    registry,
    prefix: PREFIX,
    // The route label is supplied by `record`; this only declares it.
    metricOptions: { requestsTotal: { customLabels: { route: unused } }, requestDuration: { customLabels: { route: unused } } },
  })
  const requests = registry.getSingleMetric(METRICS.httpRequests) as Counter<string>
  const duration = registry.getSingleMetric(METRICS.httpDuration) as Histogram<string>
  const routes = new WeakMap<Request, string>()
  return {
    tag: (request, route) => void routes.set(request, route),
    record(request, status, seconds) {
      const labels = {
        method: request.method,
        status: String(status),
        ok: String(status >= 200 && status < 300),
        route: routes.get(request) ?? UNMATCHED_ROUTE,
      }
      requests.inc(labels)
      duration.observe(labels, seconds)
    },
  }
}
