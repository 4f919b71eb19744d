/**
 * The admin listener (loopback by default): /health for liveness, /ready for readiness.
 * Never routed through the public port.
 */
import type { Server } from 'bun'
import type { GatewayConfig } from './config/schema.ts'
import { errorResponse } from './errors.ts'

export interface AdminDeps {
  /** Ready to take traffic: all workers up and none draining. */
  isReady: () => boolean
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' }

export function startAdmin(config: GatewayConfig['admin'], deps: AdminDeps): Server<undefined> {
  return Bun.serve({
    hostname: config.host,
    port: config.port,
    development: false,
    fetch(req) {
      const path = req.url.slice(req.url.indexOf('/', req.url.indexOf('://') + 3))
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return errorResponse('method_not_allowed', crypto.randomUUID(), { allow: 'GET, HEAD' })
      }
      if (path === '/health') return new Response('{"status":"ok"}', { headers: JSON_HEADERS })
      if (path === '/ready') {
        const ready = deps.isReady()
        return new Response(ready ? '{"status":"ready"}' : '{"status":"not_ready"}', {
          status: ready ? 200 : 503,
          headers: JSON_HEADERS,
        })
      }
      return errorResponse('not_found', crypto.randomUUID())
    },
    error() {
      return errorResponse('internal_error', crypto.randomUUID())
    },
  })
}
