/**
 * createApp(deps): the request pipeline, and only wiring. Reads like a table of contents:
 * edge (peer, request id, guard) → health | proxy, with one error renderer.
 */
import { Hono } from 'hono'
import type { Context } from 'hono'
import type { GatewayConfig } from './config/schema.ts'
import { GatewayError, errorResponse } from './errors.ts'
import type { Logger } from './log.ts'
import { edge } from './middleware/edge/index.ts'
import { createIpMatcher } from './net/ip-matcher.ts'
import { healthHandler, type IsHealthy } from './routes/health.ts'
import { proxyHandler } from './routes/proxy.ts'
import type { GatewayEnv } from './types.ts'
import type { UpstreamRegistry } from './upstream/registry.ts'
import type { ResponseCache } from './middleware/cache/index.ts'

export interface AppDeps {
  config: GatewayConfig
  upstreams: UpstreamRegistry
  log: Logger
  /** False while this process drains: /health answers 503. */
  isHealthy?: IsHealthy
  /** The response cache, when some route enables it. */
  cache?: ResponseCache
}

export function createApp(deps: AppDeps): Hono<GatewayEnv> {
  const { config, log } = deps
  const app = new Hono<GatewayEnv>()
  app.use('*', edge({ isTrusted: createIpMatcher(config.server.trustedProxies), limits: config.server }))
  app.all(config.server.healthPath, healthHandler(deps.isHealthy ?? (() => true)))
  app.all('*', proxyHandler({ routes: config.routes, upstreams: deps.upstreams, server: config.server, cache: deps.cache }))
  app.onError((err, c) => renderError(err, c, log))
  return app
}

/** The one error renderer: catalogue errors as small JSON, anything else as a logged 500. */
function renderError(err: Error, c: Context<GatewayEnv>, log: Logger): Response {
  const id = c.get('requestId') ?? crypto.randomUUID()
  if (err instanceof GatewayError) return errorResponse(err.code, id, err.headers, err.closeConnection)
  // A bug, not bad input: name the error class only; messages can carry addresses or paths.
  log.error('internal_error', { requestId: id, error: err.name })
  return errorResponse('internal_error', id)
}
