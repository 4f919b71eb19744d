import { describe, expect, test } from 'bun:test'
import { createApp } from './app.ts'
import { validateConfig } from './config/load.ts'
import { silentLogger } from './log.ts'
import { createWorkerMetrics } from './metrics/registry.ts'
import { sumOf } from '../test/fixtures/metrics.ts'
import { createUpstreamRegistry } from './upstream/registry.ts'

/** An app with no sockets: the upstream is never reached by these requests. */
function app(extra: Record<string, unknown> = {}, deps: Partial<Parameters<typeof createApp>[0]> = {}) {
  const result = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    routes: [{ path: '/api', upstream: 'u', methods: ['GET'] }],
    ...extra,
  })
  if (!result.ok) throw new Error(result.errors.join('\n'))
  const gateway = createApp({ config: result.config, upstreams: createUpstreamRegistry(result.config.upstreams), log: silentLogger, ...deps })
  return { fetch: gateway.fetch, request: async (url: string, init?: RequestInit) => gateway.fetch(new Request(url, init)) }
}

const ERROR_BODY = /^\{"error":"[a-z_]+","status":\d{3},"requestId":"[0-9a-f-]{36}"\}$/

describe('gateway-made responses', () => {
  test('unknown route → 404 JSON with a request id', async () => {
    const res = await app().request('http://gw.example/nowhere')
    expect(res.status).toBe(404)
    const text = await res.text()
    expect(text).toMatch(ERROR_BODY)
    expect(JSON.parse(text).requestId).toBe(res.headers.get('x-request-id')!)
  })

  test('unlisted method → 405 with Allow', async () => {
    const res = await app().request('http://gw.example/api/x', { method: 'POST' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
  })

  test('health answers on the configured path, GET and HEAD only', async () => {
    const gw = app({ server: { healthPath: '/healthz' } })
    expect((await gw.request('http://gw.example/healthz')).status).toBe(200)
    expect((await gw.request('http://gw.example/healthz', { method: 'HEAD' })).status).toBe(200)
    expect((await gw.request('http://gw.example/healthz', { method: 'POST' })).status).toBe(405)
    expect((await gw.request('http://gw.example/health')).status).toBe(404)
  })

  // The probe (pipeline/health.ts) answers before the route table: the same answer as the health route's chain.
  test('a probe gets no-store JSON and its own request id; 503 "draining" while the worker drains; counted as the health route', async () => {
    let healthy = true
    const metrics = createWorkerMetrics({ version: 'test', bun: Bun.version })
    const gw = app({}, { isHealthy: () => healthy, metrics })
    const ok = await gw.request('http://gw.example/health')
    expect(ok.status).toBe(200)
    expect(ok.headers.get('cache-control')).toBe('no-store')
    expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(await ok.text()).toBe('{"status":"ok"}')
    const head = await gw.request('http://gw.example/health', { method: 'HEAD' })
    expect(head.headers.get('x-request-id')).not.toBe(ok.headers.get('x-request-id'))
    healthy = false
    const draining = await gw.request('http://gw.example/health')
    expect(draining.status).toBe(503)
    expect(await draining.text()).toBe('{"status":"draining"}')
    const text = await metrics.registry.metrics()
    expect(sumOf(text, 'gateway_http_requests_total', { route: 'health', status: '200' })).toBe(2)
    expect(sumOf(text, 'gateway_http_requests_total', { route: 'health', status: '503' })).toBe(1)
    expect(sumOf(text, 'gateway_http_response_bytes_total', { route: 'health' })).toBe(15 + 21)
  })

  test('a probe the limits refuse is refused as on any route: a GET with a body length, a bad Host', async () => {
    const gw = app()
    const withBody = await gw.request('http://gw.example/health', { headers: { 'content-length': '5' } })
    expect(withBody.status).toBe(400)
    expect(await withBody.text()).toMatch(ERROR_BODY)
    expect((await gw.request('http://gw.example/health', { headers: { host: 'a b' } })).status).toBe(400)
  })

  test('without a trusted peer, a client-sent request id is replaced', async () => {
    const res = await app().request('http://gw.example/nowhere', { headers: { 'x-request-id': 'mine' } })
    expect(res.headers.get('x-request-id')).not.toBe('mine')
  })

  test('a bug outside the pipelines gets the one 500: JSON with a request id, logged by the error class only', async () => {
    const logged: [string, Record<string, unknown> | undefined][] = []
    const log = { ...silentLogger, error: (event: string, fields?: Record<string, unknown>) => void logged.push([event, fields]) }
    const gateway = app({}, { log })
    // A request whose URL cannot be read: nothing in the gateway renders that but the dispatch's own catch.
    const broken = { get url(): string { throw new RangeError('/secret/path at 10.0.0.1') }, headers: new Headers() } as unknown as Request
    const res = await gateway.fetch(broken)
    expect(res.status).toBe(500)
    const body = await res.text()
    expect(body).toMatch(ERROR_BODY)
    expect(body).not.toContain('secret')
    expect(logged).toEqual([['internal_error', { requestId: JSON.parse(body).requestId, error: 'RangeError' }]])
  })

  test('guard rejections are JSON and close the connection', async () => {
    const res = await app().request('http://gw.example/a%zz')
    expect(res.status).toBe(400)
    expect(res.headers.get('connection')).toBe('close')
    expect(await res.text()).toMatch(ERROR_BODY)
  })
})

describe('one router: the route table matches the normalised path, most specific route first', () => {
  // Each route allows one distinct method, so the Allow of a 405 names the route that matched.
  const gw = app({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    routes: [
      { path: '/', upstream: 'u', methods: ['GET'] },
      { path: '/api', upstream: 'u', methods: ['POST'] },
      { path: '/api/v2/', upstream: 'u', methods: ['PUT'] },
      { name: 'admin-api', path: '/api', upstream: 'u', methods: ['DELETE'], host: 'Admin.Example.com' },
    ],
  })
  const allowFor = async (path: string, host = 'gw.example') => {
    const res = await gw.request(`http://${host}${path}`, { method: 'PATCH', headers: { host } })
    expect(res.status).toBe(405)
    return res.headers.get('allow')
  }

  test.each([
    ['/api/v2/x', 'PUT'],
    ['/api/v2', 'PUT'],
    ['/api/v3', 'POST'],
    ['/api', 'POST'],
    ['/apix', 'GET, HEAD'],
    ['/other', 'GET, HEAD'],
    ['/', 'GET, HEAD'],
  ])('%s → the route allowing %s', async (path, allow) => {
    expect(await allowFor(path)).toBe(allow)
  })

  // Whole segments, case-sensitive (the table prefixMatches() had before Hono matched).
  test.each([
    ['/users', 'POST'],
    ['/users/', 'POST'],
    ['/users/42', 'POST'],
    ['/users2', 'GET, HEAD'],
    ['/user', 'GET, HEAD'],
    ['/Users', 'GET, HEAD'],
    ['/a/b/c', 'PUT'],
    ['/a/bc', 'GET, HEAD'],
  ])('prefix on whole segments: %s → the route allowing %s', async (path, allow) => {
    const segments = app({
      upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
      routes: [
        { path: '/', upstream: 'u', methods: ['GET'] },
        { path: '/users', upstream: 'u', methods: ['POST'] },
        { path: '/a/b', upstream: 'u', methods: ['PUT'] },
      ],
    })
    const res = await segments.request(`http://gw.example${path}`, { method: 'PATCH' })
    expect(res.headers.get('allow')).toBe(allow)
  })

  test('a host route beats a host-less one of the same prefix, only for its host', async () => {
    expect(await allowFor('/api/x', 'admin.example.com:8080')).toBe('DELETE')
    expect(await allowFor('/api/x', 'other.example.com')).toBe('POST')
  })

  test('every spelling of a path reaches the route its normalised form names', async () => {
    expect(await allowFor('/api//v2/x')).toBe('PUT')
    expect(await allowFor('/%61pi/v2/x')).toBe('PUT')
    expect(await allowFor('/api/x/../v2/y')).toBe('PUT')
  })

  test('an encoded slash is a 400 before any route is chosen', async () => {
    const res = await gw.request('http://gw.example/api%2Fv2/x', { method: 'PATCH' })
    expect(res.status).toBe(400)
  })
})

