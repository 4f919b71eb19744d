/**
 * A route's rate limit: a token bucket per key, exact for the node because the buckets live
 * in one place (buckets.ts: the primary's, reached over IPC). A worker does not ask for each
 * request: it takes a small lease of tokens (1/50 of a second's worth, at least one) and
 * spends it locally for at most LEASE_MS, so a hot key costs one round trip per lease, and
 * what the node admits never exceeds what the bucket granted (an expired lease is lost, not
 * returned: the limit errs on the strict side). Requests that find the lease empty while a
 * take is under way wait for that take instead of starting their own. Past the limit: 429 with Retry-After and the
 * RateLimit-Policy / RateLimit fields of draft-ietf-httpapi-ratelimit-headers.
 *
 * A global limit (`scope: global`) draws on the bucket every replica shares in Redis, through
 * the primary. There a lease of two tokens or more is topped up in the background when half
 * spent, so a busy key never waits for the round trip; a one-token lease (a low rate) is not,
 * because tokens held idle by every worker of every replica would be a large part of it.
 */
import { LRUCache } from 'lru-cache'
import { GatewayError, refusal, refuse } from '../../kernel/errors.ts'
import type { Exchange } from '../../kernel/exchange.ts'
import type { Handler, Stage } from '../../kernel/stage.ts'
import { defineBuiltin } from '../builtin.ts'
import type { Grant, RateLimitStore } from './buckets.ts'
import type { RateLimitConfig } from './schema.ts'

declare module '../../kernel/policy.ts' {
  interface Stores {
    /** Where rate limits take tokens: the primary's buckets over IPC, or the process's own. */
    rateLimits?: RateLimitStore
  }
  interface BuiltinMetrics {
    /** A request the route's rate limit refused (429). */
    rateLimited?(): void
  }
}

export const rateLimitPolicy = defineBuiltin({
  name: 'rateLimit',
  phase: 'rateLimit',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).rateLimitSchema.optional(),
  check(config, context) {
    // A global limit keeps its buckets in Redis.
    if (config?.scope === 'global' && context.settings.redis === undefined) return ['scope: global needs redis.url (or REDIS_URL)']
    return []
  },
  build(config, context) {
    if (!config) return undefined
    const store = context.stores.rateLimits
    if (!store) throw new Error('rateLimit needs stores.rateLimits')
    return rateLimit(context.route.name, config, store, context.metrics.rateLimited)
  },
})

/** How long a worker may spend a lease: short, so an idle key's unspent tokens are not held long. */
const LEASE_MS = 500
/** Keys a worker holds leases for; beyond it the least recently used lease is dropped. */
const LEASED_KEYS = 10_000

interface Lease {
  tokens: number
  expiresAt: number
  /**
   * The take under way for this key. Requests that find the lease empty wait for it rather
   * than each taking a lease of their own, which under load would take several times what
   * is spent and drain the bucket for nobody.
   */
  pending: Promise<Grant> | undefined
}

/** What a request is counted by: its consumer (or, without one, its client address), its address, or a header. */
function keyFunction(key: RateLimitConfig['key']): (exchange: Exchange) => string {
  const byAddress = (exchange: Exchange) => `ip:${exchange.clientAddress ?? ''}`
  if (key === 'ip') return byAddress
  if (key === 'consumer') return (exchange) => (exchange.identity ? `consumer:${exchange.identity.consumer}` : byAddress(exchange))
  const name = key.slice('header:'.length).toLowerCase()
  // No header: counted by address, so leaving it out does not share one bucket with everybody.
  return (exchange) => {
    const value = exchange.raw.headers.get(name)
    return value === null ? byAddress(exchange) : `header:${valueDigest(value)}`
  }
}

/**
 * A header value as a key: its SHA-256, 128 bits in base64url (22 characters). A client picks
 * the value and may send up to 16 KiB of it; held raw, 100k keys in the primary took about
 * 1.5 GiB. A cryptographic digest, so no one can make their key collide with another's.
 */
function valueDigest(value: string): string {
  return (Bun.SHA256.hash(value, 'base64url') as string).slice(0, 22)
}

export function rateLimit(route: string, config: RateLimitConfig, store: RateLimitStore, onLimited?: () => void): Stage {
  const rate = config.requestsPerSecond
  const burst = config.burst ?? Math.max(1, Math.ceil(rate))
  const lease = Math.max(1, Math.min(burst, Math.floor(rate / 50)))
  const global = config.scope === 'global' ? config.onStoreFailure : undefined
  const refillBelow = global !== undefined && lease >= 2 ? Math.floor(lease / 2) : -1
  const keyOf = keyFunction(config.key)
  const leases = new LRUCache<string, Lease>({ max: LEASED_KEYS })
  const prefix = `${route}\u0000`
  // The quota policy: `burst` requests per the seconds a full bucket takes to refill.
  const policy = `"route";q=${burst};w=${Math.max(1, Math.ceil(burst / rate))}`
  const limited = (exchange: Exchange, retryAfterMs: number) => {
    onLimited?.()
    const seconds = String(Math.max(1, Math.ceil(retryAfterMs / 1000)))
    return refuse(exchange.requestId, 'rate_limited', { headers: { 'retry-after': seconds, 'ratelimit-policy': policy, ratelimit: `"route";r=0;t=${seconds}` } })
  }
  const unavailable = new GatewayError('rate_limit_unavailable', { headers: { 'retry-after': '1' } })
  const take = (key: string, held: Lease): Promise<Grant> => {
    const pending = store.take(prefix + key, lease, rate, burst, global).then((grant) => {
      held.pending = undefined
      if (grant.granted > 0) {
        held.tokens += grant.granted
        held.expiresAt = performance.now() + LEASE_MS
      }
      return grant
    })
    held.pending = pending
    return pending
  }
  const admit = (exchange: Exchange, next: Handler, key: string, held: Lease): Response | Promise<Response> => {
    if (held.expiresAt <= performance.now()) held.tokens = 0
    if (held.tokens > 0) {
      held.tokens--
      if (held.tokens <= refillBelow && !held.pending) void take(key, held)
      return next(exchange)
    }
    return (held.pending ?? take(key, held)).then((grant) => {
      if (grant.unavailable) return refusal(exchange.requestId, unavailable)
      if (grant.granted === 0) return limited(exchange, grant.retryAfterMs)
      // Others waiting on the same take may have spent it: then take again.
      return admit(exchange, next, key, held)
    })
  }
  return function rateLimit(exchange, next) {
    const key = keyOf(exchange)
    let held = leases.get(key)
    if (!held) leases.set(key, (held = { tokens: 0, expiresAt: 0, pending: undefined }))
    return admit(exchange, next, key, held)
  }
}
