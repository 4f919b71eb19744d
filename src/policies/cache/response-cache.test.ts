import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { testExchange } from '../../../test/fixtures/exchange.ts'
import { createExclusive } from '../../files/private.ts'
import type { Handler } from '../../kernel/stage.ts'
import { primaryKey } from './key.ts'
import { createResponseCache, type CachedRequest } from './response-cache.ts'
import { routeCacheSchema } from './schema.ts'
import { openSharedStore, prepareSharedCache, type SharedStore } from './shared-store.ts'
import { createCacheStore } from './store.ts'

const LIMITS = { maxEntries: 10, maxBytes: 1 << 20, maxObjectBytes: 1 << 16 }

const open: SharedStore[] = []
const dirs: string[] = []
afterEach(() => {
  for (const store of open.splice(0)) store.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** Two workers' shared stores on one file prepared as the primary prepares it. */
function twoWorkers(): [SharedStore, SharedStore] {
  const path = join(mkdtempSync(join(tmpdir(), 'gw-collapse-')), 'cache.ring')
  dirs.push(dirname(path))
  createExclusive(path)
  prepareSharedCache(path, LIMITS.maxBytes)
  const stores = [0, 1].map(() => openSharedStore({ path, maxObjectBytes: LIMITS.maxObjectBytes }))
  open.push(...stores)
  return stores as [SharedStore, SharedStore]
}

function cachedRequest(next: Handler): CachedRequest {
  const exchange = testExchange('/x', { headers: { host: 'gw.example' } })
  const options = routeCacheSchema.parse({ enabled: true })
  return { exchange, next, options, scheme: 'http', sent: (name) => exchange.requestFields.get(name), host: 'gw.example' }
}

describe('collapsing across workers', () => {
  test('a waiting worker that finds the lock released just after a miss looks once more instead of going upstream', async () => {
    const [tierA, tierB] = twoWorkers()
    const primary = primaryKey('http', 'gw.example', '/x', '')
    // Worker B's stores and lock release are held back until worker A checks the lock after a
    // miss; then B commits its entry and releases the lock right there, between A's lookup and
    // A's check: the interleaving two processes hit only sometimes, here every time.
    const held: (() => void)[] = []
    let filled = false
    const sharedB: SharedStore = {
      ...tierB,
      put: (entry) => (held.push(() => tierB.put(entry)), true),
      unlock: (key) => {
        held.push(() => tierB.unlock(key))
        filled = true
      },
    }
    let lockChecks = 0
    const sharedA: SharedStore = {
      ...tierA,
      locked: (key) => {
        lockChecks++
        if (filled) {
          for (const run of held.splice(0)) run()
          tierB.stats() // commits what is queued, then releases the lock
        }
        return tierA.locked(key)
      },
    }

    const filledResponse = () => new Response('filled', { headers: { 'cache-control': 'max-age=60', 'content-length': '6' } })
    let upstream = 0
    let answer!: (response: Response) => void
    // The first request (B's fill) is answered when the test says; any other at once.
    const origin: Handler = () => (++upstream === 1 ? new Promise<Response>((resolve) => (answer = resolve)) : filledResponse())
    const workerA = createResponseCache({ store: createCacheStore(LIMITS), shared: sharedA, maxObjectBytes: LIMITS.maxObjectBytes })
    const workerB = createResponseCache({ store: createCacheStore(LIMITS), shared: sharedB, maxObjectBytes: LIMITS.maxObjectBytes })

    // B misses first and takes the node's fill lock; A misses, fails to take it, and waits.
    const fromB = workerB.handle(cachedRequest(origin))
    expect(upstream).toBe(1)
    const fromA = workerA.handle(cachedRequest(origin))
    answer(filledResponse())

    const [b, a] = await Promise.all([fromB, fromA])
    expect(b.headers.get('x-cache-status')).toBe('MISS')
    expect(lockChecks).toBeGreaterThan(0)
    expect(tierA.locked(primary)).toBe(false)
    expect(upstream).toBe(1)
    expect(a.headers.get('x-cache-status')).toBe('HIT')
    expect(await a.text()).toBe('filled')
  })
})
