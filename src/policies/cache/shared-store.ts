/**
 * The node's shared cache tier: one file (ring.ts) that every worker of the node reads and
 * writes, its index in shared memory, under each worker's own LRU (store.ts), which keeps
 * the hottest entries.
 *
 * - Bounded by maxBytes: entries are written one after another round a ring of that many
 *   bytes, the oldest overwritten first. A hit on an entry in the ring's last quarter copies
 *   it to the front (second chance), so what is still asked for stays.
 * - A turn's stores are one pwrite under one take of a lock held a few µs (~6.5 µs of CPU an
 *   entry with its JSON head at 15 a turn; one pwrite each cost 8.5-9.5, SQLite's insert and
 *   commit 15-18). A taken lock queues the write (shared-writes.ts): the event loop never
 *   waits on another process.
 * - Readers take no lock: an entry is read with one pread and checked whole (its position,
 *   key and CRC-32), so a body is never served short or from an entry overwritten while read.
 * - Vary (RFC 9111 §4.1): a primary key's slot points at its newest entry, which names the
 *   fields its variants are keyed by; a variant is served only when it was stored with the
 *   same names, after the slot's `base` (moved by a changed Vary or a delete).
 * - Fill locks (fill-locks.ts): one worker of the node fills a key while the others wait.
 * - Every failure (busy, damaged, a write the disk refused) is a miss or a skipped store, never an error to the
 *   client; it is reported once per kind through `onError`.
 */
import { rmSync } from 'node:fs'
import type { CacheStoreConfig } from './schema.ts'
import { SHARED_CACHE_COMPANIONS } from '../../files/private.ts'
import type { Logger } from '../../log.ts'
import type { CacheDirectives } from './directives.ts'
import { splitPrimaryKey, variantKey, type FieldValue } from './key.ts'
import { entrySize, type CacheEntry } from './store.ts'
import { fillLocks } from './fill-locks.ts'
import { createRingFile, keyHash, openRing, ringGeometry, ringProblem, type EntryParts, type EntrySource } from './ring.ts'
import { ringIndex } from './ring-index.ts'
import { sharedWrites } from './shared-writes.ts'

/** What is stored beside the body: what a CacheEntry holds but its key, bytes and Vary names. */
interface Head {
  status: number
  /** Name → value (Headers' toJSON). */
  headers: Record<string, string>
  directives: CacheDirectives
  lifetime: number
  clock: CacheEntry['clock']
}

export interface SharedStoreOptions {
  path: string
  maxObjectBytes: number
  /** A failure kind (`busy`, `damaged` or `write_failed`) the first time it happens. */
  onError?: (kind: string) => void
  now?: () => number
}

/**
 * Readies the file at `path` for the node (the primary, once, before any worker), a private
 * file already there (files/private.ts): kept when it is a ring of `maxBytes`, else made anew
 * (an empty one, a file of another layout or size, a SQLite database of an older gateway).
 * Returns what it did, for the log.
 */
export function prepareSharedCache(path: string, maxBytes: number): { outcome: 'opened' | 'created' | 'recreated'; reason?: string } {
  // An older gateway's SQLite companions and fill board: ours, and of no use now.
  for (const suffix of SHARED_CACHE_COMPANIONS) rmSync(path + suffix, { force: true })
  const geometry = ringGeometry(maxBytes)
  const existed = Bun.file(path).size > 0
  const problem = existed ? ringProblem(path, geometry) : 'empty'
  if (problem === null) {
    // Locks of a previous run are stale: nobody is filling or writing any more.
    const ring = openRing(path)
    ring.reset()
    fillLocks(ring.locks).clear()
    return { outcome: 'opened' }
  }
  rmSync(path, { force: true })
  createRingFile(path, geometry)
  return existed ? { outcome: 'recreated', reason: problem } : { outcome: 'created' }
}

/**
 * Index slots a purge by prefix scans a turn: it reads each live entry for its key (~2 µs),
 * so a full 256 MiB tier (1 Mi slots) is read in ~130 slices of a few ms, not one stop of
 * most of a second on the primary's loop, which also answers the workers' rate-limit takes.
 */
const PURGE_SLICE = 8192

