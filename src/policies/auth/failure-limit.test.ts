import { describe, expect, test } from 'bun:test'
import { testExchange } from '../../../test/fixtures/exchange.ts'
import { failureLimit } from './failure-limit.ts'

const from = (address: string) => testExchange('/api', { route: { name: 'api', path: '/api' }, peer: address })

/** A limiter on a fake clock, guarding a stage that answers 200. */
function setup(limit: number, maxAddresses?: number) {
  const clock = { now: 0 }
  const limiter = failureLimit(limit, { now: () => clock.now, maxAddresses })
  const guarded = limiter.guard((exchange, next) => next(exchange))
  /** The status `address` gets: 200, or the refusal's with its Retry-After. */
  const attempt = (address: string): [number, string | undefined] => {
    const answer = guarded(from(address), () => new Response('ok')) as Response
    return [answer.status, answer.headers.get('retry-after') ?? undefined]
  }
  const fail = (address: string, times = 1) => {
    for (let i = 0; i < times; i++) limiter.failed(from(address))
  }
  return { clock, attempt, fail }
}

describe('failureLimit', () => {
  test('limit failures pass; then 429 with Retry-After until a failure is refilled (limit a minute)', () => {
    const { clock, attempt, fail } = setup(3)
    fail('10.0.0.1', 2)
    expect(attempt('10.0.0.1')).toEqual([200, undefined])
    fail('10.0.0.1')
    // 3 a minute: one back every 20 s.
    expect(attempt('10.0.0.1')).toEqual([429, '20'])
    clock.now += 19_000
    expect(attempt('10.0.0.1')).toEqual([429, '1'])
    clock.now += 1000
    expect(attempt('10.0.0.1')).toEqual([200, undefined])
    fail('10.0.0.1')
    expect(attempt('10.0.0.1')[0]).toBe(429)
  })

  test('addresses are counted apart', () => {
    const { attempt, fail } = setup(2)
    fail('10.0.0.1', 2)
    expect(attempt('10.0.0.1')[0]).toBe(429)
    expect(attempt('10.0.0.2')[0]).toBe(200)
  })

  test('a minute without failures forgets everything', () => {
    const { clock, attempt, fail } = setup(1)
    fail('10.0.0.1')
    expect(attempt('10.0.0.1')[0]).toBe(429)
    clock.now += 60_000
    expect(attempt('10.0.0.1')[0]).toBe(200)
  })

  test('the table is bounded: past maxAddresses the least recently failing address is forgotten', () => {
    const { attempt, fail } = setup(1, 2)
    fail('10.0.0.1')
    fail('10.0.0.2')
    fail('10.0.0.3')
    expect(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((a) => attempt(a)[0])).toEqual([200, 429, 429])
  })
})
