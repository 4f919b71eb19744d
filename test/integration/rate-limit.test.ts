/**
 * Rate limits on a 2-worker gateway: the node as a whole holds the limit (the buckets live
 * in the primary), whichever worker each new connection lands on; a rotating
 * X-Forwarded-For does not give an untrusted client a fresh bucket; consumers are limited
 * independently; a refusal is a 429 with Retry-After and the RateLimit fields.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'

const RATE = 40
const BURST = 20

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway({
    server: { workers: 2 },
    upstreams: { app: { targets: [upstream.origin] } },
    routes: [
      { path: '/ip', upstream: 'app', rateLimit: { requestsPerSecond: RATE, burst: BURST, key: 'ip' } },
      { path: '/keyed', upstream: 'app', auth: { apiKey: {} }, rateLimit: { requestsPerSecond: 1, burst: 5 } },
      { path: '/tenant', upstream: 'app', rateLimit: { requestsPerSecond: 1000, key: 'header:x-tenant' } },
    ],
    consumers: [
      { name: 'a', apiKeys: ['key-of-consumer-a'] },
      { name: 'b', apiKeys: ['key-of-consumer-b'] },
    ],
  })
}, 20_000)

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
  upstream.stop()
})

test('the node admits burst + rate × time, within 10%, over new connections spread on 2 workers', async () => {
  const started = performance.now()
  let ok = 0
  let limited = 0
  let lastSent = started
  // Eight clients, a new connection per request, each claiming a different X-Forwarded-For.
  const client = async (n: number) => {
    for (let i = 0; performance.now() - started < 2000; i++) {
      lastSent = performance.now()
      const res = await fetch(gw.url('/ip/x'), { keepalive: false, headers: { connection: 'close', 'x-forwarded-for': `198.51.100.${(n * 31 + i) % 250}` } })
      await res.arrayBuffer()
      if (res.status === 200) ok++
      else if (res.status === 429) limited++
      else throw new Error(`status ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: 8 }, (_, n) => client(n)))
  // At most what refilled until the last answer; at least what refilled until the last request
  // was sent (a slow machine's tail after it refills tokens nobody asks for).
  const allowed = BURST + (RATE * (performance.now() - started)) / 1000
  const asked = BURST + (RATE * (lastSent - started)) / 1000
  expect(limited).toBeGreaterThan(0)
  expect(ok).toBeLessThanOrEqual(Math.ceil(allowed * 1.1))
  expect(ok).toBeGreaterThanOrEqual(Math.floor(asked * 0.9))
}, 15_000)

test('a 429 carries Retry-After and the RateLimit fields', async () => {
  let refused: Response | undefined
  for (let i = 0; i < BURST * 3 && !refused; i++) {
    const res = await fetch(gw.url('/ip/y'))
    if (res.status === 429) refused = res
    else await res.arrayBuffer()
  }
  expect(refused).toBeDefined()
  expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  expect(refused!.headers.get('ratelimit-policy')).toBe(`"route";q=${BURST};w=1`)
  expect(refused!.headers.get('ratelimit')).toMatch(/^"route";r=0;t=\d+$/)
  expect(((await refused!.json()) as { error: string }).error).toBe('rate_limited')
})

test('consumers have their own buckets', async () => {
  const count = async (key: string) => {
    let ok = 0
    for (let i = 0; i < 8; i++) {
      const res = await fetch(gw.url('/keyed/z'), { headers: { 'x-api-key': key } })
      await res.arrayBuffer()
      if (res.status === 200) ok++
    }
    return ok
  }
  // Burst 5 at 1/s: about 5 of 8 quick requests each, and b is not limited by a's use.
  const a = await count('key-of-consumer-a')
  const b = await count('key-of-consumer-b')
  expect(a).toBeGreaterThanOrEqual(5)
  expect(a).toBeLessThanOrEqual(6)
  expect(b).toBeGreaterThanOrEqual(5)
  expect(b).toBeLessThanOrEqual(6)
})

test('header keys are held as fixed-size digests: 12 KB values cost the primary what short ones do, and /metrics says so', async () => {
  const bytes = async () => sumOf(await scrape(gw.adminPort), 'gateway_rate_limit_bucket_bytes')
  const before = await bytes()
  const keys = async (length: number, tag: string) => {
    for (let i = 0; i < 20; i++) {
      const res = await fetch(gw.url('/tenant/t'), { headers: { 'x-tenant': `${tag}${i}-`.padEnd(length, 'v') } })
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
  }
  await keys(8, 'short')
  const afterShort = await bytes()
  await keys(12_000, 'long')
  const afterLong = await bytes()
  expect(afterShort).toBeGreaterThan(before)
  // Raw values would add 20 × 24 KB here; digests add what 20 short keys did.
  expect(afterLong - afterShort).toBe(afterShort - before)
  const text = await scrape(gw.adminPort)
  expect(sumOf(text, 'gateway_rate_limit_bucket_bytes_max')).toBe(64 * 1024 * 1024)
  expect(sumOf(text, 'gateway_rate_limit_buckets')).toBeGreaterThanOrEqual(40)
})