export function openSharedStore(options: SharedStoreOptions) {
  const now = options.now ?? Date.now
  const ring = openRing(options.path)
  const locks = fillLocks(ring.locks)
  const { primarySlot, variantSlot, reachableSlot, empty, forget, reachable, point } = ringIndex(ring)
  /** Fill locks this worker holds, by primary key: their expiry, to release only our own. */
  const held = new Map<string, number>()
  const reported = new Set<string>()
  let closed = false
  const failed = (kind: string) => {
    if (!reported.has(kind)) {
      reported.add(kind)
      options.onError?.(kind)
    }
  }

  /** The entry `parts`, whose key is `key`, read and checked; undefined when overwritten meanwhile or damaged. */
  function read(parts: EntryParts, primary: string, key: string, varyNames: string[]): CacheEntry | undefined {
    // Its key was checked by the slot's look, and positions are never reused: intact to the end
    // of the read, it is the same entry.
    const stored = ring.read(parts)
    if (stored === 'overwritten') return undefined
    if (stored === 'damaged') {
      failed('damaged')
      return undefined
    }
    const head = JSON.parse(stored.head) as Head
    const body = stored.body
    const headers = new Headers(head.headers)
    return {
      primary,
      key,
      status: head.status,
      headers,
      body,
      directives: head.directives,
      lifetime: head.lifetime,
      clock: head.clock,
      varyNames,
      size: entrySize(key, headers, body),
    }
  }

  /**
   * Moves the entry `parts` (named by slot `own`; its primary key `primary`'s newest by slot
   * `newest`) to the ring's front: second chance for a hit near the end. Skipped when the lock
   * is taken.
   */
  function keep(parts: EntryParts, own: number, primary: string, newest: number, names: string): void {
    if (!ring.lock()) return
    try {
      // Replaced, deleted or moved since it was read, or its primary key's slot since taken
      // by another key, or its Vary changed: left as it is.
      if (ring.slotPos(own) !== parts.pos || !ring.intact(parts.pos)) return
      const found = primarySlot(primary, keyHash(primary))
      if (found?.n !== newest || parts.pos < ring.slotBase(newest) || found.parts.names !== names) return
      let pos: number | undefined
      try {
        pos = ring.reappend(parts)
      } catch {
        // A full or failing disk: the entry stays where it is, and was read whole.
        return failed('write_failed')
      }
      if (pos === undefined) return
      ring.setSlot(own, ring.slotHash(own), pos, ring.slotBase(own), parts.length)
      // Now its primary key's newest entry, under the same names: the same base.
      if (newest !== own) ring.setSlot(newest, ring.slotHash(newest), pos, ring.slotBase(newest), parts.length, true)
    } finally {
      ring.unlock()
    }
  }
  /** Hits on entries this far behind the head are moved to the front... */
  const KEEP_BEHIND = (ring.capacity * 3) / 4
  /** ...unless they are this large: each copy would push a sixteenth of the ring out. */
  const KEEP_AT_MOST = ring.capacity / 16

  const release = (primary: string) => {
    const expires = held.get(primary)
    held.delete(primary)
    if (expires !== undefined) locks.release(primary, expires)
  }
  const writes = sharedWrites(ring, { point, failed, release })

  return {
    /** The stored variant of `primary` selected by the request's sent fields, if any (a new object each time). */
    lookup(primary: string, valueOf: FieldValue): CacheEntry | undefined {
      // This worker's own store of it, still staged: written first.
      if (writes.staged(primary)) writes.flush()
      try {
        const found = primarySlot(primary, keyHash(primary))
        if (found === undefined) return undefined
        const names = found.parts.names
        let own = found
        let varyNames: string[] = []
        let key = primary
        if (names !== '') {
          varyNames = JSON.parse(names) as string[]
          key = variantKey(primary, varyNames, valueOf)
          const variant = variantSlot(key, keyHash(key))
          // Stored before its primary key was deleted or its Vary changed, or under other names: gone.
          if (variant === undefined || variant.parts.pos < ring.slotBase(found.n) || variant.parts.names !== names) return undefined
          own = variant
        }
        const entry = read(own.parts, primary, key, varyNames)
        if (entry === undefined) return undefined
        if (ring.head() - own.parts.pos > KEEP_BEHIND && own.parts.length <= KEEP_AT_MOST) keep(own.parts, own.n, primary, found.n, names)
        return entry
      } catch {
        // Names or a head that do not parse: overwritten while read (a miss), or damaged (then its CRC fails too).
        return undefined
      }
    },

    /** The Vary names stored variants of `primary` are keyed by, if any are stored. */
    namesOf(primary: string): readonly string[] | undefined {
      if (writes.staged(primary)) writes.flush()
      try {
        const found = primarySlot(primary, keyHash(primary))
        if (found === undefined) return undefined
        const names = found.parts.names
        return names === '' ? [] : (JSON.parse(names) as string[])
      } catch {
        return undefined
      }
    },

    /**
     * Stores `entry` (its primary key's newest) at the end of this turn of the event loop, with
     * the turn's other stores, or queued behind a taken lock; false when it is too large for it.
     */
    put(entry: CacheEntry): boolean {
      if (entry.body.byteLength > options.maxObjectBytes) return false
      const head: Head = {
        status: entry.status,
        // Never a Set-Cookie, the one field toJSON gives as a list: the cache does not store it (response-cache.ts).
        headers: entry.headers.toJSON(),
        directives: entry.directives,
        lifetime: entry.lifetime,
        clock: entry.clock,
      }
      const source: EntrySource = {
        key: entry.key,
        primary: entry.primary,
        keyHash: keyHash(entry.key),
        names: entry.varyNames.length === 0 ? '' : JSON.stringify(entry.varyNames),
        head: JSON.stringify(head),
        body: entry.body,
      }
      return writes.stage(source)
    },

    /** Makes every variant of `primary` unreachable (an unsafe method's invalidation, RFC 9111 §4.4). */
    remove(primary: string): void {
      // After this turn's stores, which may be of `primary`.
      writes.flush()
      writes.write(() => forget(primary), false)
    },

    /** Removes every variant of `primary`; returns how many (an admin purge). */
    delete(primary: string): number {
      writes.flush()
      // Counted before the lock is taken: a scan of the index when it has Vary, too long to hold it.
      const count = reachable(primary)
      return writes.blocking(0, () => {
        forget(primary)
        return count
      })
    },

    /**
     * Removes every entry whose primary key matches; resolves to how many. The index is
     * scanned in slices, the event loop turning between them (PURGE_SLICE); every key stored
     * before the purge began is removed (with what was stored of it since), a key first stored
     * while it runs may stay. 0 when the store is closed meanwhile.
     */
    async purgeWhere(match: (parts: { scheme: string; host: string; target: string }) => boolean): Promise<number> {
      writes.flush()
      // The primary slots of matching keys, and where each pointed when it was scanned.
      const slots: number[] = []
      const positions: number[] = []
      const primaries: string[] = []
      let count = 0
      for (let from = 0; from < ring.slots; from += PURGE_SLICE) {
        if (from > 0) await new Promise((resolve) => setImmediate(resolve))
        if (closed) return 0
        for (let n = from; n < Math.min(ring.slots, from + PURGE_SLICE); n++) {
          const pos = ring.slotPos(n)
          if (pos === 0 || !ring.intact(pos)) continue
          const isPrimary = ring.slotBase(n) > 0
          if (!isPrimary && !reachableSlot(n)) continue
          const primary = ring.entryAt(n)?.primary
          if (primary === undefined || !match(splitPrimaryKey(primary))) continue
          if (isPrimary) {
            slots.push(n)
            positions.push(pos)
            primaries.push(primary)
          }
          // Each entry a lookup could reach, once: a variant by its own slot.
          if (!isPrimary || !ring.slotVaries(n)) count++
        }
      }
      // Under the lock, no entry read (~50 ns a key): a slot that still points where it did is
      // emptied; one stored again meanwhile is found by its key.
      return writes.blocking(0, () => {
        for (let i = 0; i < slots.length; i++) {
          const n = slots[i]!
          if (ring.slotPos(n) === positions[i]) empty(n)
          else forget(primaries[i]!)
        }
        return count
      })
    },

    /** Claims the fill of `primary` for this worker for `ttlMs`; false when another worker holds it. */
    lock(primary: string, ttlMs: number): boolean {
      const at = now()
      const expires = at + ttlMs
      if (!locks.lock(primary, at, expires)) return false
      held.set(primary, expires)
      return true
    },

    /** Whether another worker is still filling `primary`. */
    locked(primary: string): boolean {
      return locks.locked(primary, now())
    },

    /** Releases the fill lock of `primary`, after its entry if that is still queued. */
    unlock(primary: string): void {
      writes.releaseAfter(primary)
    },

    /** The live entries' keys (tests and tools). */
    keys(): string[] {
      writes.flush()
      const keys: string[] = []
      for (let n = 0; n < ring.slots; n++) {
        const parts = reachableSlot(n) ? ring.entryAt(n) : undefined
        if (parts !== undefined) keys.push(parts.key)
      }
      return keys
    },

    /** How many entries a lookup could reach, and their bytes in the ring: from the index alone. */
    stats(): { entries: number; bytes: number } {
      writes.flush()
      let entries = 0
      let bytes = 0
      for (let n = 0; n < ring.slots; n++) {
        if (!reachableSlot(n)) continue
        entries++
        bytes += ring.slotLength(n)
      }
      return { entries, bytes }
    },

    /** Writes what is queued (waiting for the lock as an admin purge does), then frees this worker's fill locks. */
    close(): void {
      if (closed) return
      writes.drain()
      for (const primary of [...held.keys()]) release(primary)
      closed = true
      ring.close()
    },
  }
}

export type SharedStore = ReturnType<typeof openSharedStore>

/**
 * The shared tier at `path` with the config's bounds, its errors logged once per kind; none
 * (logged) when it cannot be opened, and the local stores serve alone.
 */
export function openSharedTier(path: string, cache: CacheStoreConfig, log: Logger): SharedStore | undefined {
  try {
    return openSharedStore({
      path,
      maxObjectBytes: cache.maxObjectBytes,
      onError: (kind) => log.warn('shared_cache_error', { error: kind }),
    })
  } catch (err) {
    log.warn('shared_cache_unavailable', { path, error: (err as { code?: string }).code ?? 'error' })
    return undefined
  }
}

