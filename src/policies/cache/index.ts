/**
 * `routes[].cache`: the response cache as an ordinary stage of the chain. GET and HEAD go
 * through it: a hit answers; a miss or a revalidation calls the rest of the chain and stores
 * what comes back (response-cache.ts). An unsafe method goes on down the chain, and its 2xx
 * or 3xx answer invalidates what it changed (RFC 9111 §4.4). Other methods pass untouched.
 * Stages after it (a plugin at `afterCache`) see misses and revalidations, never hits.
 */
import type { Exchange } from '../../kernel/exchange.ts'
import { isWebSocketUpgrade, sentHeaderValue } from '../../kernel/forwarding.ts'
import type { Handler } from '../../kernel/stage.ts'
import { defineBuiltin } from '../builtin.ts'
import { SPLIT_FIELD } from './key.ts'
import type { CachedRequest, ResponseCache } from './response-cache.ts'

declare module '../../kernel/policy.ts' {
  interface Stores {
    /** The worker's response cache, when some route caches. */
    responseCache?: ResponseCache
  }
}

/** Methods that may change what a URL answers (RFC 9111 §4.4). */
const UNSAFE: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export const cachePolicy = defineBuiltin({
  name: 'cache',
  phase: 'cache',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).routeCacheSchema.prefault({}),
  build(options, context) {
    const responses = context.stores.responseCache
    if (!options?.enabled || !responses) return undefined
    const websocket = context.route.config?.websocket === true
    // A split route's answers are kept per upstream chosen (the split stage runs first).
    const splits = context.route.config?.split !== undefined
    const cachedRequest = (exchange: Exchange, next: Handler): CachedRequest => {
      const headers = exchange.requestFields
      const forwarding = context.forwarding(exchange)
      // Keys come from what the upstream is sent: a field the client stripped with
      // Connection (or an untrusted X-Forwarded-Proto) must not select what is served.
      const sent = splits
        ? (name: string) => (name === SPLIT_FIELD ? (exchange.upstream ?? null) : sentHeaderValue(headers, name, forwarding))
        : (name: string) => sentHeaderValue(headers, name, forwarding)
      // From an untrusted peer the gateway sends X-Forwarded-Proto: http itself.
      const scheme = exchange.trusted ? sent('x-forwarded-proto')!.toLowerCase() : (forwarding.scheme ?? 'http')
      return { exchange, next, options, scheme, sent, host: exchange.host ?? '' }
    }
    return function cache(exchange, next) {
      const method = exchange.raw.method
      // A WebSocket upgrade the route proxies is a GET, but nothing of it is cacheable.
      const upgrade = websocket && isWebSocketUpgrade(method, exchange.requestFields)
      if ((method === 'GET' || method === 'HEAD') && !upgrade) return responses.handle(cachedRequest(exchange, next))
      const answer = next(exchange)
      if (!UNSAFE.has(method)) return answer
      return Promise.resolve(answer).then((response) => {
        responses.invalidate(cachedRequest(exchange, next), response)
        return response
      })
    }
  },
})
