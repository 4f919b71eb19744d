/**
 * Throttling of failed authentications, per route and client address (the one the gateway
 * computes: the TCP peer, or from a trusted proxy the X-Forwarded-For hop it vouches for).
 * Each address has a bucket of `limit` failures, refilled at `limit` a minute; while it is
 * empty, the address gets 429 with Retry-After before any credential is looked at, a valid
 * one too, so a guesser learns nothing from a hit and a JWT flood costs no signature checks.
 * Only presented credentials count (unknown, invalid, expired): a request with none is not
 * a guess, and counting it would let one crawler lock out everyone behind the same NAT.
 *
 * The table is the worker's own (a synchronous check, no IPC on any request): the kernel
 * spreads connections over workers, so across new connections the node admits up to
 * workers × limit failures a minute; on one keep-alive connection, `limit`. It is an LRU of
 * at most FAILING_ADDRESSES entries, and after a minute without failures it is emptied and
 * costs nothing again (not even the peer lookup).
 */
import { LRUCache } from 'lru-cache'
import { refuse } from '../../kernel/errors.ts'
import type { Exchange } from '../../kernel/exchange.ts'
import type { Stage } from '../../kernel/stage.ts'

/** Addresses a route remembers failures of, per worker; beyond it the least recently failing are forgotten. */
export const FAILING_ADDRESSES = 10_000
/** A full bucket's refill time: the limit is per minute. */
const WINDOW_MS = 60_000

interface Bucket {
  /** Failures still allowed (fractional while refilling). */
  tokens: number
  /** When `tokens` was last brought up to date (ms, monotonic). */
  at: number
}

export interface FailureLimit {
  /** `stage`, preceded by the refusal of an address that failed too often. */
  guard(stage: Stage): Stage
  /** Counts one failed authentication of `exchange`'s client. */
  failed(exchange: Exchange): void
}

/** @example const limit = failureLimit(30); const stage = limit.guard(apiKeyAuth(..., (r, ex) => limit.failed(ex))) */
export function failureLimit(limit: number, options: { now?: () => number; maxAddresses?: number } = {}): FailureLimit {
  const now = options.now ?? performance.now.bind(performance)
  const perMs = limit / WINDOW_MS
  const buckets = new LRUCache<string, Bucket>({ max: options.maxAddresses ?? FAILING_ADDRESSES })
  // Past a window after the last failure every bucket is full again: nothing to look up.
  let lastFailure = -Infinity
  const refill = (bucket: Bucket, at: number) => {
    bucket.tokens = Math.min(limit, bucket.tokens + (at - bucket.at) * perMs)
    bucket.at = at
  }
  const keyOf = (exchange: Exchange) => exchange.clientAddress ?? ''

  return {
    guard(stage) {
      return function authFailureLimit(exchange, next) {
        if (lastFailure === -Infinity) return stage(exchange, next)
        const at = now()
        if (at - lastFailure >= WINDOW_MS) {
          buckets.clear()
          lastFailure = -Infinity
          return stage(exchange, next)
        }
        const bucket = buckets.get(keyOf(exchange))
        if (bucket) {
          refill(bucket, at)
          // RFC 6585 §4: 429 may say when to come back.
          if (bucket.tokens < 1) return throttled(exchange.requestId, Math.ceil((1 - bucket.tokens) / perMs))
        }
        return stage(exchange, next)
      }
    },
    failed(exchange) {
      const at = now()
      const key = keyOf(exchange)
      let bucket = buckets.get(key)
      if (!bucket) buckets.set(key, (bucket = { tokens: limit, at }))
      else refill(bucket, at)
      bucket.tokens = Math.max(0, bucket.tokens - 1)
      lastFailure = at
    },
  }
}

function throttled(requestId: string, retryAfterMs: number): Response {
  return refuse(requestId, 'auth_throttled', { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } })
}
