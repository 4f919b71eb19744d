import { describe, expect, test } from 'bun:test'
import { NO_DIRECTIVES } from './directives.ts'
import { primaryKey, variantKey } from './key.ts'

/** The request's fields as sent: these tests forward headers unchanged. */
const fields = (headers: Headers) => (name: string) => headers.get(name)
import { purge } from './purge.ts'
import { createCacheStore, entrySize, type CacheEntry } from './store.ts'

function entry(path: string, bytes: number, names: string[] = [], request = new Headers(), host = 'a'): CacheEntry {
  const primary = primaryKey('http', host, path, '')
  const headers = new Headers({ 'content-length': String(bytes) })
  const body = new Uint8Array(bytes)
  const key = variantKey(primary, names, fields(request))
  return {
    primary,
    key,
    status: 200,
    headers,
    body,
    directives: NO_DIRECTIVES,
    lifetime: 60,
    clock: { requestTime: 0, responseTime: 0, dateValue: 0, ageValue: 0 },
    varyNames: names,
    size: entrySize(key, headers, body),
  }
}

describe('createCacheStore', () => {
  test('finds the variant selected by the request headers', () => {
    const store = createCacheStore({ maxEntries: 10, maxBytes: 1 << 20, maxObjectBytes: 1 << 16 })
    const gzip = new Headers({ 'accept-encoding': 'gzip' })
    store.put(entry('/x', 10, ['accept-encoding'], gzip))
    expect(store.lookup(primaryKey('http', 'a', '/x', ''), fields(gzip))?.body.byteLength).toBe(10)
    expect(store.lookup(primaryKey('http', 'a', '/x', ''), fields(new Headers()))).toBeUndefined()
  })

  test('never holds more than maxBytes, evicting least recently used', () => {
    const store = createCacheStore({ maxEntries: 1000, maxBytes: 10_000, maxObjectBytes: 5000 })
    for (let i = 0; i < 50; i++) {
      store.put(entry(`/e${i}`, 1000))
      expect(store.stats().bytes).toBeLessThanOrEqual(10_000)
    }
    expect(store.stats().evictions).toBeGreaterThan(0)
    expect(store.lookup(primaryKey('http', 'a', '/e49', ''), fields(new Headers()))).toBeDefined()
    expect(store.lookup(primaryKey('http', 'a', '/e0', ''), fields(new Headers()))).toBeUndefined()
  })

  test('counts the key in maxBytes: huge varied header values cannot grow memory past it', () => {
    const store = createCacheStore({ maxEntries: 100_000, maxBytes: 1 << 20, maxObjectBytes: 1 << 16 })
    for (let i = 0; i < 500; i++) {
      const request = new Headers({ 'accept-encoding': `${i}-${'x'.repeat(16 * 1024)}` })
      store.put(entry('/k', 10, ['accept-encoding'], request))
    }
    const { bytes, entries } = store.stats()
    expect(bytes).toBeLessThanOrEqual(1 << 20)
    // Each entry holds a 16 KiB key: at most 1 MiB / 32 KiB of them fit.
    expect(entries).toBeLessThanOrEqual(32)
    expect(bytes).toBeGreaterThanOrEqual(entries * 2 * 16 * 1024)
  })

  test('refuses bodies over maxObjectBytes', () => {
    const store = createCacheStore({ maxEntries: 10, maxBytes: 1 << 20, maxObjectBytes: 100 })
    expect(store.put(entry('/big', 101))).toBe(false)
    expect(store.stats().entries).toBe(0)
  })

  test('delete removes every variant; purge by prefix and host', () => {
    const store = createCacheStore({ maxEntries: 100, maxBytes: 1 << 20, maxObjectBytes: 1 << 16 })
    store.put(entry('/x', 1, ['accept'], new Headers({ accept: 'a' })))
    store.put(entry('/x', 1, ['accept'], new Headers({ accept: 'b' })))
    store.put(entry('/api/1', 1))
    store.put(entry('/api/2', 1, [], new Headers(), 'other'))
    expect(store.delete(primaryKey('http', 'a', '/x', ''))).toBe(2)
    expect(purge(store, { prefix: '/api', host: 'other' })).toBe(1)
    expect(purge(store, { url: 'http://a/api/1' })).toBe(1)
    expect(store.stats().entries).toBe(0)
  })

  test('a changed Vary drops the variants stored under the old one', () => {
    const store = createCacheStore({ maxEntries: 100, maxBytes: 1 << 20, maxObjectBytes: 1 << 16 })
    store.put(entry('/x', 1, ['accept'], new Headers({ accept: 'a' })))
    store.put(entry('/x', 2, ['accept-language'], new Headers({ 'accept-language': 'en' })))
    expect(store.stats().entries).toBe(1)
  })
})
