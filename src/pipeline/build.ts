/**
 * Where a route's chain is built. At boot each route becomes one function: its stages,
 * taken from SLOTS in a fixed order (request limits → CORS → response header rules → auth
 * → rate limit → cache), composed
 * around its terminal (forward, or the gateway's own answer). A slot whose config does
 * not apply to the route builds nothing and costs nothing per request. A request pays one
 * plain call per stage: no async frame per layer, no closure made per request.
 *
 * To add a middleware: write `src/middleware/<name>/` (its factory, its schema, its tests),
 * then give it its slot here (docs/pipeline.md).
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import { apiKeyAuth } from '../policies/auth/api-key.ts'
import { failureLimit } from '../policies/auth/failure-limit.ts'
import { jwtAuth } from '../policies/auth/jwt.ts'
import { cors } from '../policies/cors/index.ts'
import { responseHeaderRules } from '../policies/response-headers/index.ts'
import { limits } from '../policies/limits/index.ts'
import type { RateLimitStore } from '../policies/rate-limit/buckets.ts'
import { rateLimit } from '../policies/rate-limit/index.ts'
import { cacheStage } from '../policies/cache/stage.ts'
import type { ResponseCache } from '../policies/cache/index.ts'
import type { RouteForwarder } from '../upstream/forward.ts'
import type { Exchange, Handler, Middleware } from '../kernel/exchange.ts'
import type { Route } from './route.ts'

/** What stages are built from. */
export interface PipelineDeps {
  config: GatewayConfig
  /** The response cache, when some route enables it. */
  cache?: ResponseCache
  /** The forwarder of a proxied route (one per route, shared by the cache and the terminal). */
  forwarderOf(route: Route): RouteForwarder | undefined
  /** Consumers by API-key digest (middleware/auth). */
  consumers: ReadonlyMap<string, string>
  /** Counts a refused credential (metrics): missing, unknown, invalid, expired. */
  authFailed?(route: string, reason: string): void
  /** For what happens outside requests (a failed JWKS refresh). */
  log?: Logger
  /** The node's token buckets. */
  rateLimits: RateLimitStore
  /** Counts a request refused by a route's rate limit (metrics). */
  rateLimited?(route: string): void
}

/** One place in the chain, keyed by the config field that fills it. */
export interface Slot {
  readonly name: string
  /** The stage for `route`, or undefined when the route does not use this slot. */
  build(route: Route, deps: PipelineDeps): Middleware | undefined
}

/** The slots, in the order a request meets them. */
export const SLOTS: readonly Slot[] = [
  { name: 'limits', build: (route, deps) => limits(route, deps.config.server) },
  // Outside auth: a preflight carries no credential, and a refusal must stay readable.
  {
    name: 'cors',
    build: (route) => (route.config?.cors ? cors(route.config.cors, route.allow) : undefined),
  },
  {
    name: 'responseHeaders',
    build: (route) => (route.config?.responseHeaders ? responseHeaderRules(route.config.responseHeaders) : undefined),
  },
  {
    name: 'auth',
    build(route, deps) {
      const auth = route.config?.auth
      if (!auth) return undefined
      const counted = deps.authFailed
      // Throttled by client address before the key is looked at (middleware/auth/failure-limit.ts).
      const limit = auth.failureLimit > 0 ? failureLimit(auth.failureLimit) : undefined
      const onFailure = (reason: string, exchange: Exchange) => {
        counted?.(route.name, reason)
        // No credential is no guess.
        if (reason !== 'missing') limit?.failed(exchange)
      }
      const log = deps.log && ((event: string, fields: Record<string, unknown>) => deps.log!.warn(event, { route: route.name, ...fields }))
      const stage = auth.apiKey
        ? apiKeyAuth(auth.apiKey, auth.consumerHeader, deps.consumers, onFailure)
        : auth.jwt
          ? jwtAuth(auth.jwt, auth.consumerHeader, { onFailure, log })
          : undefined
      return stage && limit ? limit.guard(stage) : stage
    },
  },
  {
    name: 'rateLimit',
    build(route, deps) {
      const config = route.config?.rateLimit
      if (!config) return undefined
      const limited = deps.rateLimited
      return rateLimit(route.name, config, deps.rateLimits, limited && (() => limited(route.name)))
    },
  },
  {
    name: 'cache',
    build(route, deps) {
      const options = route.config?.cache
      const forwarder = deps.forwarderOf(route)
      if (!deps.cache || !options?.enabled || !forwarder) return undefined
      return cacheStage(deps.cache, options, forwarder)
    },
  },
]

/** The route's pipeline: every slot's stage, outermost first, around `terminal`. */
export function buildPipeline(route: Route, terminal: Handler, deps: PipelineDeps): Handler {
  const stages = SLOTS.map((slot) => slot.build(route, deps)).filter((s): s is Middleware => s !== undefined)
  return stages.reduceRight<Handler>((next, stage) => (exchange) => stage(exchange, next), terminal)
}
