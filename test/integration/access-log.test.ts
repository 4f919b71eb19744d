import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { rawRequest, statusOf } from '../fixtures/raw.ts'
import { scrape } from '../fixtures/metrics.ts'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'

const QUERY_KEY = 'CANARY-QUERY-KEY-0123456789'
let origin: CacheOrigin
let gw: GatewayProcess

beforeAll(async () => {
  origin = startCacheOrigin()
  gw = await startGateway({
    log: { access: true },
    upstreams: { origin: { targets: [origin.origin] } },
    routes: [
      { name: 'cached', path: '/c', upstream: 'origin', cache: { enabled: true } },
      { name: 'api', path: '/api', upstream: 'origin' },
      // A key parameter whose name matches no built-in secret pattern.
      { name: 'keyed', path: '/keyed', upstream: 'origin', methods: ['GET', 'POST'], maxBodyBytes: 16, auth: { apiKey: { query: 'k' } } },
    ],
    consumers: [{ name: 'partner', apiKeys: [QUERY_KEY] }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  origin.stop()
  expectCleanOutput(gw.output())
})

/** Access-log lines: `"event":"access"`. */
const accessLines = (): Record<string, any>[] =>
  gw
    .output()
    .split('\n')
    .filter((l) => l.includes('"event":"access"'))
    .map((l) => JSON.parse(l))

test('one JSON line per request, with route, upstream, timings, cache result and client', async () => {
  const res = await fetch(gw.url('/c/logged?cc=max-age%3D60'))
  await res.text()
  await waitFor(() => accessLines().some((l) => l.requestId === res.headers.get('x-request-id')), 3000, 'the line')
  const line = accessLines().find((l) => l.requestId === res.headers.get('x-request-id'))!
  expect(line).toMatchObject({
    method: 'GET',
    route: 'cached',
    path: '/c/logged?cc=max-age%3D60',
    status: 200,
    upstream: 'origin',
    cache: 'MISS',
    client: '127.0.0.1',
  })
  expect(line.durationMs).toBeGreaterThan(0)
  expect(line.upstreamMs).toBeGreaterThan(0)
  expect(line.bytes).toBeGreaterThan(0)
  expect(typeof line.time).toBe('string')
})

test('canary secrets appear in neither the log nor /metrics', async () => {
  const canaries = ['CANARY-AUTH', 'CANARY-COOKIE', 'CANARY-APIKEY', 'CANARY-TOKEN', 'CANARY-SIG', 'CANARY-PROXYAUTH']
  const res = await fetch(gw.url(`/api/secret?token=CANARY-TOKEN&X-Amz-Signature=CANARY-SIG&setcookie=1`), {
    headers: {
      authorization: 'Bearer CANARY-AUTH',
      cookie: 'session=CANARY-COOKIE',
      'x-api-key': 'CANARY-APIKEY',
      'proxy-authorization': 'Basic CANARY-PROXYAUTH',
    },
  })
  // The upstream's Set-Cookie (a random session) must not be logged either.
  const setCookie = res.headers.get('set-cookie')!.split(';')[0]!.split('=')[1]!
  await res.text()
  await waitFor(() => accessLines().some((l) => l.path?.startsWith('/api/secret')), 3000, 'the line')
  const text = gw.output() + (await scrape(gw.adminPort))
  for (const canary of [...canaries, setCookie]) expect(text).not.toContain(canary)
  expect(accessLines().find((l) => l.path?.startsWith('/api/secret'))!.path).toBe(
    '/api/secret?token=REDACTED&X-Amz-Signature=REDACTED&setcookie=1'
  )
})

test('rejected requests are logged too, and control characters cannot split a line', async () => {
  const before = accessLines().length
  const reply = await rawRequest(gw.port, 'GET /api/x%0D%0Ainjected HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  expect(statusOf(reply)).toBe(200)
  const bad = await rawRequest(gw.port, 'GET /%zz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  expect(statusOf(bad)).toBe(400)
  await waitFor(() => accessLines().length >= before + 2, 3000, 'two lines')
  const lines = accessLines().slice(before)
  expect(lines.map((l) => l.status).sort()).toEqual([200, 400])
  for (const line of gw.output().split('\n')) expect(line.startsWith('injected')).toBe(false)
})

test("a route's own key parameter is redacted on every status, also when refused before auth (405, 413)", async () => {
  const url = gw.url(`/keyed/x?k=${QUERY_KEY}&page=2`)
  const answers = [
    await fetch(url, { method: 'DELETE' }),
    await fetch(url, { method: 'POST', body: 'x'.repeat(100) }),
    await fetch(url),
  ]
  expect(answers.map((r) => r.status)).toEqual([405, 413, 200])
  const ids = answers.map((r) => r.headers.get('x-request-id'))
  await Promise.all(answers.map((r) => r.text()))
  await waitFor(() => ids.every((id) => accessLines().some((l) => l.requestId === id)), 3000, 'three lines')
  expect(gw.output()).not.toContain(QUERY_KEY)
  const paths = ids.map((id) => accessLines().find((l) => l.requestId === id)!.path)
  // Refused before auth, the key is still in the query: redacted. Accepted, it was taken out.
  expect(paths).toEqual(['/keyed/x?k=REDACTED&page=2', '/keyed/x?k=REDACTED&page=2', '/keyed/x?page=2'])
})
