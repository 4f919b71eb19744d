/**
 * The admin listener (loopback by default): /health for liveness, /ready for readiness,
 * /metrics merged over every worker (optionally behind a bearer token), POST /cache/purge
 * to drop cached responses in every worker. Never routed through the public port.
 */
import type { Server } from 'bun'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { GatewayConfig } from './config/schema.ts'
import { errorResponse } from './errors.ts'
import { parsePurgeSelector, type PurgeSelector } from './middleware/cache/purge.ts'

export interface AdminDeps {
  /** Ready to take traffic: all workers up and none draining. */
  isReady: () => boolean
  /** Purges every worker's cache. */
  purge: (selector: PurgeSelector) => Promise<{ purged: number; workers: number }>
  /** The Prometheus exposition text; absent when metrics are off. */
  metrics?: () => Promise<string>
  /** When set, /metrics wants `Authorization: Bearer <token>`. */
  metricsToken?: string
}

const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Constant-time comparison of fixed-length digests, so neither length nor content leaks by timing. */
function tokenMatches(header: string | null, token: string): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice(7) : ''
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(given), digest(token))
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' }
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: JSON_HEADERS })

export function startAdmin(config: GatewayConfig['admin'], deps: AdminDeps): Server<undefined> {
  return Bun.serve({
    hostname: config.host,
    port: config.port,
    development: false,
    async fetch(req) {
      const url = new URL(req.url)
      const id = crypto.randomUUID()
      if (url.pathname === '/cache/purge') {
        if (req.method !== 'POST') return errorResponse('method_not_allowed', id, { allow: 'POST' })
        const selector = parsePurgeSelector(url.searchParams)
        if (!selector) return errorResponse('bad_request', id)
        return json(await deps.purge(selector))
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return errorResponse('method_not_allowed', id, { allow: 'GET, HEAD' })
      if (url.pathname === '/health') return json({ status: 'ok' })
      if (url.pathname === '/metrics' && deps.metrics) {
        if (deps.metricsToken !== undefined && !tokenMatches(req.headers.get('authorization'), deps.metricsToken)) {
          return new Response('{"error":"unauthorized","status":401}', {
            status: 401,
            headers: { ...JSON_HEADERS, 'www-authenticate': 'Bearer realm="metrics"' },
          })
        }
        return new Response(await deps.metrics(), { headers: { 'content-type': METRICS_CONTENT_TYPE } })
      }
      if (url.pathname === '/ready') {
        const ready = deps.isReady()
        return json({ status: ready ? 'ready' : 'not_ready' }, ready ? 200 : 503)
      }
      return errorResponse('not_found', id)
    },
    error() {
      return errorResponse('internal_error', crypto.randomUUID())
    },
  })
}
