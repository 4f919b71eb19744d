/**
 * A stale entry stands in while the origin cannot be reached (RFC 9111 §4.2.4,
 * staleIfUnreachableSeconds), unless a directive forbids serving stale or the route turned it
 * off: then the client gets the gateway's error, as without a cache.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'

let origin: CacheOrigin
let gw: GatewayProcess

beforeAll(async () => {
  origin = startCacheOrigin()
  gw = await startGateway({
    upstreams: { origin: { targets: [origin.origin], timeoutMs: 2000 } },
    routes: [
      { path: '/c', upstream: 'origin', cache: { enabled: true } },
      { path: '/off', upstream: 'origin', cache: { enabled: true, staleIfUnreachableSeconds: 0 } },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
})

test('origin gone: a stale entry is served (STALE) unless must-revalidate, no-cache or the route forbid it', async () => {
  const paths = {
    plain: '/c/plain?cc=max-age%3D1',
    mustRevalidate: '/c/mr?cc=max-age%3D1%2C%20must-revalidate',
    noCache: '/c/nc?cc=no-cache&etag=%22v1%22',
    off: '/off/plain?cc=max-age%3D1',
  }
  const bodies: Record<string, string> = {}
  for (const [name, path] of Object.entries(paths)) {
    const res = await fetch(gw.url(path))
    bodies[name] = await res.text()
    expect(res.headers.get('x-cache-status')).toBe('MISS')
  }
  await Bun.sleep(1100)
  origin.stop()
  const plain = await fetch(gw.url(paths.plain))
  expect(plain.status).toBe(200)
  expect(plain.headers.get('x-cache-status')).toBe('STALE')
  expect(await plain.text()).toBe(bodies.plain!)
  for (const name of ['mustRevalidate', 'noCache', 'off'] as const) {
    const res = await fetch(gw.url(paths[name]))
    expect(res.status).toBe(502)
    expect(((await res.json()) as { error: string }).error).toBe('bad_gateway')
  }
})
