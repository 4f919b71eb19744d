/**
 * The node's shared cache tier, as the primary holds it: it prepares the file before any
 * worker starts (a missing file, or one of another layout or size, is logged and made anew),
 * applies admin purges and other replicas' invalidations to it once, reports its size, and
 * removes a default-path file at shutdown. Workers read and write it themselves (policies/cache/shared-store.ts).
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { GatewayConfig } from '../config/schema.ts'
import { createExclusive, makePrivateDir, preparePrivateFile, SHARED_CACHE_COMPANIONS, sweepLeftovers } from '../files/private.ts'
import type { Logger } from '../log.ts'
import { purge, type PurgeSelector } from '../policies/cache/purge.ts'
import { openSharedTier, prepareSharedCache } from '../policies/cache/shared-store.ts'
import type { ReplicaMessage } from '../replicas/bus.ts'

export interface SharedCache {
  readonly path: string
  /** Resolves when done: a purge by prefix reads the tier in slices, the loop turning between. */
  purge(selector: PurgeSelector): Promise<number>
  invalidate(primaryKeys: readonly string[]): void
  stats(): { entries: number; bytes: number }
  close(): void
}

/** On when any route caches and `cache.shared.enabled` says so, or (unset) when there is more than one worker. */
export function sharedCacheEnabled(config: GatewayConfig, workers: number): boolean {
  return config.routes.some((r) => r.cache.enabled) && (config.cache.shared.enabled ?? workers > 1)
}

/** The tier's size is counted at most this often. */
const STATS_MS = 1000

/** Default locations are `<TMPDIR>/bun-gateway-<primary pid>-<random>/cache.ring`. */
const DEFAULT_PREFIX = 'bun-gateway-'

/**
 * The tier's file, made private before anything opens it: the configured path checked
 * again (load checked it) and narrowed to 0600, or by default a new mkdtemp directory (0700)
 * holding a file created exclusively (0600). A predictable name in a world-writable directory
 * would let a local user plant a file the gateway then serves from.
 */
function privateFile(configured: string | undefined, log: Logger): string {
  if (configured !== undefined) {
    preparePrivateFile(configured, SHARED_CACHE_COMPANIONS)
    return configured
  }
  const removed = sweepLeftovers(tmpdir(), DEFAULT_PREFIX)
  if (removed.length > 0) log.info('shared_cache_swept', { removed: removed.length })
  const path = join(makePrivateDir(tmpdir(), `${DEFAULT_PREFIX}${process.pid}-`), 'cache.ring')
  createExclusive(path)
  return path
}

export function startSharedCache(config: GatewayConfig, log: Logger): SharedCache | undefined {
  const configured = config.cache.shared.path
  // The default directory is ours alone: removed whole when done.
  const removeDefault = (path: string | undefined) => {
    if (configured === undefined && path !== undefined) rmSync(dirname(path), { recursive: true, force: true })
  }
  let path: string | undefined
  try {
    path = privateFile(configured, log)
    const prepared = prepareSharedCache(path, config.cache.shared.maxBytes)
    const fields = { path, reason: prepared.reason }
    if (prepared.outcome === 'recreated') log.warn('shared_cache_recreated', fields)
    else log.info(prepared.outcome === 'created' ? 'shared_cache_created' : 'shared_cache_opened', fields)
  } catch (err) {
    const { code, message } = err as { code?: string; message?: string }
    log.warn('shared_cache_unavailable', { path: path ?? configured, error: code ?? 'error', ...(code === 'EUNSAFE' ? { reason: message } : {}) })
    removeDefault(path)
    return undefined
  }
  const store = openSharedTier(path, config.cache, log)
  if (!store) {
    removeDefault(path)
    return undefined
  }
  // A count scans the index, no entry read (5-17 ms for a full 256 MiB tier, on this loop): one
  // scan serves a scrape's two gauges.
  let counted = { at: -Infinity, stats: { entries: 0, bytes: 0 } }
  return {
    path,
    purge: async (selector) => purge(store, selector),
    invalidate(primaryKeys) {
      for (const key of primaryKeys) store.remove(key)
    },
    stats() {
      const at = performance.now()
      if (at - counted.at >= STATS_MS) counted = { at, stats: store.stats() }
      return counted.stats
    },
    close() {
      store.close()
      removeDefault(path)
    },
  }
}

/** The node's workers as the cache coordination sees them: the supervisor's, or single-process mode's one. */
export interface NodeWorkers {
  purge(selector: PurgeSelector): Promise<{ purged: number; workers: number }>
  invalidate(primaryKeys: string[]): void
}

/**
 * Purges and invalidations for the whole node: the shared tier once, then every worker's
 * local store, and for admin purges the other replicas too (`publish`, with Redis).
 */
export function nodeCaches(shared: SharedCache | undefined, workers: NodeWorkers, publish?: (message: ReplicaMessage) => Promise<boolean>) {
  return {
    /** Another replica's purge or invalidation. */
    apply(message: ReplicaMessage): void {
      if ('purge' in message) {
        // The shared tier first: a worker's local miss meanwhile may copy an entry not yet purged from it.
        const local = () => void workers.purge(message.purge)
        void (shared?.purge(message.purge) ?? Promise.resolve()).then(local, local)
      } else {
        shared?.invalidate(message.invalidate)
        workers.invalidate(message.invalidate)
      }
    },

    /** An admin purge; `shared` counts the shared tier's entries, `replicas` whether Redis took the message. */
    async purge(selector: PurgeSelector): Promise<{ purged: number; workers: number; shared?: number; replicas?: boolean }> {
      const sharedCount = await shared?.purge(selector)
      const local = await workers.purge(selector)
      const result = sharedCount === undefined ? local : { ...local, shared: sharedCount }
      return publish ? { ...result, replicas: await publish({ purge: selector }) } : result
    },
  }
}
