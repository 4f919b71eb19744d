/**
 * Where a route's chain is built. At boot each route becomes one function: its stages,
 * taken from SLOTS in a fixed order (request limits → auth → rate limit → cache), composed
 * around its terminal (forward, or the gateway's own answer). A slot whose config does
 * not apply to the route builds nothing and costs nothing per request. A request pays one
 * plain call per stage: no async frame per layer, no closure made per request.
 *
 * To add a middleware: write `src/middleware/<name>/` (its factory, its schema, its tests),
 * then give it its slot here (docs/pipeline.md).
 */
import type { GatewayConfig } from '../config/schema.ts'
import { apiKeyAuth, type AuthFailure } from '../middleware/auth/api-key.ts'
import { limits } from '../middleware/limits/index.ts'
import { cacheStage } from '../middleware/cache/stage.ts'
import type { ResponseCache } from '../middleware/cache/index.ts'
import type { RouteForwarder } from '../upstream/forward.ts'
import type { Handler, Middleware } from './exchange.ts'
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
  /** Counts a refused credential (metrics). */
  authFailed?(route: string, reason: AuthFailure): void
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
  {
    name: 'auth',
    build(route, deps) {
      const auth = route.config?.auth
      if (!auth?.apiKey) return undefined
      const failed = deps.authFailed
      return apiKeyAuth(auth.apiKey, auth.consumerHeader, deps.consumers, failed && ((reason) => failed(route.name, reason)))
    },
  },
  // routes[].rateLimit (node-wide buckets) comes next.
  { name: 'rateLimit', build: () => undefined },
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
