/**
 * The first stage of every pipeline: the request limits. The hardening checks of
 * guard.ts (sizes, framing, Host, the path), then the route's methods: 405 with Allow.
 * TRACE and CONNECT are never in a route's methods, so they always get 405.
 */
import type { ServerConfig } from '../../config/schema.ts'
import { GatewayError } from '../../errors.ts'
import type { Middleware } from '../../pipeline/exchange.ts'
import type { Route } from '../../pipeline/route.ts'
import { targetLength } from '../edge/target.ts'
import { guardRequest, type GuardLimits } from './guard.ts'

export type LimitsConfig = Pick<ServerConfig, keyof GuardLimits>

/** @example limits(route, config.server) */
export function limits(route: Route, server: LimitsConfig): Middleware {
  const { methods, allow } = route
  const guardLimits: GuardLimits = {
    maxUrlBytes: server.maxUrlBytes,
    maxHeaderBytes: server.maxHeaderBytes,
    maxBodyBytes: server.maxBodyBytes,
    underscoresInHeaders: server.underscoresInHeaders,
  }
  const notAllowed = { headers: { allow } }
  return function limits(exchange, next) {
    const raw = exchange.raw
    guardRequest(raw, exchange.path, targetLength(exchange.url), guardLimits)
    if (methods !== undefined && !methods.has(raw.method)) throw new GatewayError('method_not_allowed', notAllowed)
    return next(exchange)
  }
}
