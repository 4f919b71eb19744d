/**
 * The node's shared cache tier: one SQLite database in WAL mode (bun:sqlite) that every
 * worker of the node reads and writes, under each worker's own LRU (store.ts), which keeps
 * the hottest entries. Readers never block in WAL mode; a write is one short transaction.
 *
 * - Bounded by maxBytes: the fill board keeps the running total of entry sizes, and a
 *   commit evicts the least recently used entries (by `used`, which shared hits update in a
 *   batch each second) past it.
 * - A commit rewrites as few pages as it can (each a 4 KiB append to the WAL): an entry
 *   without Vary is its row (and its `used` index entry) alone; only a primary key with Vary
 *   also has a `variants` row naming the fields its variants are keyed by.
 * - Entries are written whole in one transaction and checked against their recorded length
 *   when read, so a body is never served short.
 * - Cross-worker collapsing and misses without a query: the fill board (fill-board.ts), a
 *   shared memory map beside the database, holds a fill lock per key (one worker of the node
 *   fills it while the others wait for the entry) and a presence bit per key ever stored, so
 *   a miss asks SQLite nothing until its answer is stored.
 * - Stores and lock releases are written behind: queued, then committed together in one
 *   transaction on the next turn of the event loop, so concurrent misses share one commit
 *   (the response never waits for it). Deletes and purges write what
 *   is queued first.
 * - Every failure (busy, full, corrupt) is a miss or a skipped store, never an error to the
 *   client; it is reported once per kind through `onError`.
 */
import { Database } from 'bun:sqlite'
import { rmSync } from 'node:fs'
import type { CacheStoreConfig } from './schema.ts'
import { createExclusive, SHARED_CACHE_COMPANIONS } from '../../files/private.ts'
import type { Logger } from '../../log.ts'
import type { CacheDirectives } from './directives.ts'
import { splitPrimaryKey, variantKey, type FieldValue } from './key.ts'
import { entrySize, type CacheEntry } from './store.ts'
import { createFillBoard, FILL_BOARD_SUFFIX, openFillBoard } from './fill-board.ts'

/** Bumped when the layout changes: an older database is emptied and rebuilt. */
const SCHEMA_VERSION = 4
/** A write waits this long for another worker's transaction; past it, the store is skipped. */
const BUSY_TIMEOUT_MS = 50
/** The first wait before a queued commit that found the write lock taken tries again; doubled each time. */
const BUSY_RETRY_MS = 1
/** Hits are recorded for eviction order in one transaction this often, not one write per hit (~100 µs each). */
const TOUCH_FLUSH_MS = 1000
/**
 * A hit is recorded only when the entry's recorded use is older than this: eviction order is
 * exact to a minute. Recording each hit cost ~10 µs a key in the flush, which under thousands
 * of shared hits a second stopped the worker for 17-107 ms every second (its p99 65-78 ms).
 */
