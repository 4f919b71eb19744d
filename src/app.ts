/**
 * createApp(deps): the request pipeline, and only wiring. Reads like a table of contents:
 * access log → edge (peer, request id, guard) → health | proxy (cache, forward), with one
 * error renderer. Request metrics are recorded by the serve loop (worker.ts).
 */
import { Hono } from 'hono'
import type { Context } from 'hono'
import type { GatewayConfig } from './config/schema.ts'
import { GatewayError, errorResponse } from './errors.ts'
import type { Logger } from './log.ts'
import type { WorkerMetrics } from './metrics/registry.ts'
import { accessLog } from './middleware/access-log/index.ts'
import type { ResponseCache } from './middleware/cache/index.ts'
import { edge } from './middleware/edge/index.ts'
import { routingPath } from './middleware/edge/target.ts'
import { createIpMatcher } from './net/ip-matcher.ts'
import { healthHandler, type IsHealthy } from './routes/health.ts'
import { proxyHandler } from './routes/proxy.ts'
import type { GatewayEnv } from './types.ts'
import type { UpstreamRegistry } from './upstream/registry.ts'

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
}

export function createApp(deps: AppDeps): Hono<GatewayEnv> {
  const { config, log, metrics } = deps
  const { escapedSlashes } = config.server
  // The router, the cache and the forwarder all see one path: the normalised one.
  const app = new Hono<GatewayEnv>({ getPath: (request) => routingPath(request.url, escapedSlashes) })
  if (config.log.access && deps.accessLogWriter) {
    app.use('*', accessLog({ sampleRate: config.log.sampleRate, write: deps.accessLogWriter }))
  }
  app.use('*', edge({ isTrusted: createIpMatcher(config.server.trustedProxies), limits: config.server }))
  const tagRoute = metrics ? metrics.http.tag : undefined
  app.all(config.server.healthPath, healthHandler(deps.isHealthy ?? (() => true), tagRoute))
  app.all(
    '*',
    proxyHandler({
      routes: config.routes,
      upstreams: deps.upstreams,
      server: config.server,
      cache: deps.cache,
      observer: metrics?.upstream,
      tagRoute,
      recordTiming: config.log.access,
    })
  )
  app.onError((err, c) => renderError(err, c, log, metrics))
  return app
}

/** The one error renderer: catalogue errors as small JSON, anything else as a logged 500. */
function renderError(err: Error, c: Context<GatewayEnv>, log: Logger, metrics?: WorkerMetrics): Response {
  const id = c.get('requestId') ?? crypto.randomUUID()
  if (err instanceof GatewayError) {
    if (err.status < 500 && err.code !== 'client_closed') metrics?.rejected(err.code)
    return errorResponse(err.code, id, err.headers, err.closeConnection)
  }
  // A bug, not bad input: name the error class only; messages can carry addresses or paths.
  log.error('internal_error', { requestId: id, error: err.name })
  return errorResponse('internal_error', id)
}
