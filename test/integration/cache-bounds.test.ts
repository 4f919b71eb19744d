/**
 * The store's byte bound under a fill of ten times its size, sampled after every request.
 * Runs the worker in this process (real Bun.serve and a real origin on loopback) so the
 * store's own byte count can be read between requests.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { validateConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/log.ts'
import { startWorker, type RunningWorker } from '../../src/worker/server.ts'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'

const MAX_BYTES = 256 * 1024
const MAX_OBJECT = 32 * 1024

let origin: CacheOrigin
let worker: RunningWorker

beforeAll(() => {
  origin = startCacheOrigin()
  const result = validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    cache: { maxBytes: MAX_BYTES, maxObjectBytes: MAX_OBJECT, maxEntries: 10_000 },
    upstreams: { origin: { targets: [origin.origin] } },
    routes: [{ path: '/', upstream: 'origin', cache: { enabled: true } }],
  })
  if (!result.ok) throw new Error(result.errors.join('\n'))
  worker = startWorker(result.config, silentLogger)
})

afterAll(async () => {
  await worker.stop(true)
  origin.stop()
})

test('a fill of 10× maxBytes never takes the cache over maxBytes; big bodies stream through unstored', async () => {
  let requested = 0
  let peak = 0
  let i = 0
  const sizes: number[] = []
  while (requested < 10 * MAX_BYTES) {
    // Mixed sizes: mostly under maxObjectBytes, every fifth up to twice it; every third chunked.
    const size = i % 5 === 4 ? MAX_OBJECT + 1 + ((i * 7919) % MAX_OBJECT) : 512 + ((i * 7919) % (MAX_OBJECT - 512))
    sizes.push(size)
    requested += size
    i++
  }
  let next = 0
  const lane = async () => {
    while (next < sizes.length) {
      const n = next++
      const size = sizes[n]!
      const chunked = n % 3 === 0 ? '&chunked=1' : ''
      const res = await fetch(`http://127.0.0.1:${worker.port}/fill/${n}?cc=max-age%3D600&bytes=${size}${chunked}`)
      const body = await res.arrayBuffer()
      expect(body.byteLength).toBe(size)
      peak = Math.max(peak, worker.cacheStats().bytes)
      expect(worker.cacheStats().bytes).toBeLessThanOrEqual(MAX_BYTES)
    }
  }
  await Promise.all(Array.from({ length: 50 }, lane))
  expect(peak).toBeGreaterThan(MAX_BYTES / 2)
  expect(worker.cacheStats().evictions).toBeGreaterThan(0)

  // An object over maxObjectBytes (known length, and chunked) is not stored.
  for (const chunked of ['', '&chunked=1']) {
    const path = `/big${chunked}?cc=max-age%3D600&bytes=${MAX_OBJECT * 3}${chunked}`
    for (let round = 0; round < 2; round++) {
      const res = await fetch(`http://127.0.0.1:${worker.port}${path}`)
      expect((await res.arrayBuffer()).byteLength).toBe(MAX_OBJECT * 3)
      expect(res.headers.get('x-cache-status')).toBe('MISS')
    }
  }
}, 30_000)
