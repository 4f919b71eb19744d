import { describe, expect, test } from 'bun:test'
import { refusalOf } from '../../kernel/errors.ts'
import { testExchange } from '../../../test/fixtures/exchange.ts'
import type { Grant, RateLimitStore } from './buckets.ts'
import { rateLimit } from './index.ts'

/** A store whose takes resolve when the test says, granting what is asked. */
function deferredStore() {
  const takes: { want: number; global?: string; resolve: (grant: Grant) => void }[] = []
  const store: RateLimitStore = {
    take: (_key, want, _rate, _burst, global) => new Promise((resolve) => takes.push({ want, global, resolve })),
  }
  return { store, takes }
}

const exchange = testExchange('/', { peer: '192.0.2.1' })
const ok = () => new Response('ok')

describe('rateLimit leases', () => {
  test('concurrent requests on an empty lease wait for one take instead of taking a lease each', async () => {
    const { store, takes } = deferredStore()
    // 5000/s: leases of 100 tokens.
    const limit = rateLimit('r', { requestsPerSecond: 5000, key: 'ip', scope: 'node', onStoreFailure: 'allow' }, store)
    const answers = Array.from({ length: 50 }, () => limit(exchange, ok))
    expect(takes).toHaveLength(1)
    expect(takes[0]!.want).toBe(100)
    takes[0]!.resolve({ granted: 100, retryAfterMs: 0 })
    expect((await Promise.all(answers)).map((r) => r.status)).toEqual(Array(50).fill(200))
    // Node scope: no background top-up, the other 50 tokens are spent first.
    expect(takes).toHaveLength(1)
  })

  test('global: half a lease spent starts one background top-up, and requests never wait for it', async () => {
    const { store, takes } = deferredStore()
    const limit = rateLimit('r', { requestsPerSecond: 5000, key: 'ip', scope: 'global', onStoreFailure: 'deny' }, store)
    const first = limit(exchange, ok)
    takes[0]!.resolve({ granted: 100, retryAfterMs: 0 })
    await first
    expect(takes[0]!.global).toBe('deny')
    for (let i = 0; i < 60; i++) expect(limit(exchange, ok)).toBeInstanceOf(Response)
    expect(takes).toHaveLength(2)
  })

  test('an empty bucket refuses every waiter with 429; an unreachable store with deny, 503', async () => {
    const { store, takes } = deferredStore()
    const limit = rateLimit('r', { requestsPerSecond: 5000, key: 'ip', scope: 'global', onStoreFailure: 'deny' }, store)
    const refused = Array.from({ length: 3 }, () => Promise.resolve(limit(exchange, ok)).then((res) => refusalOf(res)?.code))
    takes[0]!.resolve({ granted: 0, retryAfterMs: 200 })
    expect(await Promise.all(refused)).toEqual(['rate_limited', 'rate_limited', 'rate_limited'])
    const down = Promise.resolve(limit(exchange, ok)).then((res) => refusalOf(res)?.code)
    takes[1]!.resolve({ granted: 0, retryAfterMs: 1000, unavailable: true })
    expect(await down).toBe('rate_limit_unavailable')
  })
})

describe('rateLimit keys', () => {
  test('a header value is counted by a fixed-size digest, never held as sent', async () => {
    const keys: string[] = []
    const store: RateLimitStore = { take: (key, want) => (keys.push(key), Promise.resolve({ granted: want, retryAfterMs: 0 })) }
    const limit = rateLimit('r', { requestsPerSecond: 1, key: 'header:x-tenant', scope: 'node', onStoreFailure: 'allow' }, store)
    const withTenant = (value: string) => testExchange('/', { peer: '192.0.2.1', headers: { 'x-tenant': value } })
    const long = 'x'.repeat(16_000)
    for (const value of [long, `${long}y`, 'a', long]) await limit(withTenant(value), ok)
    // One-token leases: each request takes.
    expect(keys).toHaveLength(4)
    for (const key of keys) expect(key.length).toBe('r\u0000header:'.length + 22)
    expect(new Set(keys).size).toBe(3)
    expect(keys[3]).toBe(keys[0]!)
  })
})
