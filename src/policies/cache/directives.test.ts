import { describe, expect, test } from 'bun:test'
import { parseCacheControl } from './directives.ts'

describe('parseCacheControl (RFC 9111 §5.2)', () => {
  test.each([
    ['max-age=60', { maxAge: 60 }],
    ['MAX-AGE=60, Public', { maxAge: 60, public: true }],
    ['nO-StOrE', { noStore: true }],
    ['private, no-cache', { private: true, noCache: true }],
    ['no-cache="set-cookie"', { noCache: true }],
    ['s-maxage=10, max-age=60', { sMaxage: 10, maxAge: 60 }],
    ['max-age="30"', { maxAge: 30 }],
    ['max-age=abc', { maxAge: 0 }], // §1.2.2: invalid → stale
    ['max-age=-5', { maxAge: 0 }],
    ['max-age', { maxAge: 0 }],
    ['max-age=60, max-age=10', { maxAge: 10 }], // duplicates: the more restrictive
    ['max-age=99999999999', { maxAge: 2 ** 31 }], // §1.2.2: cap at 2^31
    ['stale-while-revalidate=30, stale-if-error=60', { staleWhileRevalidate: 30, staleIfError: 60 }],
    ['max-stale', { maxStale: Infinity }],
    ['max-stale=5, min-fresh=3, only-if-cached', { maxStale: 5, minFresh: 3, onlyIfCached: true }],
    ['must-revalidate, proxy-revalidate', { mustRevalidate: true, proxyRevalidate: true }],
    [' , ,unknown-ext=1, ,', {}],
  ])('%p', (value, expected) => {
    expect(parseCacheControl(value)).toMatchObject(expected)
    const flags = ['noStore', 'noCache', 'private', 'public', 'mustRevalidate', 'onlyIfCached'] as const
    for (const flag of flags) if (!(flag in expected)) expect(parseCacheControl(value)[flag]).toBe(false)
  })

  test('absent header: no directives', () => {
    expect(parseCacheControl(null)).toMatchObject({ noStore: false })
    expect(parseCacheControl(null).maxAge).toBeUndefined()
  })
})
