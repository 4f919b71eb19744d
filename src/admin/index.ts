/**
 * The admin listener (loopback by default): /health for liveness, /ready for readiness,
 * /metrics merged over every worker, POST /cache/purge to drop cached responses in every
 * worker, and the admin page (/) with its /status.json. Never routed through the public
 * port. With `admin.bearerToken`, everything but /health and /ready wants it: as a bearer
 * header, or for the page and its JSON a session cookie from POST /login (session.ts says
 * why). Requests whose Host is not the admin address, an IP, localhost or an allowed name,
 * or that come from a web page of another origin, are refused: a browser on the host must
 * not be usable to purge or log in (DNS rebinding, cross-site POST).
 */
import type { Server } from 'bun'
import { isIP } from 'node:net'
import type { GatewayConfig } from '../config/schema.ts'
import { errorResponse } from '../kernel/errors.ts'
import { hostForRouting } from '../kernel/target.ts'
import { parsePurgeSelector, type PurgeSelector } from '../policies/cache/purge.ts'
import { ADMIN_PAGE, loginPage, PAGE_HEADERS } from './page.ts'
import { bearerMatches, CLEAR_COOKIE, createSessions, tokenMatches } from './session.ts'
import type { AdminStatus } from './status.ts'

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
  /** Every upstream's targets, health (`unknown` where no check runs), ejections, in-flight requests and breaker state. */
  upstreams: () => Promise<unknown>
  /** What the admin page shows (status.ts). */
  status: () => Promise<AdminStatus>
}

const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** The login form's body is one short field; anything larger is not a login. */
const MAX_BODY_BYTES = 16 * 1024

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

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }
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
  const sessions = createSessions()
  const page = (body: string, status = 200, extra: Record<string, string> = {}) => new Response(body, { status, headers: { ...PAGE_HEADERS, ...extra } })
  const redirectHome = (cookie: string) => new Response(null, { status: 303, headers: { location: '/', 'set-cookie': cookie, 'cache-control': 'no-store' } })
  return Bun.serve({
    hostname: listen.host,
    port: listen.port,
    development: false,
    maxRequestBodySize: MAX_BODY_BYTES,
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
      const authorized = token === undefined || bearerMatches(req.headers.get('authorization'), token)
      // The session cookie opens the page and its JSON only: it never purges or scrapes.
      const viewer = authorized || sessions.valid(req.headers.get('cookie'), token!)
      if (url.pathname === '/cache/purge') {
        if (req.method !== 'POST') return errorResponse('method_not_allowed', id, { allow: 'POST' })
        if (!authorized) return unauthorized(id)
        const selector = parsePurgeSelector(url.searchParams)
        if (!selector) return errorResponse('bad_request', id)
        return json(await deps.purge(selector))
      }
      if (url.pathname === '/login' || url.pathname === '/logout') {
        if (req.method !== 'POST') return errorResponse('method_not_allowed', id, { allow: 'POST' })
        if (url.pathname === '/logout' || token === undefined) return redirectHome(CLEAR_COOKIE)
        const form = req.headers.get('content-type')?.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(await req.text()) : undefined
        if (!form) return errorResponse('bad_request', id)
        if (!tokenMatches(form.get('token') ?? '', token)) return page(loginPage(true), 401, { 'www-authenticate': 'Bearer realm="admin"' })
        return redirectHome(sessions.issue(token))
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return errorResponse('method_not_allowed', id, { allow: 'GET, HEAD' })
      if (url.pathname === '/health') return json({ status: 'ok' })
      // RFC 9110 §15.5.2: a 401 carries WWW-Authenticate; Bearer makes no browser show a dialog.
      if (url.pathname === '/') return viewer ? page(ADMIN_PAGE) : page(loginPage(false), 401, { 'www-authenticate': 'Bearer realm="admin"' })
      if (url.pathname === '/status.json') return viewer ? json({ ...(await deps.status()), auth: token !== undefined }) : unauthorized(id)
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
