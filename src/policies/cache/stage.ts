/**
 * The cache as a pipeline stage, for routes with `cache.enabled`: GET and HEAD go through
 * the response cache (which reaches the upstream through the route's forwarder itself:
 * it sends its own validators); an unsafe method goes on down the pipeline, and its 2xx or
 * 3xx answer invalidates what it changed (RFC 9111 §4.4). Other methods pass untouched.
 */
import type { RouteCacheConfig } from '../../config/schema.ts'
import type { Exchange, Middleware } from '../../kernel/exchange.ts'
import type { RouteForwarder } from '../../upstream/forward.ts'
import { sentHeaderValue } from '../../upstream/headers.ts'
import { isWebSocketUpgrade } from '../../upstream/websocket/index.ts'
import type { CachedRequest, ResponseCache } from './index.ts'

/** Methods that may change what a URL answers (RFC 9111 §4.4). */
const UNSAFE: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export function cacheStage(responses: ResponseCache, options: RouteCacheConfig, forwarder: RouteForwarder): Middleware {
  const cachedRequest = (exchange: Exchange): CachedRequest => {
    const headers = exchange.raw.headers
    const context = forwarder.context(exchange)
    // Keys come from what the upstream is sent: a field the client stripped with
    // Connection (or an untrusted X-Forwarded-Proto) must not select what is served.
    const sent = (name: string) => sentHeaderValue(headers, name, context)
    // From an untrusted peer the gateway sends X-Forwarded-Proto: http itself.
    const scheme = exchange.trusted ? sent('x-forwarded-proto')!.toLowerCase() : (context.scheme ?? 'http')
    return { exchange, forwarder, options, scheme, sent, host: headers.get('host') ?? '' }
  }
  return function cache(exchange, next) {
    const method = exchange.raw.method
    // A WebSocket upgrade the route proxies is a GET, but nothing of it is cacheable.
    const upgrade = exchange.route.config?.websocket === true && isWebSocketUpgrade(exchange.raw)
    if ((method === 'GET' || method === 'HEAD') && !upgrade) return responses.handle(cachedRequest(exchange))
    const answer = next(exchange)
    if (!UNSAFE.has(method)) return answer
    return Promise.resolve(answer).then((response) => {
      responses.invalidate(cachedRequest(exchange), response)
      return response
    })
  }
}
