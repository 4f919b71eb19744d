/**
 * Token buckets every replica shares, in Redis. One Lua script takes tokens atomically with
 * Redis's own clock (TIME), so replicas' clocks never need to agree, and sets the key to
 * expire once the bucket would be full again (a missing key is a full bucket). Callers take
 * leases of several tokens (rate-limit/index.ts), so Redis sees one call per lease.
 *
 * When Redis does not answer (down, or slower than commandTimeoutMs) a take resolves
 * undefined and the node store applies the route's onStoreFailure. The state changes are
 * logged once each: `rate_limit_store_down` (warn), then `rate_limit_store_up`.
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from '../log.ts'
import type { GlobalBuckets, Grant } from '../policies/rate-limit/buckets.ts'

// KEYS[1] bucket; ARGV want, rate (tokens/s), burst. Returns {granted, retryAfterMs}.
const TAKE = `
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local want, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
end
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
local retry = 0
if granted == 0 then retry = math.ceil((1 - tokens) / rate * 1000) end
return {granted, retry}
`

type WithTake = Redis & { gatewayTake(key: string, want: number, rate: number, burst: number): Promise<[number, number]> }

export interface GlobalBucketsOptions {
  redis: Redis
  keyPrefix: string
  log: Logger
  /** Called for every take Redis could not answer. */
  onFailure?: () => void
}

/** A short reason for the log: never the message, which may name the server. */
function failureReason(redis: Redis, err: unknown): string {
  if (redis.status !== 'ready') return 'disconnected'
  if (err instanceof Error && err.message.includes('timed out')) return 'timeout'
  return (err as NodeJS.ErrnoException).code ?? 'error'
}

export function createGlobalBuckets(options: GlobalBucketsOptions): GlobalBuckets {
  const { log, keyPrefix } = options
  const redis = options.redis as WithTake
  redis.defineCommand('gatewayTake', { numberOfKeys: 1, lua: TAKE })
  let down = false
  const setDown = (next: boolean, error?: string) => {
    if (next === down) return
    down = next
    if (next) log.warn('rate_limit_store_down', { error, fallback: 'onStoreFailure: allow uses the node limit, deny answers 503' })
    else log.info('rate_limit_store_up')
  }
  // Keys are hashed: a header value (an API key, say) is never written to Redis as is.
  const redisKey = (key: string) => `${keyPrefix}rl:${createHash('sha256').update(key).digest('base64url')}`
  return {
    async take(key, want, rate, burst): Promise<Grant | undefined> {
      try {
        const [granted, retryAfterMs] = await redis.gatewayTake(redisKey(key), want, rate, burst)
        setDown(false)
        return { granted, retryAfterMs }
      } catch (err) {
        options.onFailure?.()
        setDown(true, failureReason(redis, err))
        return undefined
      }
    },
  }
}
