/**
 * Invalidation and purge with two workers: each keeps its own cache, so both must hear
 * about an unsafe method and a purge. Fresh connections spread requests over workers.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'

let origin: CacheOrigin
let gw: GatewayProcess

beforeAll(async () => {
  origin = startCacheOrigin()
  gw = await startGateway({
    server: { workers: 2 },
    // The fan-out between workers' local stores; the shared tier has its own tests (cache-shared).
    cache: { shared: { enabled: false } },
    upstreams: { origin: { targets: [origin.origin] } },
    routes: [{ path: '/c', upstream: 'origin', cache: { enabled: true } }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  origin.stop()
  expectCleanOutput(gw.output())
})

/** A GET on a new connection, so the kernel may pick either worker. */
async function get(path: string) {
  const res = await fetch(gw.url(path), { keepalive: false })
  await res.text()
  return res.headers.get('x-cache-status')
}

/** Requests on fresh connections until both workers have stored `path` (two misses seen). */
async function fillBothWorkers(path: string) {
  const base = path.split('?')[0]!
  for (let i = 0; i < 200 && origin.count(base) < 2; i++) await get(path)
  expect(origin.count(base)).toBe(2)
}

/** Responses held by both workers' local stores together (gateway_cache_entries sums them). */
const cacheEntries = async () => sumOf(await scrape(gw.adminPort), 'gateway_cache_entries')

/**
 * Waits until both workers have dropped `dropped` entries: the sender at once, the other when
 * the primary's message reaches it. Without the fan-out the other worker's copy stays.
 */
async function waitForBothWorkersToDrop(entriesBefore: number, dropped: number) {
  await waitFor(async () => (await cacheEntries()) === entriesBefore - dropped, 5000, `both workers to drop ${dropped} entries`)
}

/**
 * After an invalidation, GETs on fresh connections until the origin was asked again twice
 * (once per worker). Without invalidation every one of them is a HIT and the count never
 * moves; purging instead would make the test pass on its own, so it only reads.
 */
async function expectRefetchedByBothWorkers(path: string, countBefore: number) {
  const base = path.split('?')[0]!
  const statuses: (string | null)[] = []
  await waitFor(
    async () => {
      statuses.push(await get(path))
      return origin.count(base) >= countBefore + 2
    },
    5000,
    `both workers to refetch ${base}`
  )
  expect(origin.count(base)).toBe(countBefore + 2)
  // Both had dropped it before the first GET: one MISS each, then HITs of the new copy.
  expect(statuses.filter((s) => s === 'MISS').length).toBe(2)
}

const purge = async (query: string) => {
  const res = await fetch(`http://127.0.0.1:${gw.adminPort}/cache/purge?${query}`, { method: 'POST' })
  return { status: res.status, body: (await res.json()) as { purged: number; workers: number } }
}

test('a purge by URL reaches every worker', async () => {
  const path = '/c/purge-me?cc=max-age%3D600'
  await fillBothWorkers(path)
  const { body } = await purge(`url=${encodeURIComponent(gw.url(path))}`)
  expect(body).toEqual({ purged: 2, workers: 2 })
  expect(await get(path)).toBe('MISS')
})

test('a purge by prefix reaches every worker', async () => {
  await fillBothWorkers('/c/tree/a?cc=max-age%3D600')
  const { body } = await purge('prefix=/c/tree')
  expect(body).toEqual({ purged: 2, workers: 2 })
})

test('a bad purge request is a 400, and purge is POST only', async () => {
  expect((await purge('nothing=1')).status).toBe(400)
  expect((await fetch(`http://127.0.0.1:${gw.adminPort}/cache/purge?prefix=/c`)).status).toBe(405)
})

test('a 2xx to POST invalidates the URL in every worker; a 4xx does not', async () => {
  const path = '/c/doc?cc=max-age%3D600'
  await fillBothWorkers(path)
  const failed = await fetch(gw.url('/c/doc?cc=max-age%3D600&status=409'), { method: 'POST', keepalive: false })
  await failed.text()
  expect(failed.status).toBe(409)
  expect((await purge('prefix=/c/doc')).body.purged).toBe(2)

  await fillBothWorkers('/c/doc2?cc=max-age%3D600')
  const entries = await cacheEntries()
  const ok = await fetch(gw.url('/c/doc2?cc=max-age%3D600'), { method: 'POST', keepalive: false })
  await ok.text()
  expect(ok.status).toBe(200)
  // Invalidation travels through the primary to the other worker: both must refetch.
  await waitForBothWorkersToDrop(entries, 2)
  await expectRefetchedByBothWorkers('/c/doc2?cc=max-age%3D600', origin.count('/c/doc2'))
}, 15_000)

test('Location and Content-Location on the same host are invalidated too', async () => {
  await fillBothWorkers('/c/item?cc=max-age%3D600')
  const entries = await cacheEntries()
  // The origin answers this DELETE with a Location pointing at /c/item (set below).
  origin.set('/c/collection', {})
  const res = await fetch(gw.url('/c/collection'), { method: 'DELETE', keepalive: false, headers: { 'x-location': '/c/item' } })
  await res.text()
  expect(res.status).toBe(200)
  expect(res.headers.get('content-location')).toBe('/c/item?cc=max-age%3D600')
  await waitForBothWorkersToDrop(entries, 2)
  await expectRefetchedByBothWorkers('/c/item?cc=max-age%3D600', origin.count('/c/item'))
}, 15_000)
