/**
 * createApp(deps): the request side, and only wiring. `fetch` takes each request on its one
 * normalised path (`routingPath`) to the health route, else the route table
 * (pipeline/route-table.ts: longest prefix, host before host-less, flat in the number of
 * routes), each route's handler running the chain built for it at boot (pipeline/build.ts:
 * the built-in policies and the route's plugins around the forwarder); unmatched requests
 * run a chain of their own that answers 404.
 * Nothing wraps them: metrics and the access log observe the end of each chain
 * (pipeline/serve.ts). The route table is the router: Hono's dispatch in front of it (a
 * Context, its router's match of one catch-all, two promise hops) measured ~0.85 µs of a
 * 6.6 µs cache hit in process (bench/ledger.ts), and Hono stays where it serves users, as
 * middleware plugins (policies/plugins/hono.ts).
 */
import { accessLog } from './access-log/index.ts'
import { builtinRoute, compileRoutes } from './config/routes.ts'
import type { GatewayConfig, RouteConfig } from './config/schema.ts'
import { createEdge, createRequestIds } from './edge/index.ts'
import { errorResponse, GatewayError, refusal } from './kernel/errors.ts'
import type { Exchange } from './kernel/exchange.ts'
import { routingPath } from './kernel/target.ts'
import type { ServerBindings } from './kernel/types.ts'
import type { Logger } from './log.ts'
import { UNMATCHED_ROUTE } from './metrics/names.ts'
import type { WorkerMetrics } from './metrics/registry.ts'
import { createIpMatcher } from './net/ip-matcher.ts'
import { buildChain, createClosers, type ChainDeps } from './pipeline/build.ts'
import { compileMatcher } from './pipeline/matchers.ts'
import { createRouteTable, type RouteTableEntry } from './pipeline/route-table.ts'
import { healthHandler, healthProbe, type IsHealthy } from './pipeline/health.ts'
import { routeServers, type RouteServer, type ServeDeps } from './pipeline/serve.ts'
import { credentialQueryNames } from './policies/auth/api-key.ts'
import { consumerHeaderNames } from './policies/auth/consumer-headers.ts'
import type { ResponseCache } from './policies/cache/response-cache.ts'
import { upstreamAcceptEncoding } from './policies/compression/index.ts'
import { guardLimitsOf } from './policies/limits/index.ts'
import type { LoadedPlugin } from './policies/plugins/load.ts'
import { localStore, type RateLimitStore } from './policies/rate-limit/buckets.ts'
import { createDeadlineWheel, type DeadlineWheel } from './upstream/deadline.ts'
import { createForwarder, type RouteForwarder } from './upstream/forward.ts'
import type { UpstreamRegistry } from './upstream/registry.ts'
import type { WebSockets } from './upstream/websocket/index.ts'
import type { Tracer } from './tracing/index.ts'

export interface AppDeps {
  config: GatewayConfig
  upstreams: UpstreamRegistry
  log: Logger
  /** False while this process drains: /health answers 503. */
  isHealthy?: IsHealthy
  /** The response cache, when some route enables it. */
  cache?: ResponseCache
  metrics?: WorkerMetrics
  /** Where access-log lines go, when `log.access` is on. */
  accessLogWriter?: (line: string) => void
  /** The worker's upstream deadlines; a private wheel when absent (unit tests). */
  deadlines?: DeadlineWheel
  /** Where rate limits take tokens; buckets of this app's own when absent (unit tests). */
  rateLimits?: RateLimitStore
  /** The worker's WebSocket registry; without it upgrades are forwarded as plain requests. */
  websockets?: WebSockets
  /** The config's plugins, loaded (policies/plugins/load.ts). */
  plugins?: ReadonlyMap<string, LoadedPlugin>
  /** Collects what the chains started (JWKS refreshes), to stop it with the worker. */
  closers?: ReturnType<typeof createClosers>
  /** Spans for every request but the health path's, when `tracing` is on. */
  tracer?: Tracer
}

