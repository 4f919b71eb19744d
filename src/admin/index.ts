/**
 * The admin listener (loopback by default): /health for liveness, /ready for readiness,
 * /metrics merged over every worker, POST /cache/purge to drop cached responses in every
 * worker. Never routed through the public port. With `admin.bearerToken`, /metrics and
 * purges want it. Requests whose Host is not the admin address, an IP, localhost or an
 * allowed name, or that come from a web page of another origin, are refused: a browser on
 * the host must not be usable to purge (DNS rebinding, cross-site POST).
 */
import type { Server } from 'bun'
import { isIP } from 'node:net'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { GatewayConfig } from '../config/schema.ts'
import { errorResponse } from '../kernel/errors.ts'
import { hostForRouting } from '../kernel/target.ts'
import { parsePurgeSelector, type PurgeSelector } from '../policies/cache/purge.ts'

export interface AdminDeps {
  /** Ready to take traffic: all workers up and none draining. */
  isReady: () => boolean
  /**
   * Purges every worker's cache; `shared` counts the entries the node's shared tier dropped,
   * `replicas` says whether the other replicas were told (with Redis).
   */
  purge: (selector: PurgeSelector) => Promise<{ purged: number; workers: number; shared?: number; replicas?: boolean }>
  /** The Prometheus exposition text, or undefined while metrics are off. */
  metrics: () => Promise<string> | undefined
  /** The admin settings in force (token, allowed hosts); read per request so a reload applies them. */
  settings: () => GatewayConfig['admin']
  /** Every upstream's targets, health, ejections, in-flight requests and breaker state. */
  upstreams: () => Promise<unknown>
}

const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Constant-time comparison of fixed-length digests, so neither length nor content leaks by timing. */
function tokenMatches(header: string | null, token: string): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice(7) : ''
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(given), digest(token))
}

/**
 * Host names the admin port answers to. An IP literal cannot be the result of DNS
 * rebinding (the attacker's page would carry its own domain in Host), so IPs always pass.
 */
export function createAdminHostCheck(config: Pick<GatewayConfig['admin'], 'host' | 'allowedHosts'>): (host: string | null) => boolean {
  const names = new Set(['localhost', config.host.toLowerCase(), ...config.allowedHosts.map((h) => h.toLowerCase())])
  return (hostHeader) => {
    const host = hostForRouting(hostHeader)
    if (host === undefined) return false
    const bare = host.startsWith('[') ? host.slice(1, -1) : host
    return isIP(bare) !== 0 || names.has(host)
  }
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' }
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: JSON_HEADERS })

/** Starts the listener on `listen` (admin.host and admin.port: those need a restart to change). */
export function startAdmin(listen: Pick<GatewayConfig['admin'], 'host' | 'port'>, deps: AdminDeps): Server<undefined> {
  let settings = deps.settings()
  let hostAllowed = createAdminHostCheck(settings)
  const current = () => {
    const next = deps.settings()
    if (next !== settings) {
      settings = next
      hostAllowed = createAdminHostCheck(settings)
    }
    return settings
  }
  const unauthorized = (id: string) => errorResponse('unauthorized', id, { 'www-authenticate': 'Bearer realm="admin"' })
  return Bun.serve({
    hostname: listen.host,
    port: listen.port,
    development: false,
    async fetch(req) {
      const url = new URL(req.url)
      const id = crypto.randomUUID()
      const { bearerToken: token } = current()
      const origin = req.headers.get('origin')
      // A browser sends Origin on cross-origin requests; a page of this host's own admin
      // address is the only origin that may call it.
      if (!hostAllowed(req.headers.get('host')) || (origin !== null && origin !== url.origin)) {
        return errorResponse('forbidden', id)
      }
      const authorized = token === undefined || tokenMatches(req.headers.get('authorization'), token)
      if (url.pathname === '/cache/purge') {
        if (req.method !== 'POST') return errorResponse('method_not_allowed', id, { allow: 'POST' })
        if (!authorized) return unauthorized(id)
        const selector = parsePurgeSelector(url.searchParams)
        if (!selector) return errorResponse('bad_request', id)
        return json(await deps.purge(selector))
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return errorResponse('method_not_allowed', id, { allow: 'GET, HEAD' })
      if (url.pathname === '/health') return json({ status: 'ok' })
      if (url.pathname === '/upstreams') return authorized ? json({ upstreams: await deps.upstreams() }) : unauthorized(id)
      const exposition = url.pathname === '/metrics' ? (authorized ? deps.metrics() : undefined) : undefined
      if (url.pathname === '/metrics' && !authorized) return unauthorized(id)
      if (exposition) return new Response(await exposition, { headers: { 'content-type': METRICS_CONTENT_TYPE } })
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
