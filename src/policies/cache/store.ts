/**
 * The response store of one worker: lru-cache bounded by entries and bytes, plus an index
 * from each primary key to its Vary names and stored variants, so a lookup is two map
 * reads and a purge removes every variant.
 */
import { LRUCache } from 'lru-cache'
import type { CacheDirectives } from './directives.ts'
import { splitPrimaryKey, variantKey, type FieldValue } from './key.ts'
import type { AgeClock } from './policy.ts'

export interface CacheEntry {
  readonly primary: string
  readonly key: string
  readonly status: number
  /** Stored headers: no hop-by-hop fields, Content-Length set to the body's size. */
  readonly headers: Headers
  /** Sent as is on every hit, never copied. */
  readonly body: Uint8Array
  readonly directives: CacheDirectives
  /** Seconds of freshness from when it was received; 0 when it must always be revalidated. */
  readonly lifetime: number
  readonly clock: AgeClock
  readonly varyNames: readonly string[]
  /** Bytes charged against maxBytes: key, body, headers and a fixed overhead. */
  readonly size: number
}

export interface CacheStoreOptions {
  maxEntries: number
  maxBytes: number
  maxObjectBytes: number
}

export interface CacheStats {
  entries: number
  bytes: number
  evictions: number
}

/** Per-entry bookkeeping charged on top of body and headers. */
const ENTRY_OVERHEAD = 256

/** What an entry costs: its variant key is held twice (LRU and index) and can be large (varied header values). */
export function entrySize(key: string, headers: Headers, body: Uint8Array): number {
  let size = ENTRY_OVERHEAD + 2 * key.length + body.byteLength
  for (const [name, value] of headers) size += name.length + value.length
  return size
}

export function createCacheStore(options: CacheStoreOptions) {
  /** primary key → the Vary names of its latest response and the keys of its stored variants. */
  const index = new Map<string, { names: readonly string[]; keys: Set<string> }>()
  let evictions = 0
  const lru = new LRUCache<string, CacheEntry>({
    max: options.maxEntries,
    maxSize: options.maxBytes,
    sizeCalculation: (entry) => entry.size,
    dispose(entry, key, reason) {
      const variants = index.get(entry.primary)
      variants?.keys.delete(key)
      if (variants && variants.keys.size === 0) index.delete(entry.primary)
      if (reason === 'evict') evictions++
    },
  })

  const deletePrimary = (primary: string): number => {
    const variants = index.get(primary)
    if (!variants) return 0
    const keys = [...variants.keys]
    for (const key of keys) lru.delete(key)
    index.delete(primary)
    return keys.length
  }

  return {
    /** The stored variant of `primary` selected by the request's sent fields, if any. */
    lookup(primary: string, valueOf: FieldValue): CacheEntry | undefined {
      const variants = index.get(primary)
      if (!variants) return undefined
      return lru.get(variantKey(primary, variants.names, valueOf))
    },

    /** The Vary names stored variants of `primary` are keyed by, if any are stored. */
    namesOf(primary: string): readonly string[] | undefined {
      return index.get(primary)?.names
    },

    /** Stores `entry`; false when it is over maxObjectBytes or maxBytes. */
    put(entry: CacheEntry): boolean {
      if (entry.body.byteLength > options.maxObjectBytes || entry.size > options.maxBytes) return false
      const current = index.get(entry.primary)
      // A changed Vary makes the old variants unreachable: drop them (RFC 9111 §4.1).
      if (current && current.names.join() !== entry.varyNames.join()) deletePrimary(entry.primary)
      lru.set(entry.key, entry)
      if (!lru.has(entry.key)) return false
      let variants = index.get(entry.primary)
      if (!variants) index.set(entry.primary, (variants = { names: entry.varyNames, keys: new Set() }))
      variants.keys.add(entry.key)
      return true
    },

    /** Removes every variant of `primary`; returns how many. */
    delete: deletePrimary,

    /** Removes every entry whose primary key matches; returns how many. */
    purgeWhere(match: (parts: { scheme: string; host: string; target: string }) => boolean): number {
      let removed = 0
      for (const primary of [...index.keys()]) if (match(splitPrimaryKey(primary))) removed += deletePrimary(primary)
      return removed
    },

    stats(): CacheStats {
      return { entries: lru.size, bytes: lru.calculatedSize, evictions }
    },
  }
}

export type CacheStore = ReturnType<typeof createCacheStore>
