/**
 * createApp(deps): the request side, and only wiring. Hono's router is the one router, on
 * the one normalised path (`getPath`). Registered in precedence order: the health route,
 * then every configured route (most specific first), each as one handler running the
 * pipeline built for it at boot (pipeline/build.ts); unmatched requests run a pipeline of
 * their own that answers 404. Nothing wraps them: metrics and the access log observe the
 * end of each pipeline (pipeline/serve.ts).
 */
import { Hono } from 'hono'
import { consumerHeaderNames, type GatewayConfig } from './config/schema.ts'
import { GatewayError, errorResponse } from './kernel/errors.ts'
import type { Logger } from './log.ts'
import { UNMATCHED_ROUTE } from './metrics/names.ts'
import type { WorkerMetrics } from './metrics/registry.ts'
import { accessLog } from './access-log/index.ts'
import { consumerIndex, credentialQueryNames } from './policies/auth/api-key.ts'
import { localStore, type RateLimitStore } from './policies/rate-limit/buckets.ts'
import type { ResponseCache } from './policies/cache/index.ts'
import { createEdge } from './edge/index.ts'
import { routingPath } from './edge/target.ts'
import { createIpMatcher } from './net/ip-matcher.ts'
import { buildPipeline, type PipelineDeps } from './pipeline/build.ts'
import type { Exchange } from './kernel/exchange.ts'
import { builtinRoute, compileRoutes, routePatterns, type Route } from './pipeline/route.ts'
import { serveRoute, type ServeDeps } from './pipeline/serve.ts'
import { healthHandler, type IsHealthy } from './pipeline/health.ts'
import type { GatewayEnv } from './kernel/types.ts'
import { createDeadlineWheel, type DeadlineWheel } from './upstream/deadline.ts'
import { createForwarder, type RouteForwarder } from './upstream/forward.ts'
import type { UpstreamRegistry } from './upstream/registry.ts'
import type { WebSockets } from './upstream/websocket/index.ts'

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
}

export function createApp(deps: AppDeps): Hono<GatewayEnv> {
  const { config, log, metrics } = deps
  const { escapedSlashes, trustedProxies, healthPath } = config.server
  const app = new Hono<GatewayEnv>({ getPath: (request) => routingPath(request.url, escapedSlashes) })
  const logging = config.log.access && deps.accessLogWriter !== undefined

  const deadlines = deps.deadlines ?? createDeadlineWheel()
  const forwarders = new Map<Route, RouteForwarder>()
  const pipelineDeps: PipelineDeps = {
    config,
    cache: deps.cache,
    forwarderOf: (route) => forwarders.get(route),
    consumers: consumerIndex(config.consumers),
    log,
    rateLimits: deps.rateLimits ?? localStore(),
    rateLimited: metrics && ((route) => metrics.rateLimited(route)),
    authFailed: metrics && ((route, reason) => metrics.authFailed(route, reason)),
  }
  // A client may not claim an identity on any route: every consumer header name is the gateway's.
  const identityFields = consumerHeaderNames(config.routes)
  // Requests in flight on the configured routes of this worker (server.maxInflightPerWorker).
  const load = { inflight: 0, max: config.server.maxInflightPerWorker }
  const serveDeps: ServeDeps = {
    admit: createEdge({ isTrusted: createIpMatcher(trustedProxies), trustsProxies: trustedProxies.length > 0, scheme: config.server.tls ? 'https' : 'http' }),
    renderError: (err, exchange) => renderError(err, exchange, log, metrics),
    recorderFor: metrics && ((route) => metrics.http.forRoute(route)),
    accessLog: logging
      ? accessLog({ sampleRate: config.log.sampleRate, write: deps.accessLogWriter!, secretQueryNames: credentialQueryNames(config.routes) })
      : undefined,
  }

  const health = builtinRoute('health', healthPath, ['GET', 'HEAD'])
  app.all(healthPath, serveRoute(health, buildPipeline(health, healthHandler(deps.isHealthy ?? (() => true)), pipelineDeps), serveDeps))

  for (const route of compileRoutes(config.routes)) {
    const routeConfig = route.config!
    const forwarder = createForwarder({
      // The config loader guarantees the upstream exists.
      upstream: deps.upstreams.get(routeConfig.upstream)!,
      prefix: route.prefix,
      stripPrefix: routeConfig.stripPrefix,
      maxBodyBytes: routeConfig.maxBodyBytes ?? config.server.maxBodyBytes,
      idleTimeoutSeconds: config.server.idleTimeoutSeconds,
      dropUnderscores: config.server.underscoresInHeaders === 'drop',
      identityFields,
      requestHeaders: routeConfig.requestHeaders,
      websockets: routeConfig.websocket ? deps.websockets : undefined,
      scheme: config.server.tls ? 'https' : 'http',
      deadlines,
    })
    forwarders.set(route, forwarder)
    const handler = serveRoute(route, buildPipeline(route, forwarder.forward, pipelineDeps), serveDeps, load)
    for (const pattern of routePatterns(route.prefix)) app.all(pattern, handler)
  }

  const unmatched = builtinRoute(UNMATCHED_ROUTE, '')
  const notFound = serveRoute(unmatched, buildPipeline(unmatched, noRoute, pipelineDeps), serveDeps)
  app.notFound((c) => notFound(c, async () => {}) as Response | Promise<Response>)
  // Only a bug outside the pipelines (Hono itself) gets here.
  app.onError((err) => {
    log.error('internal_error', { error: err.name })
    return errorResponse('internal_error', crypto.randomUUID())
  })
  return app
}

function noRoute(): never {
  throw new GatewayError('not_found')
}

/** The one error renderer: catalogue errors as small JSON, anything else as a logged 500. */
function renderError(err: unknown, exchange: Exchange, log: Logger, metrics?: WorkerMetrics): Response {
  const id = exchange.requestId
  if (err instanceof GatewayError) {
    if ((err.status < 500 && err.code !== 'client_closed') || err.code === 'overloaded') metrics?.rejected(err.code)
    return errorResponse(err.code, id, err.headers, err.closeConnection)
  }
  // A bug, not bad input: name the error class only; messages can carry addresses or paths.
  log.error('internal_error', { requestId: id, error: err instanceof Error ? err.name : typeof err })
  return errorResponse('internal_error', id)
}
