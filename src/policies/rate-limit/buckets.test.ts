import { describe, expect, test } from 'bun:test'
import { createTokenBuckets, nodeStore, type GlobalBuckets } from './buckets.ts'

describe('createTokenBuckets', () => {
  test('a full bucket grants its burst, then refills at the rate', () => {
    let now = 0
    const buckets = createTokenBuckets({ now: () => now })
    expect(buckets.take('k', 8, 10, 5).granted).toBe(5)
    const empty = buckets.take('k', 1, 10, 5)
    expect(empty).toEqual({ granted: 0, retryAfterMs: 100 })
    now = 250
    expect(buckets.take('k', 10, 10, 5).granted).toBe(2)
    now = 10_000
    // Never beyond the burst, however long the quiet spell.
    expect(buckets.take('k', 100, 10, 5).granted).toBe(5)
  })

  test('keys are independent', () => {
    const buckets = createTokenBuckets({ now: () => 0 })
    expect(buckets.take('a', 3, 1, 3).granted).toBe(3)
    expect(buckets.take('b', 3, 1, 3).granted).toBe(3)
    expect(buckets.take('a', 1, 1, 3).granted).toBe(0)
  })

  test('a million distinct keys stay within maxKeys', () => {
    const buckets = createTokenBuckets({ maxKeys: 10_000, now: () => 0 })
    for (let i = 0; i < 1_000_000; i++) buckets.take(`ip:${i}`, 1, 1, 1)
    expect(buckets.size).toBe(10_000)
  })

  test('the bytes its keys are charged stay within maxBytes, however long the keys', () => {
    const buckets = createTokenBuckets({ maxBytes: 1 << 20, now: () => 0 })
    for (let i = 0; i < 1000; i++) buckets.take(`header:${i}:${'x'.repeat(16_000)}`, 1, 1, 1)
    const stats = buckets.stats()
    expect(stats.bytes).toBeLessThanOrEqual(1 << 20)
    expect(stats.maxBytes).toBe(1 << 20)
    expect(stats.keys).toBe(buckets.size)
    expect(stats.keys).toBeLessThan(1000)
  })
})

describe('nodeStore', () => {
  const down: GlobalBuckets = { take: () => Promise.resolve(undefined) }
  const up: GlobalBuckets = { take: (_key, want) => Promise.resolve({ granted: want, retryAfterMs: 0 }) }

  test('node limits never touch the shared buckets; global ones do while they answer', async () => {
    const store = nodeStore(createTokenBuckets({ now: () => 0 }), up)
    expect((await store.take('k', 3, 1, 2)).granted).toBe(2)
    expect((await store.take('k', 50, 1, 2, 'deny')).granted).toBe(50)
  })

  test('shared buckets unreachable: allow falls back to the node bucket, deny refuses as unavailable', async () => {
    const store = nodeStore(createTokenBuckets({ now: () => 0 }), down)
    expect(await store.take('k', 3, 1, 2, 'allow')).toEqual({ granted: 2, retryAfterMs: 0 })
    expect((await store.take('k', 1, 1, 2, 'allow')).granted).toBe(0)
    expect(await store.take('j', 1, 1, 2, 'deny')).toEqual({ granted: 0, retryAfterMs: 1000, unavailable: true })
  })
})
