/**
 * What a node shares with the other replicas when `redis` is configured: global rate-limit
 * buckets and the cache coherence channel. The primary holds these (one command connection
 * and one subscriber per node, whatever the worker count); workers reach them over IPC.
 */
import { hostname } from 'node:os'
import type { Redis } from 'ioredis'
import type { RedisConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import type { GlobalBuckets } from '../policies/rate-limit/buckets.ts'
import { createReplicaBus, type RejectReason, type ReplicaBus, type ReplicaMessage } from './bus.ts'
import { createGlobalBuckets } from './global-buckets.ts'
import { connectRedis, redisTls } from './redis.ts'

export interface Replicas {
  /** This replica's id in the messages it publishes (host name, pid and a random part). */
  readonly id: string
  readonly buckets: GlobalBuckets
  readonly bus: ReplicaBus
  /** The command connection is up. */
  connected(): boolean
  /**
   * Without busSecret, the start check: true when this replica may run (alone on the bus,
   * or Redis did not answer in time), false when another replica listens on the bus.
   * Logs `replica_bus_off` (warn) or `replica_bus_refused` (error). With busSecret, true.
   */
  startCheck(): Promise<boolean>
  close(): void
}

export interface ReplicaOptions {
  log: Logger
  /** A purge or invalidation another replica published. */
  onMessage: (message: ReplicaMessage) => void
  /** Each take Redis could not answer (a metric). */
  onStoreFailure?: () => void
  /** Each incoming bus message dropped, by reason (a metric). */
  onRejected?: (reason: RejectReason) => void
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
  const tls = redisTls(config)
  const commands = connectRedis(config, 'commands', onError, tls)
  const subscriber = connectRedis(config, 'subscriber', onError, tls)
  commands.on('ready', () => (lastError = undefined))
  const channel = `${config.keyPrefix}cache`
  const buckets = createGlobalBuckets({ redis: commands, keyPrefix: config.keyPrefix, log, onFailure: options.onStoreFailure })
  const bus = createReplicaBus({
    publisher: commands,
    subscriber,
    channel,
    replicaId: id,
    secret: config.busSecret,
    log,
    onMessage: options.onMessage,
    onRejected: options.onRejected,
  })
  return {
    id,
    buckets,
    bus,
    connected: () => commands.status === 'ready',
    async startCheck() {
      if (bus.enabled) return true
      // Our own SUBSCRIBE first, then the count: two replicas starting together both see 2.
      const deadline = config.connectTimeoutMs + config.commandTimeoutMs
      const listeners = await withDeadline(countListeners(commands, bus, channel), deadline)
      if (listeners !== undefined && listeners > 1) {
        log.error('replica_bus_refused', {
          field: 'redis.busSecret',
          channel,
          otherReplicas: listeners - 1,
          message: 'redis.busSecret is not set and other replicas listen on the bus: set the same busSecret on every replica (docs/scaling.md)',
        })
        return false
      }
      log.warn('replica_bus_off', {
        field: 'redis.busSecret',
        channel,
        checked: listeners !== undefined,
        message: 'redis.busSecret is not set: purges and invalidations stay on this replica',
      })
      return true
    },
    close() {
      bus.close()
      commands.disconnect()
    },
  }
}

/** Subscribers of `channel` (PUBSUB NUMSUB), ours included, once both connections are up. */
async function countListeners(commands: Redis, bus: ReplicaBus, channel: string): Promise<number | undefined> {
  if (!(await bus.subscribed)) return undefined
  if (commands.status !== 'ready') await new Promise((resolve) => commands.once('ready', resolve))
  try {
    const [, count] = (await commands.pubsub('NUMSUB', channel)) as [string, number]
    return Number(count)
  } catch {
    return undefined
  }
}

/** `promise`'s value, or undefined once `ms` have passed. */
function withDeadline<T>(promise: Promise<T | undefined>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)))
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}
