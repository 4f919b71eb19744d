/**
 * The first stage of every pipeline: the request limits. The hardening checks of
 * guard.ts (sizes, framing, Host, the path), then the route's methods: 405 with Allow
 * (a CORS route lets its preflights on to the cors stage).
 * TRACE and CONNECT are never in a route's methods, so they always get 405.
 */
import type { ServerConfig } from '../../config/schema.ts'
import { GatewayError } from '../../kernel/errors.ts'
import type { Middleware } from '../../kernel/exchange.ts'
import type { Route } from '../../pipeline/route.ts'
import { targetLength } from '../../edge/target.ts'
import { guardRequest, type GuardLimits } from './guard.ts'

export type LimitsConfig = Pick<ServerConfig, keyof GuardLimits>

/** @example limits(route, config.server) */
export function limits(route: Route, server: LimitsConfig): Middleware {
  const { methods, allow } = route
  const guardLimits: GuardLimits = {
    maxUrlBytes: server.maxUrlBytes,
    maxHeaderBytes: server.maxHeaderBytes,
    maxBodyBytes: route.config?.maxBodyBytes ?? server.maxBodyBytes,
    underscoresInHeaders: server.underscoresInHeaders,
  }
  const notAllowed = { headers: { allow } }
  // A CORS route answers preflights itself (policies/cors), whatever its methods.
  const preflights = route.config?.cors !== undefined
  return function limits(exchange, next) {
    const raw = exchange.raw
    guardRequest(raw, exchange.path, targetLength(exchange.url), guardLimits)
    if (methods !== undefined && !methods.has(raw.method) && !(preflights && isPreflight(raw))) throw new GatewayError('method_not_allowed', notAllowed)
    return next(exchange)
  }
}

/** A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method (Fetch standard). */
function isPreflight(raw: Request): boolean {
  return raw.method === 'OPTIONS' && raw.headers.has('origin') && raw.headers.has('access-control-request-method')
}