const TOUCH_EVERY_MS = 60_000
/** At most this many hits recorded in one transaction; the rest on the next turns (~2-3 ms each). */
const TOUCH_SLICE = 256

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS variants (primary_key TEXT PRIMARY KEY, names TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
  key TEXT PRIMARY KEY, primary_key TEXT NOT NULL, size INTEGER NOT NULL, used INTEGER NOT NULL,
  head TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entries_used ON entries (used);
`
/** Layout 3 kept the byte total in a row its triggers rewrote with every entry. */
const OLD_LAYOUT = 'DROP TRIGGER IF EXISTS entries_added; DROP TRIGGER IF EXISTS entries_removed; DROP TABLE IF EXISTS usage; DROP TABLE IF EXISTS locks'
/** The byte total, from the rows (size comes before the body: no overflow page is read). */
const SUM_BYTES = 'SELECT coalesce(sum(size), 0) AS n FROM entries'
/** Every primary key stored: its own row (no Vary) or a variants row (Vary). */
const PRIMARIES = 'SELECT primary_key FROM variants UNION SELECT primary_key FROM entries'

/** What is stored beside the body: what a CacheEntry holds but its key, bytes and Vary names (none, or in `variants`). */
interface Head {
  status: number
  /** Name → value (Headers' toJSON); rows written before held [name, value] pairs. Both make the same Headers. */
  headers: Record<string, string> | [string, string][]
  directives: CacheDirectives
  lifetime: number
  clock: CacheEntry['clock']
  bodyBytes: number
}

export interface SharedStoreOptions {
  path: string
  maxBytes: number
  maxObjectBytes: number
  /** A failure kind (`busy`, `full`, `corrupt`, ...) the first time it happens. */
  onError?: (kind: string) => void
  now?: () => number
}

/** The sqlite error kind of `err`, for logs and metrics. */
function errorKind(err: unknown): string {
  const code = (err as { code?: string }).code ?? ''
  return code.startsWith('SQLITE_') ? code.slice(7).toLowerCase() : 'error'
}

/**
 * Opens an existing database file: the primary makes it private (0600, files/private.ts)
 * before any worker opens it, and SQLite gives its -wal and -shm the database file's mode.
 * Never created here, so a file removed under a running gateway is not remade world-readable.
 */
function open(path: string): Database {
  const db = new Database(path, { readwrite: true, create: false, strict: true })
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  db.exec('PRAGMA journal_mode = WAL')
  // A cache: no fsync (NORMAL cost 3x per write on a disk). An OS crash may damage the file;
  // the primary checks it at start and remakes it, and a damaged row reads as a miss.
  db.exec('PRAGMA synchronous = OFF')
  db.exec('PRAGMA journal_size_limit = 8388608')
  return db
}

/** The tables, and the layout version they are. */
function initialise(db: Database): void {
  db.exec(SCHEMA)
  db.query("INSERT OR REPLACE INTO meta VALUES ('version', ?)").run(String(SCHEMA_VERSION))
}

/** SQLITE_BUSY and its extended codes (busy_snapshot, ...): another connection holds the lock. */
const isBusy = (err: unknown): boolean => errorKind(err).startsWith('busy')

function removeFiles(path: string): void {
  for (const suffix of ['', ...SHARED_CACHE_COMPANIONS]) rmSync(path + suffix, { force: true })
}

/** A new fill board for the database `db` at `path`: its presence bits say what the database holds. */
function remakeBoard(db: Database, path: string): void {
  rmSync(path + FILL_BOARD_SUFFIX, { force: true })
  const primaries = db.query<{ primary_key: string }, []>(PRIMARIES).all()
  // Its byte total is set by each store as it opens (openSharedStore), the only readers.
  createFillBoard(path + FILL_BOARD_SUFFIX, primaries.map((row) => row.primary_key))
}

/**
 * Opens the database at `path` for the node (the primary, once, before any worker), a private
 * file already there (files/private.ts): empty when just made, emptied and remade when corrupt
 * or of another layout. Returns what it did, for the log.
 */
export function prepareSharedCache(path: string): { db: Database; outcome: 'opened' | 'created' | 'recreated'; reason?: string } {
  const existed = Bun.file(path).size > 0
  try {
    const db = open(path)
    const check = db.query('PRAGMA quick_check').get() as { quick_check: string } | null
    if (check?.quick_check !== 'ok') throw Object.assign(new Error('quick_check failed'), { code: 'SQLITE_CORRUPT' })
    db.exec(SCHEMA)
    const version = db.query("SELECT value FROM meta WHERE name = 'version'").get() as { value: string } | null
    if (version === null || version.value !== String(SCHEMA_VERSION)) {
      // Dropped and made anew: an older layout's columns differ.
      db.exec(`${OLD_LAYOUT}; DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS variants`)
      initialise(db)
      // A new board: locks of a previous run are stale, nobody is filling them any more.
      remakeBoard(db, path)
      if (version !== null) return { db, outcome: 'recreated', reason: 'layout' }
      return { db, outcome: existed ? 'opened' : 'created' }
    }
    remakeBoard(db, path)
    return { db, outcome: existed ? 'opened' : 'created' }
  } catch (err) {
    removeFiles(path)
    createExclusive(path)
    const db = open(path)
    initialise(db)
    remakeBoard(db, path)
    return { db, outcome: 'recreated', reason: errorKind(err) }
  }
}

export function openSharedStore(options: SharedStoreOptions) {
  const now = options.now ?? Date.now
  const db = open(options.path)
  db.exec(SCHEMA)
  const board = openFillBoard(options.path + FILL_BOARD_SUFFIX)
  const reported = new Set<string>()
  const failed = (err: unknown) => {
    const kind = errorKind(err)
    if (!reported.has(kind)) {
      reported.add(kind)
      options.onError?.(kind)
    }
  }

  // A primary key's entry without Vary is the row keyed by it (a variant key with Vary always
  // adds to it, key.ts); with Vary, its `variants` row names the fields. One query finds either.
  const selectByPrimary = db.query<{ names: string | null; head: string | null; body: Uint8Array | null; used: number | null }, [string]>(
    'SELECT NULL AS names, head, body, used FROM entries WHERE key = ?1 UNION ALL SELECT names, NULL, NULL, NULL FROM variants WHERE primary_key = ?1 LIMIT 1'
  )
  const selectEntry = db.query<{ head: string; body: Uint8Array; used: number }, [string]>('SELECT head, body, used FROM entries WHERE key = ?')
  // The same choice without the row's head and body: only whether a row is there.
  const selectNames = db.query<{ names: string }, [string]>(
    "SELECT '[]' AS names FROM entries WHERE key = ?1 UNION ALL SELECT names FROM variants WHERE primary_key = ?1 LIMIT 1"
  )
  const selectSize = db.query<{ size: number }, [string]>('SELECT size FROM entries WHERE key = ?')
  const touch = db.query('UPDATE entries SET used = ? WHERE key = ?')
  const upsertNames = db.query('INSERT INTO variants VALUES (?, ?) ON CONFLICT (primary_key) DO UPDATE SET names = excluded.names')
  const deleteKey = db.query<{ size: number }, [string]>('DELETE FROM entries WHERE key = ? RETURNING size')
  const insertEntry = db.query('INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)')
  const insertNew = db.query('INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)')
  // A primary's variants are its key alone or its key, NUL, the selecting values (key.ts):
  // a key range, so no index on primary_key is needed.
  const VARIANTS = 'key = ?1 OR (key > ?1 || char(0) AND key < ?1 || char(1))'
  const deleteEntries = db.query<{ size: number }, [string]>(`DELETE FROM entries WHERE ${VARIANTS} RETURNING size`)
  const deleteNames = db.query('DELETE FROM variants WHERE primary_key = ?')
  // Least recently used first, then oldest written: what a commit stored goes last.
  const selectOldest = db.query<{ key: string; primary_key: string }, []>('SELECT key, primary_key FROM entries ORDER BY used, rowid LIMIT 1')
  const countVariants = db.query<{ n: number }, [string]>(`SELECT count(*) AS n FROM entries WHERE ${VARIANTS}`)
  const selectPrimaries = db.query<{ primary_key: string }, []>(PRIMARIES)
  const selectCount = db.query<{ n: number }, []>('SELECT count(*) AS n FROM entries')
  const sumBytes = db.query<{ n: number }, []>(SUM_BYTES)

  /**
   * The byte total lives on the board (fill-board.ts), changed as each statement of a write
   * transaction runs: `pending` is what the open transaction changed, taken back if it rolls back.
   */
  let pending = 0
  const changeBytes = (delta: number) => {
    pending += delta
    board.addBytes(delta)
  }
  /** `fn` in one write transaction (BEGIN IMMEDIATE), keeping the board's byte total right. */
  const inWrite = <A extends unknown[], R>(fn: (...args: A) => R) => {
    const tx = db.transaction(fn)
    return (...args: A): R => {
      pending = 0
      try {
        return tx.immediate(...args)
      } catch (err) {
        board.addBytes(-pending)
        throw err
      } finally {
        pending = 0
      }
    }
  }
  // Under the write lock no other process is inside a transaction: the rows are the truth.
  try {
    inWrite(() => board.setBytes(sumBytes.get()!.n))()
  } catch (err) {
    failed(err)
  }

  /** Keys hit since the last flush, with when (Map order: the oldest hits first). */
  const touched = new Map<string, number>()
  const writeTouches = db.transaction((slice: [string, number][]) => {
    for (const [key, at] of slice) touch.run(at, key)
  })
  /** Records up to TOUCH_SLICE hits; true when more are left. */
  const flushSlice = (): boolean => {
    const slice: [string, number][] = []
    for (const pair of touched) {
      slice.push(pair)
      touched.delete(pair[0])
      if (slice.length === TOUCH_SLICE) break
    }
    try {
      writeTouches.immediate(slice)
    } catch (err) {
      failed(err)
    }
    return touched.size > 0
  }
  let slicing = false
  const nextSlice = () => {
    // Nothing left (close() may have written it all): no transaction.
    if (touched.size > 0 && flushSlice()) setImmediate(nextSlice)
    else slicing = false
  }
  const flushTouches = () => {
    if (touched.size === 0 || slicing) return
    slicing = true
    nextSlice()
  }
  const flusher = setInterval(flushTouches, TOUCH_FLUSH_MS)
  flusher.unref()

  const removePrimary = (primary: string): number => {
    const removed = deleteEntries.all(primary)
    for (const row of removed) changeBytes(-row.size)
    deleteNames.run(primary)
    return removed.length
  }
  const removeKey = (key: string) => {
    const removed = deleteKey.get(key)
    if (removed) changeBytes(-removed.size)
  }
  /** The Vary names `primary`'s stored entries are keyed by: [] for its own row, undefined when none is stored. */
  const storedNames = (primary: string): string | undefined => selectNames.get(primary)?.names

  /**
   * Inserts the entry of a key no worker had stored when it was queued: no old size to read
   * first. False when another worker has stored the key since (the insert is refused, the
   * transaction goes on): then it is replaced as any stored key is.
   */
  const insertedNew = (entry: CacheEntry, head: string, used: number): boolean => {
    try {
      insertNew.run(entry.key, entry.primary, entry.size, used, head, entry.body)
      return true
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false
      throw err
    }
  }

  /** Stores one entry; `fresh` when no worker had stored its primary key (the board said so): no Vary names to compare. */
  const writeOne = (entry: CacheEntry, head: string, fresh: boolean) => {
    const varyNames = entry.varyNames.length === 0 ? '[]' : JSON.stringify(entry.varyNames)
    if (!fresh) {
      const names = storedNames(entry.primary)
      // A changed Vary makes the old variants unreachable (RFC 9111 §4.1).
      if (names !== undefined && names !== varyNames) removePrimary(entry.primary)
    }
    if (entry.varyNames.length > 0) upsertNames.run(entry.primary, varyNames)
    const used = now()
    if (fresh && insertedNew(entry, head, used)) return changeBytes(entry.size)
    // Replaced: its old size leaves the total.
    const old = selectSize.get(entry.key)
    insertEntry.run(entry.key, entry.primary, entry.size, used, head, entry.body)
    changeBytes(entry.size - (old?.size ?? 0))
  }

  /** Evicts the least recently used entries while the total is over maxBytes (once per commit). */
  const evict = () => {
    while (board.bytes() > options.maxBytes) {
      const oldest = selectOldest.get()
      if (!oldest) break
      removeKey(oldest.key)
      if (oldest.key !== oldest.primary_key && countVariants.get(oldest.primary_key)!.n === 0) deleteNames.run(oldest.primary_key)
    }
  }

  /** Entries and lock releases waiting for the next commit. */
  const queued: { entry: CacheEntry; head: string; fresh: boolean }[] = []
  /** Fill locks this worker holds, by primary key: their expiry, to release only our own. */
  const held = new Map<string, number>()
  const releases: string[] = []
  let scheduled = false
  const writeQueued = inWrite(() => {
    for (const { entry, head, fresh } of queued) writeOne(entry, head, fresh)
    evict()
  })
  // The loop's own commits do not wait for another worker's write lock inside SQLite, whose
  // busy handler sleeps with the event loop stopped (commits of up to 34 ms under unique-URL
  // misses on 2 workers, every request of the worker waiting): they try again on a timer instead.
  const noWait = db.query('PRAGMA busy_timeout = 0')
  const wait = db.query(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  /** When the queued commit first found the lock taken (performance.now()), and its next wait. */
  let busySince = 0
  let retryMs = BUSY_RETRY_MS
  /**
   * Commits what is queued, then releases the fill locks it filled. `blocking` (before a
   * delete, a purge, a count, the close) waits for the write lock in SQLite, so what was
   * queued lands first; the loop's commit instead tries again a little later while the lock
   * is taken, up to BUSY_TIMEOUT_MS in all, as long as SQLite would have waited.
   */
  const flush = (blocking = true) => {
    scheduled = false
    if (queued.length === 0 && releases.length === 0) return
    try {
      if (queued.length > 0) {
        if (blocking) writeQueued()
        else {
          noWait.run()
          try {
            writeQueued()
          } finally {
            wait.run()
          }
        }
      }
    } catch (err) {
      if (!blocking && isBusy(err)) {
        const at = performance.now()
        if (busySince === 0) busySince = at
        if (at - busySince < BUSY_TIMEOUT_MS) return retryLater()
      }
      failed(err)
    }
    busySince = 0
    retryMs = BUSY_RETRY_MS
    // After the commit: a worker waiting on a lock finds the entry once the lock is gone.
    for (const primary of releases) {
      const expires = held.get(primary)
      held.delete(primary)
      if (expires !== undefined) board.release(primary, expires)
    }
    queued.length = 0
    releases.length = 0
  }
  // The next turn of the event loop, never later: a store held back for a few milliseconds
  // could land after another worker's invalidation of the same key and bring it back. (A
  // commit that finds the lock taken is held back as long as SQLite's own wait would hold it.)
  const flushSoon = () => flush(false)
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(flushSoon)
  }
  const retryLater = () => {
    scheduled = true
    setTimeout(flushSoon, retryMs)
    retryMs *= 2
  }

  return {
    /** The stored variant of `primary` selected by the request's sent fields, if any (a new object each time). */
    lookup(primary: string, valueOf: FieldValue): CacheEntry | undefined {
      if (!board.mayHold(primary)) return undefined
      try {
        const first = selectByPrimary.get(primary)
        if (!first) return undefined
        const varyNames = first.names === null ? [] : (JSON.parse(first.names) as string[])
        const key = variantKey(primary, varyNames, valueOf)
        const row = first.head !== null && first.body !== null ? { head: first.head, body: first.body, used: first.used! } : selectEntry.get(key)
        if (!row) return undefined
        const head = JSON.parse(row.head) as Head
        // Written in one transaction, so this holds unless the file was damaged: then it is a miss.
        if (row.body.byteLength !== head.bodyBytes) {
          inWrite(removeKey)(key)
          return undefined
        }
        const at = now()
        if (at - row.used >= TOUCH_EVERY_MS) touched.set(key, at)
        const headers = new Headers(head.headers)
        return {
          primary,
          key,
          status: head.status,
          headers,
          body: row.body,
          directives: head.directives,
          lifetime: head.lifetime,
          clock: head.clock,
          varyNames,
          size: entrySize(key, headers, row.body),
        }
      } catch (err) {
        failed(err)
        return undefined
      }
    },

    /** The Vary names stored variants of `primary` are keyed by, if any are stored. */
    namesOf(primary: string): readonly string[] | undefined {
      if (!board.mayHold(primary)) return undefined
      try {
        const names = storedNames(primary)
        return names === undefined ? undefined : (JSON.parse(names) as string[])
      } catch (err) {
        failed(err)
        return undefined
      }
    },

    /** Queues `entry` for the next commit; false when it is too large. */
    put(entry: CacheEntry): boolean {
      if (entry.body.byteLength > options.maxObjectBytes || entry.size > options.maxBytes) return false
      const head: Head = {
        status: entry.status,
        // Never a Set-Cookie, the one field toJSON gives as a list: the cache does not store it (response-cache.ts).
        headers: entry.headers.toJSON(),
        directives: entry.directives,
        lifetime: entry.lifetime,
        clock: entry.clock,
        bodyBytes: entry.body.byteLength,
      }
      queued.push({ entry, head: JSON.stringify(head), fresh: !board.mayHold(entry.primary) })
      board.markStored(entry.primary)
      schedule()
      return true
    },

    /** Removes every variant of `primary`; returns how many. */
    delete(primary: string): number {
      flush()
      try {
        return inWrite(removePrimary)(primary)
      } catch (err) {
        failed(err)
        return 0
      }
    },

    /** Removes every entry whose primary key matches; returns how many. */
    purgeWhere(match: (parts: { scheme: string; host: string; target: string }) => boolean): number {
      flush()
      try {
        const primaries = selectPrimaries.all().map((row) => row.primary_key).filter((primary) => match(splitPrimaryKey(primary)))
        return inWrite(() => primaries.reduce((sum, primary) => sum + removePrimary(primary), 0))()
      } catch (err) {
        failed(err)
        return 0
      }
    },

    /** Claims the fill of `primary` for this worker for `ttlMs`; false when another worker holds it. */
    lock(primary: string, ttlMs: number): boolean {
      const at = now()
      const expires = at + ttlMs
      if (!board.lock(primary, at, expires)) return false
      held.set(primary, expires)
      return true
    },

    /** Whether another worker is still filling `primary`. */
    locked(primary: string): boolean {
      return board.locked(primary, now())
    },

    /** Releases the fill lock of `primary` with the next commit, after the entry it filled. */
    unlock(primary: string): void {
      releases.push(primary)
      schedule()
    },

    stats(): { entries: number; bytes: number } {
      flush()
      try {
        return { entries: selectCount.get()!.n, bytes: board.bytes() }
      } catch (err) {
        failed(err)
        return { entries: 0, bytes: 0 }
      }
    },

    close(): void {
      clearInterval(flusher)
      flush()
      while (touched.size > 0) flushSlice()
      db.close()
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
      maxBytes: cache.shared.maxBytes,
      maxObjectBytes: cache.maxObjectBytes,
      onError: (kind) => log.warn('shared_cache_error', { error: kind }),
    })
  } catch (err) {
    log.warn('shared_cache_unavailable', { path, error: (err as { code?: string }).code ?? 'error' })
    return undefined
  }
}
