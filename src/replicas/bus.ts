/**
 * Cache coherence across replicas: admin purges and unsafe-method invalidations are
 * published on one Redis channel, and every replica applies what the others sent. Each
 * replica signs its messages with its id and ignores its own. Delivery is Redis pub/sub's:
 * at most once, to replicas connected at the time; a replica that was cut off may keep a
 * stale entry until it expires (docs/scaling.md).
 */
import type { Redis } from 'ioredis'
import type { Logger } from '../log.ts'
import type { PurgeSelector } from '../middleware/cache/purge.ts'

export type ReplicaMessage = { purge: PurgeSelector } | { invalidate: string[] }

export interface ReplicaBus {
  /** Resolves false when Redis did not take the message. */
  publish(message: ReplicaMessage): Promise<boolean>
  close(): void
}

export interface ReplicaBusOptions {
  publisher: Redis
  subscriber: Redis
  channel: string
  replicaId: string
  log: Logger
  onMessage: (message: ReplicaMessage) => void
}

export function createReplicaBus(options: ReplicaBusOptions): ReplicaBus {
  const { publisher, subscriber, channel, replicaId, log } = options
  void subscriber.subscribe(channel).catch(() => log.warn('replica_subscribe_failed', { channel }))
  subscriber.on('message', (from: string, text: string) => {
    if (from !== channel) return
    const message = parseMessage(text, replicaId)
    if (message) options.onMessage(message)
  })
  return {
    async publish(message) {
      try {
        await publisher.publish(channel, JSON.stringify({ from: replicaId, ...message }))
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

/** A message from another replica, checked field by field; undefined for our own or a malformed one. */
export function parseMessage(text: string, self: string): ReplicaMessage | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { from, purge, invalidate } = value as Record<string, unknown>
  if (!isString(from) || from === self) return undefined
  if (Array.isArray(invalidate) && invalidate.every(isString)) return { invalidate }
  if (typeof purge !== 'object' || purge === null) return undefined
  const { url, prefix, host } = purge as Record<string, unknown>
  if (isString(url) && URL.canParse(url)) return { purge: { url } }
  if (isString(prefix) && prefix.startsWith('/')) return { purge: isString(host) ? { prefix, host } : { prefix } }
  return undefined
}
