/**
 * The admin listener (loopback by default): /health for liveness, /ready for readiness,
 * POST /cache/purge to drop cached responses in every worker. Never routed through the
 * public port.
 */
import type { Server } from 'bun'
import type { GatewayConfig } from './config/schema.ts'
import { errorResponse } from './errors.ts'
import { parsePurgeSelector, type PurgeSelector } from './middleware/cache/purge.ts'

export interface AdminDeps {
  /** Ready to take traffic: all workers up and none draining. */
  isReady: () => boolean
  /** Purges every worker's cache. */
  purge: (selector: PurgeSelector) => Promise<{ purged: number; workers: number }>
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
