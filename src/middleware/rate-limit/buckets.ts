/**
 * Token buckets by key, the node's one source of truth for rate limits: the primary holds
 * them (so every worker draws on the same buckets, whatever the kernel's connection spread),
 * and single-process mode holds its own. A bucket refills at `rate` tokens a second up to
 * `burst`. Memory is bounded: past `maxKeys` the least recently used bucket is forgotten,
 * which at worst lets that key start again from a full bucket.
 */
import { LRUCache } from 'lru-cache'

export interface Grant {
  /** Tokens handed out (0 when the bucket is empty). */
  granted: number
  /** ms until one token is back, when none was granted. */
  retryAfterMs: number
}

export interface TokenBuckets {
  take(key: string, want: number, rate: number, burst: number): Grant
  readonly size: number
}

interface Bucket {
  tokens: number
  at: number
}

export function createTokenBuckets(options: { maxKeys?: number; now?: () => number } = {}): TokenBuckets {
  const now = options.now ?? performance.now.bind(performance)
  const buckets = new LRUCache<string, Bucket>({ max: options.maxKeys ?? 100_000 })
  return {
    take(key, want, rate, burst) {
      const at = now()
      let bucket = buckets.get(key)
      if (!bucket) buckets.set(key, (bucket = { tokens: burst, at }))
      else bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) / 1000) * rate)
      bucket.at = at
      const granted = Math.min(want, Math.floor(bucket.tokens))
      bucket.tokens -= granted
      return { granted, retryAfterMs: granted > 0 ? 0 : Math.ceil(((1 - bucket.tokens) / rate) * 1000) }
    },
    get size() {
      return buckets.size
    },
  }
}

/** Where a worker takes tokens from: the primary's buckets over IPC, or its own. */
export interface RateLimitStore {
  take(key: string, want: number, rate: number, burst: number): Promise<Grant>
}

/** A store over buckets in this process (single-process mode, tests). */
export function localStore(buckets: TokenBuckets = createTokenBuckets()): RateLimitStore {
  return { take: (key, want, rate, burst) => Promise.resolve(buckets.take(key, want, rate, burst)) }
}
