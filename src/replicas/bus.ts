/**
 * Cache coherence across replicas: admin purges and unsafe-method invalidations are
 * published on one Redis channel, and every replica applies what the others sent. Each
 * message is signed with the shared `redis.busSecret` (signing.ts); one that is unsigned,
 * badly signed, stale or malformed is counted and dropped, with at most one warn line per
 * reason a minute. Without busSecret the bus is off: nothing is published or applied, but
 * the replica still subscribes, so that others can see it (PUBSUB NUMSUB, index.ts).
 * Each replica puts its id in its messages and ignores its own. Delivery is Redis
 * pub/sub's: at most once, to replicas connected at the time; a replica that was cut off
 * may keep a stale entry until it expires (docs/scaling.md).
 */
import type { Redis } from 'ioredis'
import type { Logger } from '../log.ts'
import type { PurgeSelector } from '../policies/cache/purge.ts'
import { createMessageSigner, REJECTIONS, type Rejection } from './signing.ts'

export type ReplicaMessage = { purge: PurgeSelector } | { invalidate: string[] }

/** Why an incoming message was dropped: a signing rejection, or `bus_off` (no busSecret here). */
export const REJECT_REASONS = [...REJECTIONS, 'bus_off'] as const
export type RejectReason = Rejection | 'bus_off'

/** At most one warn line per drop reason in this long. */
const WARN_INTERVAL_MS = 60_000

export interface ReplicaBus {
  /** Whether messages are exchanged at all (busSecret is set). */
  readonly enabled: boolean
  /** Resolves once the SUBSCRIBE is acknowledged (true), or false when it failed. */
  readonly subscribed: Promise<boolean>
  /** Resolves false when Redis did not take the message, or the bus is off. */
  publish(message: ReplicaMessage): Promise<boolean>
  close(): void
}

export interface ReplicaBusOptions {
  publisher: Redis
  subscriber: Redis
  channel: string
  replicaId: string
  /** `redis.busSecret`, resolved; without it the bus is off. */
  secret?: string
  log: Logger
  onMessage: (message: ReplicaMessage) => void
  /** Each incoming message dropped, by reason (a metric). */
  onRejected?: (reason: RejectReason) => void
  /** The clock (tests). */
  now?: () => number
}

export function createReplicaBus(options: ReplicaBusOptions): ReplicaBus {
  const { publisher, subscriber, channel, replicaId, log, secret } = options
  const now = options.now ?? Date.now
  const signer = secret === undefined ? undefined : createMessageSigner(secret, channel)
  const lastWarned = new Map<RejectReason, { at: number; suppressed: number }>()
  const reject = (reason: RejectReason) => {
    options.onRejected?.(reason)
    const at = now()
    const last = lastWarned.get(reason)
    if (last && at - last.at < WARN_INTERVAL_MS) {
      last.suppressed++
      return
    }
    // Says how many went unlogged since the previous line; the metric has the exact count.
    log.warn('replica_message_rejected', { reason, channel, suppressed: last?.suppressed ?? 0 })
    lastWarned.set(reason, { at, suppressed: 0 })
  }
  const subscribed = subscriber.subscribe(channel).then(
    () => true,
    () => {
      log.warn('replica_subscribe_failed', { channel })
      return false
    }
  )
  subscriber.on('message', (from: string, text: string) => {
    if (from !== channel) return
    if (!signer) return reject('bus_off')
    const verified = signer.verify(text, now())
    if ('rejected' in verified) return reject(verified.rejected)
    const message = parseMessage(verified.payload, replicaId)
    if (message === 'own') return
    if (message === undefined) return reject('malformed')
    options.onMessage(message)
  })
  return {
    enabled: signer !== undefined,
    subscribed,
    async publish(message) {
      if (!signer) return false
      try {
        await publisher.publish(channel, signer.sign({ from: replicaId, ...message }, now()))
        return true
      } catch {
        log.warn('replica_publish_failed', { kind: 'purge' in message ? 'purge' : 'invalidate' })
        return false
      }
    },
    close() {
      subscriber.disconnect()
    },
  }
}

const isString = (value: unknown): value is string => typeof value === 'string'

/**
 * A verified payload checked field by field: another replica's message, `own` for one we
 * sent, undefined for one that does not hold a purge or an invalidation.
 */
export function parseMessage(payload: Record<string, unknown>, self: string): ReplicaMessage | 'own' | undefined {
  const { from, purge, invalidate } = payload
  if (!isString(from)) return undefined
  if (from === self) return 'own'
  if (Array.isArray(invalidate) && invalidate.every(isString)) return { invalidate }
  if (typeof purge !== 'object' || purge === null) return undefined
  const { url, prefix, host } = purge as Record<string, unknown>
  if (isString(url) && URL.canParse(url)) return { purge: { url } }
  if (isString(prefix) && prefix.startsWith('/')) return { purge: isString(host) ? { prefix, host } : { prefix } }
  return undefined
}
