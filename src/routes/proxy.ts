/**
 * The proxy handler: route lookup on the normalised path (404, 405 with Allow), then the
 * route's stack, chosen once per route at boot: plain forwarding, or the response cache
 * in front of it (GET/HEAD through the cache, unsafe methods invalidating it).
 */
import type { Context, Handler } from 'hono'
import type { RouteConfig, ServerConfig } from '../config/schema.ts'
import { GatewayError } from '../errors.ts'
import type { CachedRequest, ResponseCache } from '../middleware/cache/index.ts'
import { hostForRouting } from '../middleware/edge/target.ts'
import type { GatewayEnv } from '../types.ts'
import { forward, type ForwardRequest, type UpstreamObserver } from '../upstream/forward.ts'
import { sentHeaderValue } from '../upstream/headers.ts'
import type { Upstream } from '../upstream/pool.ts'
import type { UpstreamRegistry } from '../upstream/registry.ts'
import { createRouteTable, upstreamPath, type Route } from './table.ts'

export interface ProxyDeps {
  routes: readonly RouteConfig[]
  upstreams: UpstreamRegistry
  server: Pick<ServerConfig, 'maxBodyBytes' | 'idleTimeoutSeconds' | 'underscoresInHeaders'>
  /** Present when some route has `cache.enabled`. */
  cache?: ResponseCache
  observer?: UpstreamObserver
  /** Hand the forwarder the access log's timing record. */
  recordTiming?: boolean
  /** Tells request metrics which route answered. */
  tagRoute?: (request: Request, route: string) => void
}

type RouteStack = (c: Context<GatewayEnv>, route: Route, request: ForwardRequest) => Response | Promise<Response>

/** Methods that may change what a URL answers (RFC 9111 §4.4). */
const UNSAFE: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export function proxyHandler(deps: ProxyDeps): Handler<GatewayEnv> {
  const table = createRouteTable(deps.routes)
  // Resolve upstream names once; the config loader guarantees they exist.
  const upstreamOf = new Map<string, Upstream>()
  for (const route of deps.routes) upstreamOf.set(route.upstream, deps.upstreams.get(route.upstream)!)
  const { maxBodyBytes, idleTimeoutSeconds } = deps.server
  const dropUnderscores = deps.server.underscoresInHeaders === 'drop'
  const { cache, observer, recordTiming, tagRoute } = deps

  const plain: RouteStack = (_c, _route, request) => forward(request)
  // Not async: a hit is answered synchronously, without an extra promise per request.
  const cached: RouteStack = (c, route, request) => {
    const raw = request.raw
    const target = c.get('target')
    // Keys come from what the upstream is sent: a field the client stripped with
    // Connection (or an untrusted X-Forwarded-Proto) must not select what is served.
    const sent = (name: string) => sentHeaderValue(raw.headers, name, request)
    const cachedRequest: CachedRequest = {
      route: route.name,
      forward: request,
      options: route.config.cache,
      scheme: sent('x-forwarded-proto')!.toLowerCase(),
      sent,
      host: raw.headers.get('host') ?? '',
      path: target.path,
      query: target.query,
    }
    if (raw.method === 'GET' || raw.method === 'HEAD') return cache!.handle(cachedRequest)
    return forward(request).then((response) => {
      if (UNSAFE.has(raw.method)) cache!.invalidate(cachedRequest, response)
      return response
    })
  }
  const stacks = new Map<Route, RouteStack>()
  const stackOf = (route: Route) => {
    let stack = stacks.get(route)
    if (!stack) stacks.set(route, (stack = cache && route.config.cache.enabled ? cached : plain))
    return stack
  }

  return function proxy(c) {
    const raw = c.req.raw
    const target = c.get('target')
    const host = table.usesHost ? hostForRouting(raw.headers.get('host')) : undefined
    const route = table.match(host, target.path)
    if (!route) throw new GatewayError('not_found')
    c.set('routeName', route.name)
    c.set('upstreamName', route.upstream)
    tagRoute?.(raw, route.name)
    if (!route.methods.has(raw.method)) {
      throw new GatewayError('method_not_allowed', { headers: { allow: route.allow } })
    }
    const server = c.env
    const peer = c.get('peer')
    const upstream = upstreamOf.get(route.upstream)!
    return stackOf(route)(c, route, {
      raw,
      upstream,
      path: upstreamPath(route, target.path),
      query: target.query,
      requestId: c.get('requestId'),
      peerAddress: peer.address,
      peerTrusted: peer.trusted,
      preserveHost: upstream.config.preserveHost,
      dropUnderscores,
      maxBodyBytes,
      idleTimeoutSeconds,
      extendIdleTimeout: server?.timeout ? (seconds) => server.timeout!(raw, seconds) : undefined,
      observer,
      timing: recordTiming ? c.get('timing') : undefined,
    })
  }
}
