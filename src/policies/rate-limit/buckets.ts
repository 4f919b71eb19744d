/**
 * Token buckets by key, the node's one source of truth for rate limits: the primary holds
 * them (so every worker draws on the same buckets, whatever the kernel's connection spread),
 * and single-process mode holds its own. A bucket refills at `rate` tokens a second up to
 * `burst`. Memory is bounded by count and by bytes (keys are route, kind and a fixed-size
 * value: index.ts hashes header values): past either the least recently used bucket is
 * forgotten, which at worst lets that key start again from a full bucket.
 */
import { LRUCache } from 'lru-cache'

export interface Grant {
  /** Tokens handed out (0 when the bucket is empty). */
  granted: number
  /** ms until one token is back, when none was granted. */
  retryAfterMs: number
  /** Set when a global limit's store could not be reached and the route denies then (503). */
  unavailable?: true
}

export interface TokenBuckets {
  take(key: string, want: number, rate: number, burst: number): Grant
  readonly size: number
  /** Keys held, the bytes they are charged, and the bound on those bytes (for /metrics). */
  stats(): { keys: number; bytes: number; maxBytes: number }
}

interface Bucket {
  tokens: number
  at: number
}

/** What one bucket costs besides its key (UTF-16, 2 bytes a unit): the object, two numbers, LRU links. */
const BUCKET_OVERHEAD = 160

export function createTokenBuckets(options: { maxKeys?: number; maxBytes?: number; now?: () => number } = {}): TokenBuckets {
  const now = options.now ?? performance.now.bind(performance)
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024
  const buckets = new LRUCache<string, Bucket>({
    max: options.maxKeys ?? 100_000,
    maxSize: maxBytes,
    sizeCalculation: (_bucket, key) => BUCKET_OVERHEAD + 2 * key.length,
  })
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
    stats: () => ({ keys: buckets.size, bytes: buckets.calculatedSize, maxBytes }),
  }
}

/** What a global limit does while its shared store cannot be reached (`rateLimit.onStoreFailure`). */
export type StoreFailurePolicy = 'allow' | 'deny'

/**
 * Where a worker takes tokens from: the primary's buckets over IPC, or its own. With
 * `global`, the bucket is the one every replica shares (Redis), and `global` says what to do
 * when that store is down.
 */
export interface RateLimitStore {
  take(key: string, want: number, rate: number, burst: number, global?: StoreFailurePolicy): Promise<Grant>
}

/** The replicas' shared buckets (src/replicas/global-buckets.ts). */
export interface GlobalBuckets {
  /** Resolves undefined when the store could not answer. */
  take(key: string, want: number, rate: number, burst: number): Promise<Grant | undefined>
}

const UNAVAILABLE: Grant = { granted: 0, retryAfterMs: 1000, unavailable: true }

/**
 * The node's store: its own buckets, and for global limits the shared ones. While those
 * cannot answer, `allow` falls back to this node's bucket for the key (each replica then
 * holds the limit on its own) and `deny` refuses.
 */
export function nodeStore(buckets: TokenBuckets, global?: GlobalBuckets): RateLimitStore {
  return {
    async take(key, want, rate, burst, policy) {
      if (policy === undefined || global === undefined) return buckets.take(key, want, rate, burst)
      const grant = await global.take(key, want, rate, burst)
      if (grant) return grant
      return policy === 'allow' ? buckets.take(key, want, rate, burst) : UNAVAILABLE
    },
  }
}

/** A store over buckets in this process (tests). */
export function localStore(buckets: TokenBuckets = createTokenBuckets()): RateLimitStore {
  return nodeStore(buckets)
}
