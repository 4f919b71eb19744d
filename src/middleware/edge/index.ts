/**
 * The edge of every request, in one middleware (each Hono middleware layer costs an async
 * frame on the hot path): who the peer is and whether it is trusted, the request id,
 * the hardening checks, and the request-target split once for routing and forwarding.
 */
import type { MiddlewareHandler } from 'hono'
import type { IpMatcher } from '../../net/ip-matcher.ts'
import type { GatewayEnv } from '../../types.ts'
import { guardRequest, type GuardLimits } from './guard.ts'
import { requestIdFor } from './request-id.ts'
import { splitTarget } from './target.ts'

export interface EdgeOptions {
  isTrusted: IpMatcher
  limits: GuardLimits
  generateId?: () => string
}

/**
 * Expects the app's `getPath` to be `routingPath`: `c.req.path` is then the normalised
 * path the router matched, and the one forwarded and cached by.
 * @example app.use('*', edge({ isTrusted: createIpMatcher([]), limits: config.server }))
 */
export function edge(options: EdgeOptions): MiddlewareHandler<GatewayEnv> {
  const { isTrusted, limits } = options
  const generateId = options.generateId ?? (() => crypto.randomUUID())
  // Not async: nothing happens after next(), so no await frame on the hot path. Every
  // response producer sets X-Request-Id itself (forward, cache, health, errorResponse).
  return function edge(c, next) {
    const raw = c.req.raw
    const address = c.env?.requestIP?.(raw)?.address
    const trusted = isTrusted(address)
    const id = requestIdFor(raw.headers, trusted, generateId)
    c.set('peer', { address, trusted })
    c.set('requestId', id)
    const target = splitTarget(raw.url)
    const path = c.req.path
    guardRequest(raw, path, target.length, limits)
    c.set('target', { path, query: target.query })
    return next()
  }
}