/** The request side of a worker: Bun.serve's `fetch` (unit tests call it without a server). */
export interface App {
  fetch(request: Request, server?: ServerBindings): Response | Promise<Response>
}

export function createApp(deps: AppDeps): App {
  const { config, log, metrics } = deps
  const { escapedSlashes, trustedProxies, healthPath } = config.server
  const logging = config.log.access.enabled && deps.accessLogWriter !== undefined

  const deadlines = deps.deadlines ?? createDeadlineWheel()
  const closers = deps.closers ?? createClosers()
  const chainDeps: ChainDeps = {
    settings: config,
    log,
    stores: { rateLimits: deps.rateLimits ?? localStore(), responseCache: deps.cache },
    metricsFor: metrics && ((route) => metrics.forPolicies(route)),
    plugins: deps.plugins ?? new Map(),
  }
  // A client may not claim an identity on any route: every consumer header name is the gateway's.
  const identityFields = consumerHeaderNames(config.routes)
  // Requests in flight on the configured routes of this worker (server.maxInflightPerWorker).
  const load = { inflight: 0, max: config.server.maxInflightPerWorker, countAfterOneTurn: config.server.http2 || config.server.h2c }
  const edgeOptions = { isTrusted: createIpMatcher(trustedProxies), trustsProxies: trustedProxies.length > 0, scheme: config.server.tls ? ('https' as const) : ('http' as const) }
  const serveDeps: ServeDeps = {
    admit: createEdge(edgeOptions),
    renderError: (err, exchange) => internalError(err, log, exchange.requestId),
    recorderFor: metrics && ((route) => metrics.http.forRoute(route)),
    rejected: metrics && ((code) => metrics.rejected(code)),
    accessLog: logging
      ? accessLog({
          sampleRate: config.log.sampleRate,
          write: deps.accessLogWriter!,
          secretQueryNames: credentialQueryNames(config.routes),
          fields: config.log.access.fields,
          tls: listenerTls(config.server.tls),
        })
      : undefined,
  }

  const health = builtinRoute('health', healthPath, ['GET', 'HEAD'])
  // Liveness probes are not traced: a span every few seconds that says nothing.
  const isHealthy = deps.isHealthy ?? (() => true)
  const serveHealth = routeServers(serveDeps)(health, buildChain(health, healthHandler(isHealthy), chainDeps, closers))
  const serveRoute = routeServers({ ...serveDeps, tracer: deps.tracer })

  // A forwarder holds nothing of a route's own (the prefix to strip is the exchange's route's):
  // routes that send to one upstream with the same settings share it, so 10,000 routes to
  // one upstream hold one forwarder, not 10,000.
  const forwarders = new Map<string, RouteForwarder>()
  const forwarderFor = (name: string, routeConfig: RouteConfig): RouteForwarder => {
    const maxBodyBytes = routeConfig.maxBodyBytes ?? config.server.maxBodyBytes
    const key = [name, maxBodyBytes, routeConfig.websocket, JSON.stringify(routeConfig.requestHeaders ?? null), JSON.stringify(routeConfig.compression ?? null)].join('\n')
    let forwarder = forwarders.get(key)
    if (forwarder) return forwarder
    forwarder = createForwarder({
      // The config loader guarantees the upstream exists.
      upstream: deps.upstreams.get(name)!,
      maxBodyBytes,
      idleTimeoutSeconds: config.server.idleTimeoutSeconds,
      dropUnderscores: config.server.underscoresInHeaders === 'drop',
      identityFields,
      requestHeaders: routeConfig.requestHeaders,
      acceptEncoding: upstreamAcceptEncoding(config.compression, routeConfig.compression),
      websockets: routeConfig.websocket ? deps.websockets : undefined,
      scheme: config.server.tls ? 'https' : 'http',
      deadlines,
      http2: config.server.http2 || config.server.h2c,
    })
    forwarders.set(key, forwarder)
    return forwarder
  }

  const entries: RouteTableEntry<RouteServer>[] = []
  for (const route of compileRoutes(config.routes)) {
    const routeConfig = route.config!
    const at = { prefix: route.prefix, host: route.host, exact: routeConfig.match?.exact, matcher: compileMatcher(routeConfig.match) }
    // Its upstream's forwarder, its split's and its mirror's, built now (shared: forwarderFor).
    const forwarderOf = (name: string) => forwarderFor(name, routeConfig)
    const forwardTo = (name: string) => forwarderOf(name).forward
    // None on a redirect-only route (no upstream, no split): what its redirect does not answer is not found.
    const terminal = routeConfig.split
      ? splitTerminal(routeConfig.split.map((entry) => entry.upstream), forwarderOf)
      : routeConfig.upstream !== undefined
        ? forwarderOf(routeConfig.upstream)
        : undefined
    entries.push({ ...at, value: serveRoute(route, buildChain(route, terminal?.forward ?? noRoute, chainDeps, closers, terminal?.context, forwardTo), load) })
  }
  const routeTable = createRouteTable(entries)

  const unmatched = builtinRoute(UNMATCHED_ROUTE, '')
  const notFound = serveRoute(unmatched, buildChain(unmatched, noRoute, chainDeps, closers))
  // Probes are answered before the route table (pipeline/health.ts); with access logging on,
  // by the route, which writes their line.
  const probe = logging
    ? undefined
    : healthProbe({
        path: healthPath,
        isHealthy,
        limits: guardLimitsOf(config.server),
        requestId: createRequestIds(edgeOptions),
        recorder: serveHealth.recorder,
      })
  return {
    fetch(request, server) {
      try {
        const url = request.url
        const probed = probe?.(request, server, url)
        if (probed !== undefined) return probed
        // The health path, else the route table (pipeline/route-table.ts), else 404.
        const path = routingPath(url, escapedSlashes)
        // Host, read once: the route table matches on it and the edge normalises it.
        const host = request.headers.get('host')
        const handler = path === healthPath ? serveHealth : (routeTable.match(path, host, request) ?? notFound)
        return handler.handle(request, server, url, path, host)
      } catch (err) {
        // Only a bug outside the pipelines (which render their own) gets here.
        return internalError(err, log)
      }
    },
  }
}

