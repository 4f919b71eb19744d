/**
 * Connections to the Redis that replicas share. ioredis rather than Bun's built-in client:
 * it speaks Sentinel and Cluster, which the built-in one does not, and the extra latency it
 * costs (measured in docs/scaling.md) is paid once per lease, not per request. Commands fail
 * fast instead of queueing while the connection is down, so a Redis outage costs a request
 * nothing but the fallback; reconnection goes on in the background with capped backoff.
 */
import { Redis } from 'ioredis'
import type { RedisConfig } from '../config/schema.ts'

/** Longest pause between reconnection attempts. */
const MAX_BACKOFF_MS = 2000

/**
 * A connection for `role` (commands, or the subscriber). Errors go to `onError` as a code,
 * never as the URL, which may carry a password.
 */
export function connectRedis(config: RedisConfig, role: 'commands' | 'subscriber', onError: (code: string) => void): Redis {
  const redis = new Redis(config.url, {
    connectionName: `gateway-${role}`,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: role === 'commands' ? config.commandTimeoutMs : undefined,
    // The subscriber's SUBSCRIBE waits for the first connection; commands never wait.
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: role === 'commands' ? 0 : null,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_BACKOFF_MS),
  })
  // Without a listener ioredis prints every failed reconnect to the console.
  redis.on('error', (err: NodeJS.ErrnoException) => onError(err.code ?? err.name))
  return redis
}
