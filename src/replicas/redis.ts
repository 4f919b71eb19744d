/**
 * Connections to the Redis that replicas share. ioredis rather than Bun's built-in client:
 * it speaks Sentinel and Cluster, which the built-in one does not, and the extra latency it
 * costs (measured in docs/scaling.md) is paid once per lease, not per request. Commands fail
 * fast instead of queueing while the connection is down, so a Redis outage costs a request
 * nothing but the fallback; reconnection goes on in the background with capped backoff.
 */
import { Redis } from 'ioredis'
import type { RedisConfig } from '../config/schema.ts'
import { readClientTls } from '../files/tls.ts'

/** Longest pause between reconnection attempts. */
const MAX_BACKOFF_MS = 2000

/** node:tls options for a rediss:// URL (ioredis passes them to tls.connect). */
export interface RedisTls {
  ca?: string
  servername?: string
  rejectUnauthorized: boolean
}

/** The TLS options of `redis.tls`, with the CA file read once; undefined leaves ioredis's default (system CAs). */
export function redisTls(config: RedisConfig): RedisTls | undefined {
  const tls = readClientTls(config.tls)
  return tls && { ca: tls.ca, servername: tls.serverName, rejectUnauthorized: tls.rejectUnauthorized }
}

/**
 * A connection for `role` (commands, or the subscriber). Errors go to `onError` as a code,
 * never as the URL or the credentials. A rediss:// URL connects with TLS (ioredis), verified
 * against `tls` when given.
 */
export function connectRedis(config: RedisConfig, role: 'commands' | 'subscriber', onError: (code: string) => void, tls?: RedisTls): Redis {
  const redis = new Redis(config.url, {
    connectionName: `gateway-${role}`,
    // Resolved at load from env:/file: (config/load.ts), which refuses them next to URL credentials.
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(tls ? { tls } : {}),
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: role === 'commands' ? config.commandTimeoutMs : undefined,
    // The subscriber's SUBSCRIBE waits for the first connection; commands never wait.
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: role === 'commands' ? 0 : null,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_BACKOFF_MS),
  })
  // Without a listener ioredis prints every failed reconnect to the console.
  redis.on('error', (err: NodeJS.ErrnoException) => onError(err.code ?? REPLY_CODE.exec(err.message)?.[0] ?? err.name))
  return redis
}

/** A Redis error reply's code (WRONGPASS, NOAUTH, NOPERM): the first word, never the rest of the text. */
const REPLY_CODE = /^[A-Z]{3,20}(?= )/