/** The one 500 of a bug: logged with its request id, by the error's class only (messages can carry addresses or paths). */
export function internalError(err: unknown, log: Pick<Logger, 'error'>, requestId: string = crypto.randomUUID()): Response {
  log.error('internal_error', { requestId, error: err instanceof Error ? err.name : typeof err })
  return errorResponse('internal_error', requestId)
}

/**
 * The access log's `tls`: Bun.serve does not tell a request's negotiated TLS version, so it is
 * the version only where the listener accepts no other (minVersion TLSv1.3), else `https`.
 */
const listenerTls = (tls: GatewayConfig['server']['tls']) => (tls ? (tls.minVersion === 'TLSv1.3' ? 'TLSv1.3' : 'https') : undefined)

/**
 * A split route's end: the forwarder of the upstream its split stage chose (exchange.upstream,
 * set before the cache); the first entry's when no stage chose (none ran: a refusal before it).
 */
function splitTerminal(names: readonly string[], forwarderOf: (name: string) => RouteForwarder): Pick<RouteForwarder, 'forward' | 'context'> {
  const byName = new Map(names.map((name) => [name, forwarderOf(name)]))
  const fallback = byName.get(names[0]!)!
  const of = (exchange: Exchange) => (exchange.upstream === undefined ? fallback : (byName.get(exchange.upstream) ?? fallback))
  return {
    forward: (exchange) => of(exchange).forward(exchange),
    context: (exchange) => of(exchange).context(exchange),
  }
}

const NOT_FOUND = new GatewayError('not_found')
const noRoute = (exchange: Exchange) => refusal(exchange.requestId, NOT_FOUND)

