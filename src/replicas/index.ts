/**
 * What a node shares with the other replicas when `redis` is configured: global rate-limit
 * buckets and the cache coherence channel. The primary holds these (one command connection
 * and one subscriber per node, whatever the worker count); workers reach them over IPC.
 */
import { hostname } from 'node:os'
import type { RedisConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import type { GlobalBuckets } from '../middleware/rate-limit/buckets.ts'
import { createReplicaBus, type ReplicaBus, type ReplicaMessage } from './bus.ts'
import { createGlobalBuckets } from './global-buckets.ts'
import { connectRedis } from './redis.ts'

export interface Replicas {
  /** This replica's id in the messages it publishes (host name, pid and a random part). */
  readonly id: string
  readonly buckets: GlobalBuckets
  readonly bus: ReplicaBus
  /** The command connection is up. */
  connected(): boolean
  close(): void
}

export interface ReplicaOptions {
  log: Logger
  /** A purge or invalidation another replica published. */
  onMessage: (message: ReplicaMessage) => void
  /** Each take Redis could not answer (a metric). */
  onStoreFailure?: () => void
}

export function connectReplicas(config: RedisConfig, options: ReplicaOptions): Replicas {
  const log = options.log.child({ component: 'redis' })
  const id = `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`
  // Connection errors repeat on every reconnect attempt; the state changes are what gets logged.
  let lastError: string | undefined
  const onError = (code: string) => {
    if (code === lastError) return
    lastError = code
    log.warn('redis_error', { error: code })
  }
  const commands = connectRedis(config, 'commands', onError)
  const subscriber = connectRedis(config, 'subscriber', onError)
  commands.on('ready', () => (lastError = undefined))
  const buckets = createGlobalBuckets({ redis: commands, keyPrefix: config.keyPrefix, log, onFailure: options.onStoreFailure })
  const bus = createReplicaBus({ publisher: commands, subscriber, channel: `${config.keyPrefix}cache`, replicaId: id, log, onMessage: options.onMessage })
  return {
    id,
    buckets,
    bus,
    connected: () => commands.status === 'ready',
    close() {
      bus.close()
      commands.disconnect()
    },
  }
}
