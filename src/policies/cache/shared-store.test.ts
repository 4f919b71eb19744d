import { afterEach, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../../../test/fixtures/process.ts'
import { createExclusive } from '../../files/private.ts'
import { openFillBoard } from './fill-board.ts'
import { NO_DIRECTIVES } from './directives.ts'
import { primaryKey, variantKey } from './key.ts'
import { purge } from './purge.ts'
import { openSharedStore, prepareSharedCache, type SharedStore } from './shared-store.ts'
import { entrySize, type CacheEntry } from './store.ts'

const fields = (headers: Headers) => (name: string) => headers.get(name)
/** Stores and lock releases are committed on the next turn of the event loop. */
const committed = () => new Promise((resolve) => setImmediate(resolve))

function entry(path: string, bytes: number, names: string[] = [], request = new Headers()): CacheEntry {
  const primary = primaryKey('http', 'a', path, '')
  const headers = new Headers({ 'content-length': String(bytes), 'content-type': 'text/plain' })
  const body = new Uint8Array(bytes).fill(7)
  const key = variantKey(primary, names, fields(request))
  return {
    primary,
    key,
    status: 200,
    headers,
    body,
    directives: { ...NO_DIRECTIVES, maxAge: 60 },
    lifetime: 60,
    clock: { requestTime: 1, responseTime: 2, dateValue: 2, ageValue: 0 },
    varyNames: names,
    size: entrySize(key, headers, body),
  }
}

const open: SharedStore[] = []
function storeAt(path: string, maxBytes = 1 << 20) {
  const store = openSharedStore({ path, maxBytes, maxObjectBytes: 1 << 16 })
  open.push(store)
  return store
}
/** A new private database file, as the primary makes it before opening (files/private.ts). */
function freshPath(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gw-shared-')), 'cache.sqlite')
  createExclusive(path)
  return path
}
/** A new database prepared as the primary prepares it before any worker opens it (with its fill board). */
function preparedPath(): string {
  const path = freshPath()
  prepareSharedCache(path).db.close()
  return path
}
/** Two workers' stores on one prepared database, on the clock `clock.now`. */
function twoWorkers(clock: { now: number }): [SharedStore, SharedStore] {
  const path = preparedPath()
  const stores = [0, 1].map(() => openSharedStore({ path, maxBytes: 1 << 20, maxObjectBytes: 1 << 16, now: () => clock.now }))
  open.push(...stores)
  return stores as [SharedStore, SharedStore]
}
afterEach(() => {
  for (const store of open.splice(0)) store.close()
})

describe('the shared store', () => {
  test('an entry put by one worker is found, whole, by another, once committed', async () => {
    const path = preparedPath()
    prepareSharedCache(path).db.close()
    const gzip = new Headers({ 'accept-encoding': 'gzip' })
    storeAt(path).put(entry('/x', 100, ['accept-encoding'], gzip))
    const other = storeAt(path)
    expect(other.lookup(primaryKey('http', 'a', '/x', ''), fields(gzip))).toBeUndefined()
    await committed()
    const found = other.lookup(primaryKey('http', 'a', '/x', ''), fields(gzip))!
    expect(found.status).toBe(200)
    expect(found.body).toEqual(new Uint8Array(100).fill(7))
    expect(found.headers.get('content-type')).toBe('text/plain')
    expect(found.directives.maxAge).toBe(60)
    expect(found.clock).toEqual({ requestTime: 1, responseTime: 2, dateValue: 2, ageValue: 0 })
    // Another variant is not served in its place.
    expect(other.lookup(primaryKey('http', 'a', '/x', ''), fields(new Headers()))).toBeUndefined()
  })

  test('a 10x maxBytes fill never goes over it, evicting the least recently used', async () => {
    const path = preparedPath()
    const store = storeAt(path, 100_000)
    for (let i = 0; i < 100; i++) {
      expect(store.put(entry(`/e${i}`, 10_000))).toBe(true)
      if (i % 7 === 0) await committed()
      expect(store.stats().bytes).toBeLessThanOrEqual(100_000)
    }
    const check = new Database(path)
    const { total } = check.query('SELECT sum(size) AS total FROM entries').get() as { total: number }
    check.close()
    expect(total).toBeLessThanOrEqual(100_000)
    expect(store.lookup(primaryKey('http', 'a', '/e99', ''), fields(new Headers()))).toBeDefined()
    expect(store.lookup(primaryKey('http', 'a', '/e0', ''), fields(new Headers()))).toBeUndefined()
    // Freed pages are reused: the file stays near the bound.
    expect(statSync(path).size).toBeLessThan(3 * 100_000 + 65_536)
  })

  /** The `used` of each key's row, read as another connection sees it. */
  const usedOf = (path: string, keys: string[]) => {
    const db = new Database(path, { readonly: true })
    const used = keys.map((key) => (db.query('SELECT used FROM entries WHERE key = ?').get(key) as { used: number }).used)
    db.close()
    return used
  }

  test('a hit is recorded for eviction order only when the recorded use is over a minute old', async () => {
    const path = preparedPath()
    const clock = { now: 1_000_000 }
    const store = openSharedStore({ path, maxBytes: 1 << 20, maxObjectBytes: 1 << 16, now: () => clock.now })
    open.push(store)
    const [old, recent] = [entry('/old', 100), entry('/recent', 100)]
    store.put(old)
    await committed()
    clock.now += 31_000
    store.put(recent)
    await committed()
    clock.now += 30_000
    for (const e of [old, recent]) expect(store.lookup(e.primary, fields(new Headers()))).toBeDefined()
    // Both hits are flushed in one transaction: once the old one's is written, the recent one's was not.
    // The touches are written every second.
    await waitFor(() => usedOf(path, [old.key])[0] === 1_061_000, 4000, 'the old hit recorded')
    expect(usedOf(path, [recent.key])).toEqual([1_031_000])
  })

  test('hits beyond one transaction are all recorded, over the next turns', async () => {
    const path = preparedPath()
    const clock = { now: 1_000_000 }
    const store = openSharedStore({ path, maxBytes: 1 << 20, maxObjectBytes: 1 << 16, now: () => clock.now })
    open.push(store)
    const entries = Array.from({ length: 600 }, (_, i) => entry(`/hit${i}`, 100))
    for (const e of entries) store.put(e)
    await committed()
    clock.now += 61_000
    for (const e of entries) expect(store.lookup(e.primary, fields(new Headers()))).toBeDefined()
    const keys = entries.map((e) => e.key)
    await waitFor(() => usedOf(path, keys).every((used) => used === 1_061_000), 4000, 'every hit recorded')
  })

  test('a body that does not match its recorded length is a miss, never served short', async () => {
    const path = preparedPath()
    const store = storeAt(path)
    store.put(entry('/t', 1000))
    await committed()
    const damage = new Database(path)
    damage.query('UPDATE entries SET body = ?').run(new Uint8Array(10))
    damage.close()
    expect(store.lookup(primaryKey('http', 'a', '/t', ''), fields(new Headers()))).toBeUndefined()
  })

  test('purge and delete remove every variant', () => {
    const store = storeAt(preparedPath())
    store.put(entry('/api/1', 10, ['accept'], new Headers({ accept: 'a' })))
    store.put(entry('/api/1', 10, ['accept'], new Headers({ accept: 'b' })))
    store.put(entry('/other', 10))
    expect(purge(store, { prefix: '/api' })).toBe(2)
    expect(store.delete(primaryKey('http', 'a', '/other', ''))).toBe(1)
    expect(store.stats()).toEqual({ entries: 0, bytes: 0 })
  })

  test('one worker holds the fill lock for a key until it unlocks (with the next commit) or the lock expires', async () => {
    const clock = { now: 1000 }
    const [a, b] = twoWorkers(clock)
    expect(a.lock('k', 500)).toBe(true)
    expect(b.lock('k', 500)).toBe(false)
    expect(b.locked('k')).toBe(true)
    a.unlock('k')
    await committed()
    expect(b.locked('k')).toBe(false)
    expect(b.lock('k', 500)).toBe(true)
    clock.now += 501
    expect(a.lock('k', 500)).toBe(true)
  })

  test('a commit that finds the write lock taken waits outside SQLite: it lands once the lock is free, its fill lock released after it', async () => {
    const path = preparedPath()
    const errors: string[] = []
    const writer = openSharedStore({ path, maxBytes: 1 << 20, maxObjectBytes: 1 << 16, onError: (kind) => errors.push(kind) })
    const reader = storeAt(path)
    open.push(writer)
    // Another worker's write transaction, open across turns of this loop.
    const other = new Database(path)
    other.exec('BEGIN IMMEDIATE')
    const held = entry('/held', 100)
    expect(writer.lock(held.primary, 10_000)).toBe(true)
    writer.put(held)
    writer.unlock(held.primary)
    // The commit ran on this turn and found the lock taken. SQLite's own wait would have stopped
    // this loop (the other connection could never commit) and dropped the entry, reporting "busy".
    await committed()
    expect(reader.lookup(held.primary, fields(new Headers()))).toBeUndefined()
    expect(reader.locked(held.primary)).toBe(true)
    other.exec('COMMIT')
    other.close()
    await waitFor(() => reader.lookup(held.primary, fields(new Headers())) !== undefined, 5000, 'the entry committed')
    expect(reader.lookup(held.primary, fields(new Headers()))?.body.byteLength).toBe(100)
    expect(reader.locked(held.primary)).toBe(false)
    expect(errors).toEqual([])
  })

  test('a corrupt file is recreated, a missing one created, a good one kept', async () => {
    const path = freshPath()
    const created = prepareSharedCache(path)
    expect(created.outcome).toBe('created')
    created.db.close()
    storeAt(path).put(entry('/kept', 10))
    await committed()
    const reopened = prepareSharedCache(path)
    expect(reopened.outcome).toBe('opened')
    reopened.db.close()
    expect(storeAt(path).lookup(primaryKey('http', 'a', '/kept', ''), fields(new Headers()))).toBeDefined()
    for (const store of open.splice(0)) store.close()
    writeFileSync(path, 'this is not a database '.repeat(200))
    const recreated = prepareSharedCache(path)
    expect(recreated.outcome).toBe('recreated')
    recreated.db.close()
    expect(storeAt(path).lookup(primaryKey('http', 'a', '/kept', ''), fields(new Headers()))).toBeUndefined()
  })

  test('a key no worker stored is a miss without a query; a kept database marks what it holds when prepared again', async () => {
    const path = preparedPath()
    const stored = entry('/stored', 10)
    // Written behind the store's back (as by a gateway of an older layout): the board knows nothing of it.
    const raw = new Database(path)
    raw.query('INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)').run(stored.key, stored.primary, stored.size, 1, JSON.stringify({ status: 200, headers: [], directives: stored.directives, lifetime: 60, clock: stored.clock, bodyBytes: 10 }), stored.body)
    raw.close()
    expect(storeAt(path).lookup(stored.primary, fields(new Headers()))).toBeUndefined()
    for (const store of open.splice(0)) store.close()
    prepareSharedCache(path).db.close()
    expect(storeAt(path).lookup(stored.primary, fields(new Headers()))?.body).toEqual(stored.body)
  })

  test('a lock that expired and was taken by another worker is not released by its first holder', async () => {
    const clock = { now: 1000 }
    const [a, b] = twoWorkers(clock)
    expect(a.lock('k', 500)).toBe(true)
    clock.now += 501
    expect(b.lock('k', 500)).toBe(true)
    a.unlock('k')
    await committed()
    expect(a.locked('k')).toBe(true)
    expect(a.lock('k', 500)).toBe(false)
  })

  test('the fill board is a private file beside the database, made by the primary', () => {
    const path = preparedPath()
    expect(statSync(`${path}-fill`).mode & 0o777).toBe(0o600)
    rmSync(`${path}-fill`)
    expect(() => openSharedStore({ path, maxBytes: 1 << 20, maxObjectBytes: 1 << 16 })).toThrow()
  })

  test('storing a key again replaces it: the byte total counts it once', async () => {
    const store = storeAt(preparedPath())
    const one = entry('/again', 100)
    store.put(one)
    await committed()
    store.put(entry('/again', 100))
    await Bun.sleep(10)
    expect(store.stats()).toEqual({ entries: 1, bytes: one.size })
  })

  test('a new key another worker stored between this one queueing it and committing it is replaced, and counted once', async () => {
    const path = preparedPath()
    const store = storeAt(path)
    const theirs = entry('/raced', 100)
    // The other worker's commit, landed after this worker's put read the board (no worker held the key yet).
    const other = new Database(path)
    other.query('INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)').run(theirs.key, theirs.primary, theirs.size, 1, '{}', theirs.body)
    other.close()
    openFillBoard(`${path}-fill`).addBytes(theirs.size)
    const ours = entry('/raced', 50)
    expect(store.put(ours)).toBe(true)
    await committed()
    expect(store.stats()).toEqual({ entries: 1, bytes: ours.size })
    expect(store.lookup(ours.primary, fields(new Headers()))?.body.byteLength).toBe(50)
  })

  test('heads are written as a name → value object, and rows written with [name, value] pairs are still read', async () => {
    const path = preparedPath()
    const store = storeAt(path)
    const stored = entry('/object', 10)
    store.put(stored)
    await committed()
    const db = new Database(path)
    const row = db.query('SELECT head FROM entries WHERE key = ?').get(stored.key) as { head: string }
    expect(JSON.parse(row.head).headers).toEqual({ 'content-length': '10', 'content-type': 'text/plain' })
    const old = entry('/pairs', 10)
    const head = { status: 200, headers: [['content-type', 'text/plain'], ['content-length', '10']], directives: old.directives, lifetime: 60, clock: old.clock, bodyBytes: 10 }
    db.query('INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)').run(old.key, old.primary, old.size, 1, JSON.stringify(head), old.body)
    db.close()
    openFillBoard(`${path}-fill`).markStored(old.primary)
    expect(store.lookup(old.primary, fields(new Headers()))?.headers.get('content-type')).toBe('text/plain')
  })

  test('a changed Vary, either way, leaves the old variants unreachable for every worker (RFC 9111 §4.1)', async () => {
    const [a, b] = twoWorkers({ now: 1000 })
    const primary = primaryKey('http', 'a', '/v', '')
    const json = new Headers({ accept: 'application/json' })
    a.put(entry('/v', 10))
    await committed()
    b.put(entry('/v', 20, ['accept'], json))
    await committed()
    expect(a.stats().entries).toBe(1)
    expect(a.namesOf(primary)).toEqual(['accept'])
    expect(a.lookup(primary, fields(json))?.body.byteLength).toBe(20)
    expect(a.lookup(primary, fields(new Headers()))).toBeUndefined()
    a.put(entry('/v', 30))
    await committed()
    expect(b.stats().entries).toBe(1)
    expect(b.namesOf(primary)).toEqual([])
    expect(b.lookup(primary, fields(json))?.body.byteLength).toBe(30)
  })

  test('the byte total is shared by the workers, and set from the rows when a store opens', async () => {
    const path = preparedPath()
    const [a, b] = [storeAt(path, 100_000), storeAt(path, 100_000)]
    for (let i = 0; i < 40; i++) {
      ;(i % 2 === 0 ? a : b).put(entry(`/s${i % 25}`, 9_000))
      await committed()
    }
    const sum = () => {
      const check = new Database(path)
      const { total } = check.query('SELECT sum(size) AS total FROM entries').get() as { total: number }
      check.close()
      return total
    }
    expect(sum()).toBeLessThanOrEqual(100_000)
    expect(a.stats().bytes).toBe(sum())
    expect(b.stats().bytes).toBe(sum())
    // As a process killed inside a transaction leaves it: the next store opened (its respawn) sets it right.
    openFillBoard(`${path}-fill`).addBytes(12_345)
    expect(storeAt(path, 100_000).stats().bytes).toBe(sum())
  })

  test('a database of the previous layout is emptied once, then kept', () => {
    const path = freshPath()
    const old = new Database(path)
    old.exec(`CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('version', '3');
      CREATE TABLE variants (primary_key TEXT PRIMARY KEY, names TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE entries (key TEXT PRIMARY KEY, primary_key TEXT NOT NULL, head TEXT NOT NULL, body BLOB NOT NULL, size INTEGER NOT NULL, used INTEGER NOT NULL);
      CREATE INDEX entries_used ON entries (used);
      CREATE TABLE usage (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
      INSERT INTO usage VALUES (1, 0);
      CREATE TRIGGER entries_added AFTER INSERT ON entries BEGIN UPDATE usage SET bytes = bytes + NEW.size; END;`)
    old.query('INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)').run('old', 'old', '{}', new Uint8Array(3), 3, 1)
    old.close()
    const first = prepareSharedCache(path)
    expect(first).toMatchObject({ outcome: 'recreated', reason: 'layout' })
    first.db.close()
    const store = storeAt(path)
    expect(store.stats()).toEqual({ entries: 0, bytes: 0 })
    const kept = entry('/kept', 10)
    store.put(kept)
    store.close()
    open.splice(0)
    const second = prepareSharedCache(path)
    expect(second.outcome).toBe('opened')
    second.db.close()
    const again = storeAt(path)
    expect(again.lookup(kept.primary, fields(new Headers()))?.body).toEqual(kept.body)
    expect(again.stats()).toEqual({ entries: 1, bytes: kept.size })
  })
})
