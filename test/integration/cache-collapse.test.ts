import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'

let origin: CacheOrigin
let gw: GatewayProcess

beforeAll(async () => {
  origin = startCacheOrigin()
  gw = await startGateway({
    upstreams: { origin: { targets: [origin.origin] } },
    routes: [
      { path: '/c', upstream: 'origin', cache: { enabled: true } },
      { path: '/short-lock', upstream: 'origin', cache: { enabled: true, lockTimeoutMs: 200 } },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  origin.stop()
  expectCleanOutput(gw.output())
})

async function many(path: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(gw.url(path))
      return { status: res.status, cache: res.headers.get('x-cache-status'), body: await res.text() }
    })
  )
}

test('40 concurrent misses for one URL make one upstream request', async () => {
  const results = await many('/c/collapse?cc=max-age%3D60&delay=300', 40)
  expect(origin.count('/c/collapse')).toBe(1)
  expect(results.every((r) => r.status === 200)).toBe(true)
  expect(new Set(results.map((r) => r.body)).size).toBe(1)
  expect(results.filter((r) => r.cache === 'MISS')).toHaveLength(1)
  expect(results.filter((r) => r.cache === 'HIT')).toHaveLength(39)
})

test('concurrent stale requests make one revalidation', async () => {
  const path = '/c/collapse-stale?cc=max-age%3D5&age=5&etag=%22x%22&delay=200'
  await many(path, 1)
  const results = await many(path, 20)
  expect(origin.count('/c/collapse-stale')).toBe(2)
  expect(results.every((r) => r.status === 200)).toBe(true)
})

test('a hung upstream does not hang everyone: followers stop waiting after lockTimeoutMs', async () => {
  const results = await many('/short-lock/hung?cc=max-age%3D60&delay=1500', 5)
  // The followers gave up waiting after 200 ms and asked the origin themselves (followers that
  // waited would have been answered from the leader's entry: a count of 1).
  expect(origin.count('/short-lock/hung')).toBe(5)
  expect(results.every((r) => r.status === 200)).toBe(true)
})

test('followers of an unstorable answer go upstream themselves and get their own answers', async () => {
  const results = await many('/c/uncacheable?cc=no-store&delay=200', 5)
  expect(origin.count('/c/uncacheable')).toBe(5)
  expect(new Set(results.map((r) => r.body)).size).toBe(5)
  expect(results.every((r) => r.cache === 'MISS')).toBe(true)
})
