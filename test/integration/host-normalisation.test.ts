/**
 * One Host for routing, cache keys and forwarding (lower case, no trailing dot, no default
 * port): `Host: api.example.` or `api.example.:80` must not skip a `host: api.example` route
 * and its auth by falling through to a catch-all route, as nginx strips the dot too.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { bodyOf, rawRequest, statusOf } from '../fixtures/raw.ts'

let origin: CacheOrigin
let gw: GatewayProcess

beforeAll(async () => {
  origin = startCacheOrigin()
  gw = await startGateway({
    upstreams: { origin: { targets: [origin.origin] } },
    routes: [
      { name: 'api', path: '/', host: 'api.example', upstream: 'origin', auth: { apiKey: {} }, cache: { enabled: true } },
      { path: '/', upstream: 'origin', cache: { enabled: true } },
    ],
    consumers: [{ name: 'tenant', apiKeys: ['a-key-of-sixteen-bytes-or-more'] }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
  origin.stop()
})

const get = (host: string, target = '/p', extra = '') => rawRequest(gw.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`)

describe('Host normalisation', () => {
  test.each(['api.example', 'api.example.', 'API.Example.', 'api.example:80', 'api.example.:80'])('%p reaches the api.example route and its auth (401)', async (host) => {
    const reply = await get(host)
    expect(statusOf(reply)).toBe(401)
    expect(JSON.parse(bodyOf(reply))).toMatchObject({ error: 'unauthorized' })
  })

  test('the upstream is sent the normalised host in X-Forwarded-Host', async () => {
    const before = origin.requests.length
    expect(statusOf(await get('API.example.:80', '/fwd', 'X-Api-Key: a-key-of-sixteen-bytes-or-more\r\n'))).toBe(200)
    expect(origin.requests.slice(before).map((r) => r.headers['x-forwarded-host'])).toEqual(['api.example'])
  })

  test('spellings of one host share a cache entry', async () => {
    expect(statusOf(await get('Other.example.', '/c?cc=max-age%3D600'))).toBe(200)
    const reply = await get('other.example:80', '/c?cc=max-age%3D600')
    expect(reply.toLowerCase()).toContain('x-cache-status: hit')
    expect(origin.count('/c')).toBe(1)
  })

  test('an empty label (a..b) is a 400, as nginx answers', async () => {
    expect(statusOf(await get('api..example'))).toBe(400)
    expect(statusOf(await get('api.example..'))).toBe(400)
  })
})
