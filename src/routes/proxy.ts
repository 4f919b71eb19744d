/**
 * The proxy handler: route lookup on the normalised path (404, 405 with Allow), then forward.
 * Everything per route is resolved at boot; the request path only matches and forwards.
 */
import type { Handler } from 'hono'
import { GatewayError } from '../errors.ts'
import { hostForRouting } from '../middleware/edge/target.ts'
import { forward } from '../upstream/forward.ts'
import type { Upstream } from '../upstream/pool.ts'
import type { UpstreamRegistry } from '../upstream/registry.ts'
import type { GatewayEnv } from '../types.ts'
import { createRouteTable, upstreamPath } from './table.ts'
import type { RouteConfig, ServerConfig } from '../config/schema.ts'

export interface ProxyDeps {
  routes: readonly RouteConfig[]
  upstreams: UpstreamRegistry
  server: Pick<ServerConfig, 'maxBodyBytes' | 'idleTimeoutSeconds'>
}

export function proxyHandler(deps: ProxyDeps): Handler<GatewayEnv> {
  const table = createRouteTable(deps.routes)
  // Resolve upstream names once; the config loader guarantees they exist.
  const upstreamOf = new Map<string, Upstream>()
  for (const route of deps.routes) upstreamOf.set(route.upstream, deps.upstreams.get(route.upstream)!)
  const { maxBodyBytes, idleTimeoutSeconds } = deps.server

  return function proxy(c) {
    const raw = c.req.raw
    const target = c.get('target')
    const host = table.usesHost ? hostForRouting(raw.headers.get('host')) : undefined
    const route = table.match(host, target.path)
    if (!route) throw new GatewayError('not_found')
    if (!route.methods.has(raw.method)) {
      throw new GatewayError('method_not_allowed', { headers: { allow: route.allow } })
    }
    const server = c.env
    const peer = c.get('peer')
    return forward({
      raw,
      upstream: upstreamOf.get(route.upstream)!,
      path: upstreamPath(route, target.path),
      query: target.query,
      requestId: c.get('requestId'),
      peerAddress: peer.address,
      peerTrusted: peer.trusted,
      maxBodyBytes,
      idleTimeoutSeconds,
      extendIdleTimeout: server?.timeout ? (seconds) => server.timeout!(raw, seconds) : undefined,
    })
  }
}
