import { describe, expect, test } from 'bun:test'
import { GatewayError } from '../kernel/errors.ts'
import { UpstreamError } from './errors.ts'
import { createOutlierDetector } from './outlier.ts'
import { createRetryBudget } from './retry-budget.ts'
import { consistentHash } from './selection/hash.ts'
import { leastInflight } from './selection/least-inflight.ts'
import { roundRobin } from './selection/round-robin.ts'
import { createTarget } from './target.ts'
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from './types.ts'
import { createBreaker } from './wrappers/breaker.ts'

const request = (hashKey?: string) => ({ hashKey }) as UpstreamRequest

describe('selection', () => {
  test('smooth weighted round-robin spreads a heavy target out (nginx: a a b a c a a for 5:1:1)', () => {
    const [a, b, c] = [createTarget('http://a', 5), createTarget('http://b', 1), createTarget('http://c', 1)]
    const policy = roundRobin()
    const order = Array.from({ length: 7 }, () => policy.pick([a!, b!, c!], request()).base.slice(7))
    expect(order.join(' ')).toBe('a a b a c a a')
  })

  test('least-inflight prefers the less busy of two', () => {
    const [idle, busy] = [createTarget('http://idle'), createTarget('http://busy')]
    busy!.inflight = 10
    let draw = 0
    const policy = leastInflight(() => (draw++ % 2 === 0 ? 0.9 : 0.1))
    expect(policy.pick([idle!, busy!], request()).base).toBe('http://idle')
  })

  test('consistent hash: the same key, the same target; a missing target moves only its keys', () => {
    const targets = [1, 2, 3, 4].map((i) => createTarget(`http://t${i}`))
    const policy = consistentHash(targets)
    const owner = new Map<string, string>()
    for (let i = 0; i < 2000; i++) owner.set(`k${i}`, policy.pick(targets, request(`k${i}`)).base)
    const left = targets.slice(0, 3)
    let moved = 0
    for (const [key, base] of owner) {
      const now = policy.pick(left, request(key)).base
      if (now !== base) {
        moved++
        expect(base).toBe('http://t4')
      }
    }
    expect(moved / owner.size).toBeGreaterThan(0.15)
    expect(moved / owner.size).toBeLessThan(0.35)
  })
})

describe('outlier detection', () => {
  test('ejects after consecutive failures, for longer each time, never the last healthy one', () => {
    let now = 0
    const targets = [createTarget('http://a'), createTarget('http://b')]
    const detector = createOutlierDetector(targets, { consecutiveFailures: 3, ejectionSeconds: 10, maxEjectedPercent: 100 }, undefined, () => now)
    const [a, b] = targets as [ReturnType<typeof createTarget>, ReturnType<typeof createTarget>]
    detector.record(a, 503)
    detector.record(a, 'reset')
    detector.record(a, 200)
    detector.record(a, 503)
    detector.record(a, 503)
    expect(detector.usable(a, now)).toBe(true)
    detector.record(a, 'connect_refused')
    expect(detector.usable(a, now)).toBe(false)
    expect(detector.usable(a, now + 10_001)).toBe(true)
    // b is now the only usable one: its failures never eject it.
    for (let i = 0; i < 10; i++) detector.record(b, 502)
    expect(detector.usable(b, now)).toBe(true)
    now = 20_000
    for (let i = 0; i < 3; i++) detector.record(a, 500)
    expect(detector.usable(a, now + 19_000)).toBe(false)
    expect(detector.usable(a, now + 20_001)).toBe(true)
    // A client leaving says nothing about the target.
    for (let i = 0; i < 5; i++) detector.record(b, 'body_timeout')
    expect(b.failures).toBe(0)
  })
})

describe('retry budget', () => {
  test('retries never exceed the percentage of requests, and start from nothing', () => {
    const budget = createRetryBudget(20)
    let granted = 0
    for (let i = 0; i < 1000; i++) {
      budget.deposit()
      if (budget.withdraw()) granted++
    }
    expect(granted).toBeLessThanOrEqual(200)
    expect(granted).toBeGreaterThanOrEqual(199)
    expect(createRetryBudget(0).withdraw()).toBe(false)
  })
})

describe('circuit breaker', () => {
  test('opens after consecutive failures, answers 503 fast, half-opens after openSeconds, closes on success', async () => {
    let now = 0
    let status = 503
    let calls = 0
    const base: UpstreamClient = {
      async send() {
        calls++
        if (status === 0) throw new UpstreamError('connect_refused')
        return { status, headers: new Headers(), body: null, bytes: async () => new Uint8Array() } as UpstreamResponse
      },
      closeIdle() {},
    }
    const states: string[] = []
    const breaker = createBreaker({ consecutiveFailures: 3, openSeconds: 5, halfOpenRequests: 1 }, (s) => states.push(s), () => now)
    const client = breaker.wrap(base)
    for (let i = 0; i < 3; i++) await client.send(request())
    expect(breaker.state).toBe('open')
    const fast = await client.send(request()).catch((err) => err)
    expect(fast).toBeInstanceOf(GatewayError)
    expect((fast as GatewayError).code).toBe('upstream_unavailable')
    expect(calls).toBe(3)
    now = 5001
    status = 0
    await client.send(request()).catch(() => {})
    expect(breaker.state).toBe('open')
    now = 10_002
    status = 200
    await client.send(request())
    expect(breaker.state).toBe('closed')
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed'])
  })
})
