import { afterEach, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../../../test/fixtures/process.ts'
import { createExclusive } from '../../files/private.ts'
import { NO_DIRECTIVES } from './directives.ts'
import { primaryKey, variantKey } from './key.ts'
import { purge } from './purge.ts'
import { openSharedStore, prepareSharedCache, type SharedStore } from './shared-store.ts'
import { entrySize, type CacheEntry } from './store.ts'

const fields = (headers: Headers) => (name: string) => headers.get(name)
const none = fields(new Headers())

function entry(path: string, bytes: number, names: string[] = [], request = new Headers(), fill = 7): CacheEntry {
  const primary = primaryKey('http', 'a', path, '')
  const headers = new Headers({ 'content-length': String(bytes), 'content-type': 'text/plain', 'x-fill': String(fill) })
  const body = new Uint8Array(bytes).fill(fill)
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
const keyOf = (path: string) => primaryKey('http', 'a', path, '')
/** The end of this turn of the event loop, when a store's staged entries are written. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

const open: SharedStore[] = []
function storeAt(path: string, onError?: (kind: string) => void, now?: () => number) {
  const store = openSharedStore({ path, maxObjectBytes: 1 << 16, onError, now })
  open.push(store)
  return store
}
/** A new private file, as the primary makes it before preparing it (files/private.ts). */
function freshPath(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gw-shared-')), 'cache.ring')
  createExclusive(path)
  return path
}
/** A file prepared as the primary prepares it before any worker opens it. */
function preparedPath(maxBytes = 1 << 20): string {
  const path = freshPath()
  prepareSharedCache(path, maxBytes)
  return path
}
/** Two workers' stores on one prepared file, on the clock `clock.now`. */
function twoWorkers(clock: { now: number }): [SharedStore, SharedStore] {
  const path = preparedPath()
  return [storeAt(path, undefined, () => clock.now), storeAt(path, undefined, () => clock.now)]
}
/** The file's header words (ring.ts): [magic, version, write lock, slots]. */
const headerWords = (path: string) => new Int32Array(Bun.mmap(path, { shared: true }).buffer, 0, 4)
afterEach(() => {
  for (const store of open.splice(0)) store.close()
})

/** Runs `script` in a process of its own with `store` opened on `path` (another worker). */
/**
 * A process with a store on `path` running `script` (`put(path, bytes, fill)` stores one entry;
 * the failures it reports are printed as `error <kind>` lines). With `fileSizeBlocks`, the
 * kernel refuses its writes past that many 512-byte blocks (RLIMIT_FSIZE, SIGXFSZ ignored):
 * EFBIG, as a full disk refuses them with ENOSPC.
 */
function worker(path: string, script: string, fileSizeBlocks?: number) {
  const source = `
    import { openSharedStore } from ${JSON.stringify(join(import.meta.dir, 'shared-store.ts'))}
    import { primaryKey } from ${JSON.stringify(join(import.meta.dir, 'key.ts'))}
    import { entrySize } from ${JSON.stringify(join(import.meta.dir, 'store.ts'))}
    const store = openSharedStore({ path: ${JSON.stringify(path)}, maxObjectBytes: 1 << 16, onError: (kind) => console.log('error ' + kind) })
    const put = (path, bytes, fill) => {
      const key = primaryKey('http', 'a', path, '')
      const headers = new Headers({ 'content-length': String(bytes), 'x-fill': String(fill) })
      const body = new Uint8Array(bytes).fill(fill)
      const clock = { requestTime: 1, responseTime: 2, dateValue: 2, ageValue: 0 }
      return store.put({ primary: key, key, status: 200, headers, body, directives: {}, lifetime: 60, clock, varyNames: [], size: entrySize(key, headers, body) })
    }
    ${script}`
  const command = [process.execPath, '-e', source]
  if (fileSizeBlocks === undefined) return Bun.spawn(command, { stdout: 'pipe', stderr: 'pipe' })
  // sh's ulimit -f counts 512-byte blocks; an ignored signal stays ignored across exec.
  return Bun.spawn(['sh', '-c', `trap '' XFSZ; ulimit -f ${fileSizeBlocks}; exec "$@"`, 'sh', ...command], { stdout: 'pipe', stderr: 'pipe' })
}

describe('the shared store', () => {
  test('an entry put by one worker is found, whole, by another once the turn ends', async () => {
    const path = preparedPath()
    const gzip = new Headers({ 'accept-encoding': 'gzip' })
    const other = storeAt(path)
    expect(storeAt(path).put(entry('/x', 100, ['accept-encoding'], gzip))).toBe(true)
    // Written with the turn's other stores, at its end.
    expect(other.lookup(keyOf('/x'), fields(gzip))).toBeUndefined()
    await turn()
    const found = other.lookup(keyOf('/x'), fields(gzip))!
    expect(found.status).toBe(200)
    expect(found.key).toBe(variantKey(keyOf('/x'), ['accept-encoding'], fields(gzip)))
    expect(found.body).toEqual(new Uint8Array(100).fill(7))
    expect(found.headers.get('content-type')).toBe('text/plain')
    expect(found.directives.maxAge).toBe(60)
    expect(found.clock).toEqual({ requestTime: 1, responseTime: 2, dateValue: 2, ageValue: 0 })
    expect(found.varyNames).toEqual(['accept-encoding'])
    // Another variant is not served in its place.
    expect(storeAt(path).lookup(keyOf('/x'), none)).toBeUndefined()
  })

  test("a turn's stores land together at its end; a fill lock released meanwhile is released after them", async () => {
    const path = preparedPath()
    const [store, other] = [storeAt(path), storeAt(path)]
    expect(store.lock(keyOf('/a'), 10_000)).toBe(true)
    store.put(entry('/a', 10))
    store.put(entry('/b', 20))
    store.unlock(keyOf('/a'))
    // Its own stores it finds at once (they are written first); another worker waits for them.
    expect(other.locked(keyOf('/a'))).toBe(true)
    expect(other.lookup(keyOf('/b'), none)).toBeUndefined()
    await turn()
    expect(other.locked(keyOf('/a'))).toBe(false)
    expect(other.lookup(keyOf('/a'), none)?.body.byteLength).toBe(10)
    expect(other.lookup(keyOf('/b'), none)?.body.byteLength).toBe(20)
    expect(store.lookup(keyOf('/a'), none)?.body.byteLength).toBe(10)
  })

  test('an invalidation lands after the stores of its turn before it, and before those after it', async () => {
    const path = preparedPath()
    const [store, other] = [storeAt(path), storeAt(path)]
    store.put(entry('/a', 10))
    store.put(entry('/b', 10))
    store.remove(keyOf('/a'))
    store.put(entry('/b', 30))
    await turn()
    expect(other.lookup(keyOf('/a'), none)).toBeUndefined()
    expect(other.lookup(keyOf('/b'), none)?.body.byteLength).toBe(30)
  })

  test('a 10x maxBytes fill never goes over it: the oldest entries go first', () => {
    const path = preparedPath(100_000)
    const store = storeAt(path)
    for (let i = 0; i < 100; i++) {
      expect(store.put(entry(`/e${i}`, 10_000))).toBe(true)
      expect(store.stats().bytes).toBeLessThanOrEqual(100_000)
    }
    expect(store.stats().bytes).toBeGreaterThan(80_000)
    expect(store.lookup(keyOf('/e99'), none)?.body.byteLength).toBe(10_000)
    expect(store.lookup(keyOf('/e0'), none)).toBeUndefined()
    expect(store.lookup(keyOf('/e90'), none)).toBeUndefined()
    // The file is its header, fill locks and index beside the ring: it never grows.
    expect(statSync(path).size).toBeLessThanOrEqual(100_000 + 4096 + 524_288 + 32 * 512)
  })

  test('a hit near the end of the ring gives its entry a second chance at the front', () => {
    const store = storeAt(preparedPath(100_000))
    for (let i = 0; i < 16; i++) store.put(entry(`/k${i}`, 5000))
    // /k0 is the oldest, over 3/4 of the ring behind the head: a hit moves it to the front.
    expect(store.lookup(keyOf('/k0'), none)).toBeDefined()
    for (let i = 16; i < 26; i++) store.put(entry(`/k${i}`, 5000))
    expect(store.lookup(keyOf('/k0'), none)?.body.byteLength).toBe(5000)
    // Its neighbour, never asked for, went.
    expect(store.lookup(keyOf('/k1'), none)).toBeUndefined()
  })

  test('a second chance never brings back what was invalidated while it was read, nor takes another key\'s slot', async () => {
    // The ring's index has 512 slots in buckets of 8: Q's variant is made to share P's bucket.
    const path = preparedPath(100_000)
    const [reader, other] = [storeAt(path), storeAt(path)]
    const bucket = (key: string) => Bun.hash.crc32(key) & 511 & ~7
    const P = keyOf('/p')
    const accept = (value: string) => new Headers({ accept: value })
    let q = 0
    while (bucket(variantKey(keyOf(`/q${q}`), ['accept'], fields(accept('q')))) !== bucket(P) || bucket(keyOf(`/q${q}`)) === bucket(P)) q++
    other.put(entry('/p', 10, ['accept'], accept('v'), 1))
    for (let i = 0, n = 0; n < 8; i++) {
      if (bucket(keyOf(`/f${i}`)) === bucket(P)) continue
      other.put(entry(`/f${i}`, 9_800))
      n++
    }
    await turn()
    let once = true
    reader.lookup(P, (name) => {
      if (once) {
        // While the lookup runs, other workers invalidate P, then store Q's variant (in the
        // slot P's had) and a new variant of P.
        once = false
        other.remove(P)
        other.put(entry(`/q${q}`, 10, ['accept'], accept('q'), 3))
        other.put(entry('/p', 10, ['accept'], accept('w'), 2))
      }
      return name === 'accept' ? 'v' : null
    })
    await turn()
    expect(reader.lookup(P, fields(accept('v')))).toBeUndefined()
    expect(reader.lookup(P, fields(accept('w')))?.headers.get('x-fill')).toBe('2')
    expect(reader.lookup(keyOf(`/q${q}`), fields(accept('q')))?.headers.get('x-fill')).toBe('3')
    const keys = reader.keys()
    expect(new Set(keys).size).toBe(keys.length)
  })

  test('a variant given a second chance is still counted once, and its primary key still varies', () => {
    const store = storeAt(preparedPath(100_000))
    const [a, b] = [new Headers({ accept: 'a' }), new Headers({ accept: 'b' })]
    store.put(entry('/k0', 5000, ['accept'], a))
    store.put(entry('/k0', 5000, ['accept'], b))
    for (let i = 2; i < 16; i++) store.put(entry(`/k${i}`, 5000))
    // Over 3/4 of the ring behind the head: moved to the front.
    expect(store.lookup(keyOf('/k0'), fields(a))?.body.byteLength).toBe(5000)
    expect(store.lookup(keyOf('/k0'), fields(b))?.body.byteLength).toBe(5000)
    expect(store.lookup(keyOf('/k0'), none)).toBeUndefined()
    expect(store.namesOf(keyOf('/k0'))).toEqual(['accept'])
    const variants = [a, b].map((sent) => variantKey(keyOf('/k0'), ['accept'], fields(sent)))
    expect(store.keys().filter((key) => key.startsWith(keyOf('/k0'))).sort()).toEqual(variants.sort())
    expect(store.stats().entries).toBe(store.keys().length)
  })

  test('the tier is counted from its index alone (a metrics scrape reads no entry)', async () => {
    const path = preparedPath(1 << 20)
    const store = storeAt(path)
    store.put(entry('/a', 10))
    store.put(entry('/b', 10, ['accept'], new Headers({ accept: 'x' })))
    store.put(entry('/b', 10, ['accept'], new Headers({ accept: 'y' })))
    const counted = store.stats()
    expect(counted.entries).toBe(3)
    // Every entry's bytes gone (the ring is the file's last 1 MiB): counted all the same, and never served.
    const map = Bun.mmap(path, { shared: true })
    map.fill(0, map.byteLength - (1 << 20))
    expect(store.stats()).toEqual(counted)
    expect(store.lookup(keyOf('/a'), none)).toBeUndefined()
  })

  test('a damaged entry is a miss, never served, and reported', async () => {
    const path = preparedPath()
    const errors: string[] = []
    const store = storeAt(path, (kind) => errors.push(kind))
    store.put(entry('/t', 1000))
    await turn()
    const map = Bun.mmap(path, { shared: true })
    const at = map.lastIndexOf(7)
    map[at - 500] = 8
    expect(store.lookup(keyOf('/t'), none)).toBeUndefined()
    expect(errors).toEqual(['damaged'])
    // Stored again, it is whole.
    store.put(entry('/t', 1000))
    expect(store.lookup(keyOf('/t'), none)?.body).toEqual(new Uint8Array(1000).fill(7))
  })

  test('purge and delete remove every variant, and count them', async () => {
    const store = storeAt(preparedPath())
    store.put(entry('/api/1', 10, ['accept'], new Headers({ accept: 'a' })))
    store.put(entry('/api/1', 10, ['accept'], new Headers({ accept: 'b' })))
    store.put(entry('/api/2', 10))
    store.put(entry('/other', 10, ['accept'], new Headers({ accept: 'a' })))
    store.put(entry('/other', 10, ['accept'], new Headers({ accept: 'b' })))
    store.put(entry('/last', 10))
    expect(store.stats().entries).toBe(6)
    expect(await purge(store, { prefix: '/api' })).toBe(3)
    expect(store.delete(keyOf('/other'))).toBe(2)
    expect(store.delete(keyOf('/other'))).toBe(0)
    expect(store.keys()).toEqual([keyOf('/last')])
    expect(store.delete(keyOf('/last'))).toBe(1)
    expect(store.stats()).toEqual({ entries: 0, bytes: 0 })
    expect(store.lookup(keyOf('/api/1'), fields(new Headers({ accept: 'a' })))).toBeUndefined()
  })

  test('a purge by prefix reads the index in slices, the event loop turning between them; closed meanwhile, it stops', async () => {
    // 8 MiB of ring: 32 Ki slots, four slices.
    const path = preparedPath(8 << 20)
    const store = storeAt(path)
    for (let i = 0; i < 200; i++) store.put(entry(`/api/${i}`, 10))
    store.put(entry('/other', 10))
    await turn()
    let turned = false
    const purged = store.purgeWhere((parts) => parts.target.startsWith('/api/'))
    setImmediate(() => (turned = true))
    expect(await purged).toBe(200)
    expect(turned).toBe(true)
    expect(store.keys()).toEqual([keyOf('/other')])
    // A key stored again after the scan passed its slot goes too, with what it was before.
    const bucket = (key: string) => Bun.hash.crc32(key) & 32767 & ~7
    let k = 0
    while (bucket(keyOf(`/api/again${k}`)) >= 8192) k++
    store.put(entry(`/api/again${k}`, 10, ['accept'], new Headers({ accept: 'a' })))
    await turn()
    const again = store.purgeWhere((parts) => parts.target.startsWith('/api/'))
    await turn()
    store.put(entry(`/api/again${k}`, 20, ['accept'], new Headers({ accept: 'b' })))
    await again
    expect(store.lookup(keyOf(`/api/again${k}`), fields(new Headers({ accept: 'a' })))).toBeUndefined()
    expect(store.lookup(keyOf(`/api/again${k}`), fields(new Headers({ accept: 'b' })))).toBeUndefined()
    const closing = storeAt(path)
    const stopped = closing.purgeWhere(() => true)
    closing.close()
    expect(await stopped).toBe(0)
    expect(store.keys()).toEqual([keyOf('/other')])
  })

  test("an invalidation leaves no variant behind: another variant stored after it does not bring them back (RFC 9111 §4.4)", async () => {
    const [a, b] = twoWorkers({ now: 1000 })
    const [x, y] = [new Headers({ accept: 'x' }), new Headers({ accept: 'y' })]
    a.put(entry('/inv', 10, ['accept'], x))
    a.put(entry('/inv', 20, ['accept'], y))
    await turn()
    expect(b.lookup(keyOf('/inv'), fields(x))?.body.byteLength).toBe(10)
    b.remove(keyOf('/inv'))
    expect(a.lookup(keyOf('/inv'), fields(x))).toBeUndefined()
    expect(a.lookup(keyOf('/inv'), fields(y))).toBeUndefined()
    a.put(entry('/inv', 30, ['accept'], y))
    await turn()
    expect(b.lookup(keyOf('/inv'), fields(y))?.body.byteLength).toBe(30)
    expect(b.lookup(keyOf('/inv'), fields(x))).toBeUndefined()
    expect(b.stats().entries).toBe(1)
  })

  test('a changed Vary, either way, leaves the old variants unreachable for every worker (RFC 9111 §4.1)', async () => {
    const [a, b] = twoWorkers({ now: 1000 })
    const primary = keyOf('/v')
    const json = new Headers({ accept: 'application/json' })
    a.put(entry('/v', 10))
    await turn()
    b.put(entry('/v', 20, ['accept'], json))
    await turn()
    expect(a.stats().entries).toBe(1)
    expect(a.namesOf(primary)).toEqual(['accept'])
    expect(a.lookup(primary, fields(json))?.body.byteLength).toBe(20)
    expect(a.lookup(primary, none)).toBeUndefined()
    a.put(entry('/v', 30))
    await turn()
    expect(b.stats().entries).toBe(1)
    expect(b.namesOf(primary)).toEqual([])
    expect(b.lookup(primary, fields(json))?.body.byteLength).toBe(30)
    // Vary on another field: the accept variant stored before is not served under it.
    b.put(entry('/v', 40, ['accept'], json))
    b.put(entry('/v', 50, ['accept-language'], new Headers()))
    await turn()
    expect(a.lookup(primary, fields(json))?.body.byteLength).toBe(50)
    b.put(entry('/v', 60, ['accept'], new Headers()))
    await turn()
    expect(a.lookup(primary, fields(json))).toBeUndefined()
  })

  test('storing a key again replaces it: counted once', () => {
    const store = storeAt(preparedPath())
    store.put(entry('/again', 100))
    store.put(entry('/again', 200))
    expect(store.stats().entries).toBe(1)
    expect(store.lookup(keyOf('/again'), none)?.body.byteLength).toBe(200)
  })

  test('one worker holds the fill lock for a key until it unlocks or the lock expires', () => {
    const clock = { now: 1000 }
    const [a, b] = twoWorkers(clock)
    expect(a.lock('k', 500)).toBe(true)
    expect(b.lock('k', 500)).toBe(false)
    expect(b.locked('k')).toBe(true)
    a.unlock('k')
    expect(b.locked('k')).toBe(false)
    expect(b.lock('k', 500)).toBe(true)
    clock.now += 501
    expect(a.lock('k', 500)).toBe(true)
  })

  test('a lock that expired and was taken by another worker is not released by its first holder', () => {
    const clock = { now: 1000 }
    const [a, b] = twoWorkers(clock)
    expect(a.lock('k', 500)).toBe(true)
    clock.now += 501
    expect(b.lock('k', 500)).toBe(true)
    a.unlock('k')
    expect(a.locked('k')).toBe(true)
    expect(a.lock('k', 500)).toBe(false)
  })

  test("a store that finds the write lock taken is queued: it lands once the lock is free, its fill lock released after it", async () => {
    const path = preparedPath()
    const errors: string[] = []
    const store = storeAt(path, (kind) => errors.push(kind))
    const other = storeAt(path)
    const words = headerWords(path)
    // Another process's write, its holder preempted.
    words[2] = Math.floor(Date.now() / 1000) + 60
    const held = entry('/held', 100)
    expect(store.lock(held.primary, 10_000)).toBe(true)
    expect(store.put(held)).toBe(true)
    store.unlock(held.primary)
    expect(other.lookup(held.primary, none)).toBeUndefined()
    expect(other.locked(held.primary)).toBe(true)
    words[2] = 0
    await waitFor(() => other.lookup(held.primary, none) !== undefined, 5000, 'the queued store')
    expect(other.locked(held.primary)).toBe(false)
    expect(errors).toEqual([])
  })

  test("a store queued past 50 ms is dropped and reported busy; a dead writer's lock is taken over once it expires", async () => {
    const path = preparedPath()
    const errors: string[] = []
    const store = storeAt(path, (kind) => errors.push(kind))
    const words = headerWords(path)
    words[2] = Math.floor(Date.now() / 1000) + 60
    expect(store.put(entry('/dropped', 10))).toBe(true)
    await waitFor(() => errors.length > 0, 5000, 'the store given up')
    expect(errors).toEqual(['busy'])
    words[2] = 0
    expect(store.lookup(keyOf('/dropped'), none)).toBeUndefined()
    words[2] = Math.floor(Date.now() / 1000) - 1
    expect(store.put(entry('/taken', 10))).toBe(true)
    await turn()
    expect(words[2]).toBe(0)
    expect(store.lookup(keyOf('/taken'), none)).toBeDefined()
  })

  test('an invalidation that finds the write lock taken is never dropped: it lands once the lock is free', async () => {
    const path = preparedPath()
    const errors: string[] = []
    const [store, other] = [storeAt(path, (kind) => errors.push(kind)), storeAt(path)]
    store.put(entry('/doc', 100))
    await turn()
    const words = headerWords(path)
    words[2] = Math.floor(Date.now() / 1000) + 60
    store.remove(keyOf('/doc'))
    store.put(entry('/stored', 10))
    // Past the 50 ms a store waits: the store is dropped, the invalidation kept.
    await waitFor(() => errors.length > 0, 5000, 'the store given up')
    expect(errors).toEqual(['busy'])
    expect(other.lookup(keyOf('/doc'), none)).toBeDefined()
    words[2] = 0
    await waitFor(() => other.lookup(keyOf('/doc'), none) === undefined, 5000, 'the invalidation')
    expect(other.lookup(keyOf('/stored'), none)).toBeUndefined()
  })

  test("an admin purge waits out a dead writer's lock, and lands", async () => {
    const path = preparedPath()
    const store = storeAt(path)
    store.put(entry('/a', 10))
    await turn()
    // A writer killed holding the lock: it expires within 2 s.
    headerWords(path)[2] = Math.floor(Date.now() / 1000) + 1
    expect(store.delete(keyOf('/a'))).toBe(1)
    expect(store.lookup(keyOf('/a'), none)).toBeUndefined()
    expect(headerWords(path)[2]).toBe(0)
  })

  test('two processes writing at once lose nothing and damage nothing', async () => {
    const path = preparedPath(32 << 20)
    const script = (name: string, fill: number) => `for (let i = 0; i < 20000; i++) if (!put('/${name}/' + i, 300, ${fill})) process.exit(3); store.close()`
    const writers = [worker(path, script('a', 1)), worker(path, script('b', 2))]
    const codes = await Promise.all(writers.map((proc) => proc.exited))
    expect(codes).toEqual([0, 0])
    const store = storeAt(path)
    for (const [name, fill] of [['a', 1], ['b', 2]] as const) {
      for (let i = 0; i < 20000; i++) expect(store.lookup(keyOf(`/${name}/${i}`), none)?.body).toEqual(new Uint8Array(300).fill(fill))
    }
    expect(store.stats().entries).toBe(40000)
  }, 30_000)

  test('an entry overwritten while another process reads it is a miss, never a mix of two answers', async () => {
    // A ring of ~20 entries that another process laps again and again.
    const path = preparedPath(64 * 1024)
    const errors: string[] = []
    const store = storeAt(path, (kind) => errors.push(kind))
    const writer = worker(path, `for (let i = 0; i < 200000; i++) put('/r' + (i % 40), 3000, i % 251)`)
    let found = 0
    let done = false
    void writer.exited.then(() => (done = true))
    while (!done) {
      for (let k = 0; k < 40; k++) {
        const hit = store.lookup(keyOf(`/r${k}`), none)
        if (hit === undefined) continue
        found++
        const fill = Number(hit.headers.get('x-fill'))
        expect(hit.body.byteLength).toBe(3000)
        expect(hit.body.every((byte) => byte === fill)).toBe(true)
      }
      await Bun.sleep(0)
    }
    expect(await writer.exited).toBe(0)
    expect(found).toBeGreaterThan(100)
    // Seen as overwritten, not as damaged.
    expect(errors).toEqual([])
  }, 60_000)

  test('a write the disk refuses is a skipped store, reported once; the worker goes on', async () => {
    const path = preparedPath()
    // Its index and locks are mapped (written without a write call); every entry is written past the first 4 KiB.
    const script = `
      for (let i = 0; i < 3; i++) put('/full/' + i, 100, 1)
      await new Promise((resolve) => setImmediate(resolve))
      for (let i = 3; i < 6; i++) put('/full/' + i, 100, 1)
      await new Promise((resolve) => setTimeout(resolve, 10))
      console.log('found ' + [0, 3].filter((i) => store.lookup(primaryKey('http', 'a', '/full/' + i, ''), () => null)).length)
      store.close()`
    const proc = worker(path, script, 8)
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
    expect({ code, lines: out.trim().split('\n') }).toEqual({ code: 0, lines: ['error write_failed', 'found 0'] })
    // Nothing of it is reachable from another worker either.
    const other = storeAt(path)
    expect(other.lookup(keyOf('/full/0'), none)).toBeUndefined()
    expect(other.stats().entries).toBe(0)
  })

  test('a second chance the disk refuses leaves the entry where it was, and the hit is served', async () => {
    const path = preparedPath(100_000)
    const store = storeAt(path)
    for (let i = 0; i < 16; i++) store.put(entry(`/k${i}`, 5000))
    await turn()
    // /k0 is over 3/4 of the ring behind the head: the hit copies it to the front, which fails.
    const script = `
      console.log('found ' + store.lookup(primaryKey('http', 'a', '/k0', ''), () => null)?.body.byteLength)
      store.close()`
    const proc = worker(path, script, 8)
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
    expect({ code, lines: out.trim().split('\n') }).toEqual({ code: 0, lines: ['error write_failed', 'found 5000'] })
    expect(store.lookup(keyOf('/k0'), none)?.body.byteLength).toBe(5000)
  })

  test('a missing file is created, a good one kept with its entries, another made anew', async () => {
    const path = freshPath()
    expect(prepareSharedCache(path, 1 << 20)).toEqual({ outcome: 'created' })
    storeAt(path).put(entry('/kept', 10))
    await turn()
    expect(prepareSharedCache(path, 1 << 20)).toEqual({ outcome: 'opened' })
    expect(storeAt(path).lookup(keyOf('/kept'), none)).toBeDefined()
    // Another maxBytes: another geometry.
    expect(prepareSharedCache(path, 2 << 20)).toEqual({ outcome: 'recreated', reason: 'size' })
    expect(storeAt(path).lookup(keyOf('/kept'), none)).toBeUndefined()
    writeFileSync(path, 'this is not a cache '.repeat(500))
    expect(prepareSharedCache(path, 1 << 20)).toEqual({ outcome: 'recreated', reason: 'format' })
    expect(storeAt(path).stats()).toEqual({ entries: 0, bytes: 0 })
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  test('a file whose head is not a position is made anew; one whose index points past its head (an OS crash) starts a lap on', () => {
    const path = preparedPath()
    storeAt(path).put(entry('/x', 10))
    const numbers = new Float64Array(Bun.mmap(path, { shared: true }).buffer, 0, 4)
    numbers[3] = 8
    expect(prepareSharedCache(path, 1 << 20)).toEqual({ outcome: 'opened' })
    // The index points at /x, past the head: none of it is served, and what is stored next is.
    const store = storeAt(path)
    expect(store.lookup(keyOf('/x'), none)).toBeUndefined()
    store.put(entry('/y', 10))
    expect(store.lookup(keyOf('/y'), none)).toBeDefined()
    expect(store.stats().entries).toBe(1)
    numbers[3] = Number.NaN
    expect(prepareSharedCache(path, 1 << 20)).toEqual({ outcome: 'recreated', reason: 'format' })
  })

  test("an older gateway's SQLite database and its companions are replaced", () => {
    const path = freshPath()
    const db = new Database(path)
    db.exec('PRAGMA journal_mode = WAL; CREATE TABLE entries (key TEXT)')
    for (const suffix of ['-fill']) writeFileSync(path + suffix, '')
    expect(existsSync(`${path}-wal`)).toBe(true)
    expect(prepareSharedCache(path, 1 << 20)).toEqual({ outcome: 'recreated', reason: 'format' })
    db.close()
    for (const suffix of ['-wal', '-shm', '-fill']) expect(existsSync(path + suffix)).toBe(false)
    expect(storeAt(path).put(entry('/new', 10))).toBe(true)
  })

  test("the fill locks and write lock a previous run left are freed when the file is prepared again", () => {
    const path = preparedPath()
    const store = storeAt(path)
    expect(store.lock('k', 60_000)).toBe(true)
    headerWords(path)[2] = Math.floor(Date.now() / 1000) + 60
    prepareSharedCache(path, 1 << 20)
    expect(storeAt(path).locked('k')).toBe(false)
    expect(headerWords(path)[2]).toBe(0)
  })
})
