import { describe, expect, test } from 'bun:test'
import { parseCacheControl } from './directives.ts'
import {
  ageValue,
  currentAge,
  freshnessLifetime,
  mayServeStaleDisconnected,
  mayServeStaleOnError,
  reusableWithAuthorization,
  reuseDecision,
  unstorableReason,
  type StorabilityInput,
} from './policy.ts'

/** The schema's default for routes[].cache.statuses. */
const OVERRIDE_STATUSES = [200, 203, 301, 308]
const T0 = Date.parse('2026-11-26T12:00:00Z')
const httpDate = (ms: number) => new Date(ms).toUTCString()

function storability(status: number, headers: Record<string, string>, extra: Partial<StorabilityInput> = {}) {
  const h = new Headers(headers)
  const input: StorabilityInput = {
    status,
    responseDirectives: parseCacheControl(h.get('cache-control')),
    responseHeaders: h,
    requestHasAuthorization: false,
    mode: 'standard',
    overrideStatuses: OVERRIDE_STATUSES,
    setCookie: 'bypass',
    ...extra,
  }
  const lifetime = freshnessLifetime({
    status,
    directives: input.responseDirectives,
    headers: h,
    responseTime: T0,
    mode: input.mode,
    ttlSeconds: 300,
    overrideStatuses: input.overrideStatuses,
  })
  return unstorableReason(input, lifetime) ?? 'storable'
}

describe('storable? (RFC 9111 §3)', () => {
  test.each([
    ['§3: explicit max-age', 200, { 'cache-control': 'max-age=60' }, {}, 'storable'],
    ['§5.2.2.5: no-store', 200, { 'cache-control': 'max-age=60, no-store' }, {}, 'no-store'],
    ['§5.2.2.5: case-insensitive', 200, { 'cache-control': 'NO-STORE' }, {}, 'no-store'],
    ['§5.2.2.7: private in a shared cache', 200, { 'cache-control': 'private, max-age=60' }, {}, 'private'],
    ['§4.1: Vary: * never matches', 200, { 'cache-control': 'max-age=60', vary: 'Accept, *' }, {}, 'vary-star'],
    ['§3: status 206 is not stored (no Range support)', 206, { 'cache-control': 'max-age=60' }, {}, 'status'],
    ['§3: any final status with explicit freshness, a 500 too', 500, { 'cache-control': 'max-age=60' }, {}, 'storable'],
    ['§3: an unknown status with explicit freshness', 599, { 'cache-control': 'max-age=60' }, {}, 'storable'],
    ['§3: 304 is never stored as itself', 304, { 'cache-control': 'max-age=60' }, {}, 'status'],
    ['§5.2.2.3: must-understand with an unknown status', 599, { 'cache-control': 'max-age=60, no-store, must-understand' }, {}, 'status'],
    ['§5.2.2.3: must-understand with a known status ignores no-store', 200, { 'cache-control': 'max-age=60, no-store, must-understand' }, {}, 'storable'],
    ['§5.2.2.5: no-store', 200, { 'cache-control': 'max-age=60, no-store' }, {}, 'no-store'],
    ['§3: 404 with explicit freshness', 404, { 'cache-control': 'max-age=60' }, {}, 'storable'],
    ['§4.2.2: no heuristic for an error, even one RFC 9110 §15.1 lists (CPDoS)', 404, { 'last-modified': httpDate(T0 - 86_400_000), date: httpDate(T0) }, {}, 'no-freshness'],
    ['§4.2.2: no heuristic for other statuses', 500, { 'last-modified': httpDate(T0 - 86_400_000), date: httpDate(T0) }, {}, 'no-freshness'],
    ['§4.2.2: a 404 marked public gets one', 404, { 'cache-control': 'public', 'last-modified': httpDate(T0 - 86_400_000), date: httpDate(T0) }, {}, 'storable'],
    ['§4.2.2: ... unless marked public', 599, { 'cache-control': 'public', 'last-modified': httpDate(T0 - 86_400_000), date: httpDate(T0) }, {}, 'storable'],
    ['§4.2.2: heuristic from Last-Modified', 200, { 'last-modified': httpDate(T0 - 86_400_000), date: httpDate(T0) }, {}, 'storable'],
    ['§3: no freshness at all', 200, {}, {}, 'no-freshness'],
    ['§5.2.2.4: no-cache with a validator is stored', 200, { 'cache-control': 'no-cache', etag: '"a"' }, {}, 'storable'],
    ['no-cache without a validator cannot be revalidated', 200, { 'cache-control': 'no-cache' }, {}, 'no-freshness'],
    ['§3.5: Authorization without permission', 200, { 'cache-control': 'max-age=60' }, { requestHasAuthorization: true }, 'authorization'],
    ['§3.5: Authorization + public', 200, { 'cache-control': 'public, max-age=60' }, { requestHasAuthorization: true }, 'storable'],
    ['§3.5: Authorization + s-maxage', 200, { 'cache-control': 's-maxage=60' }, { requestHasAuthorization: true }, 'storable'],
    ['§3.5: Authorization + must-revalidate', 200, { 'cache-control': 'must-revalidate, max-age=60' }, { requestHasAuthorization: true }, 'storable'],
    ['override: never Authorization', 200, { 'cache-control': 'public, max-age=60' }, { requestHasAuthorization: true, mode: 'override' }, 'authorization'],
    ['override: ignores missing freshness', 200, {}, { mode: 'override' }, 'storable'],
    ['override: still never no-store', 200, { 'cache-control': 'no-store' }, { mode: 'override' }, 'no-store'],
    ['override: still never private', 200, { 'cache-control': 'private' }, { mode: 'override' }, 'private'],
    ['Set-Cookie: not stored by default', 200, { 'cache-control': 'max-age=60', 'set-cookie': 'a=1' }, {}, 'set-cookie'],
    ['Set-Cookie: stored stripped when configured', 200, { 'cache-control': 'max-age=60', 'set-cookie': 'a=1' }, { setCookie: 'strip' }, 'storable'],
    ['override: never Set-Cookie', 200, { 'set-cookie': 'a=1' }, { mode: 'override', setCookie: 'strip' }, 'set-cookie'],
    ['override: an unmarked 404 is not stored', 404, {}, { mode: 'override' }, 'status'],
    ['override: an unmarked 500 is not stored', 500, {}, { mode: 'override' }, 'status'],
    ['override: a 404 the origin marked cacheable is', 404, { 'cache-control': 'max-age=30' }, { mode: 'override' }, 'storable'],
    ['override: 308 by default', 308, {}, { mode: 'override' }, 'storable'],
    ['override: a listed 404 (statuses widened)', 404, {}, { mode: 'override', overrideStatuses: [200, 404] }, 'storable'],
  ] as const)('%s', (_name, status, headers, extra, expected) => {
    expect(storability(status, headers, extra as Partial<StorabilityInput>)).toBe(expected)
  })
})

describe('freshness lifetime (RFC 9111 §4.2.1)', () => {
  const lifetime = (headers: Record<string, string>, status = 200, mode: 'standard' | 'override' = 'standard') =>
    freshnessLifetime({ status, directives: parseCacheControl(headers['cache-control'] ?? null), headers: new Headers(headers), responseTime: T0, mode, ttlSeconds: 300, overrideStatuses: OVERRIDE_STATUSES })

  test.each([
    ['s-maxage over max-age', { 'cache-control': 'max-age=60, s-maxage=10' }, 10],
    ['max-age over Expires', { 'cache-control': 'max-age=60', expires: httpDate(T0 + 3_600_000), date: httpDate(T0) }, 60],
    ['Expires minus Date', { expires: httpDate(T0 + 120_000), date: httpDate(T0) }, 120],
    ['Expires in the past', { expires: httpDate(T0 - 120_000), date: httpDate(T0) }, 0],
    ['§5.3: invalid Expires means expired', { expires: '0' }, 0],
    ['§5.3: an Expires Date.parse would take (UTC for GMT) is invalid too', { expires: 'Thu, 18 Aug 2050 02:01:18 UTC', date: httpDate(T0) }, 0],
    ['the obsolete RFC 850 form is still an HTTP-date', { expires: 'Thursday, 18-Aug-50 02:01:18 GMT', date: 'Thu, 18 Aug 2050 02:00:18 GMT' }, 60],
    ['§4.2.2: 10% of the time since Last-Modified', { 'last-modified': httpDate(T0 - 1_000_000), date: httpDate(T0) }, 100],
    ['§4.2.2: heuristic capped at ttlSeconds', { 'last-modified': httpDate(T0 - 86_400_000), date: httpDate(T0) }, 300],
    ['none', {}, undefined],
  ])('%s', (_name, headers, expected) => {
    expect(lifetime(headers as Record<string, string>)).toBe(expected as number)
  })

  test('override mode: ttlSeconds whatever the upstream says', () => {
    expect(lifetime({ 'cache-control': 'max-age=5' }, 200, 'override')).toBe(300)
  })
})

describe('current age (RFC 9111 §4.2.3)', () => {
  test('apparent age from Date, response delay, and resident time', () => {
    const clock = { requestTime: T0, responseTime: T0 + 2000, dateValue: T0 - 3000, ageValue: 0 }
    // apparent 5 s, corrected age value 2 s: initial 5 s, plus 10 s resident.
    expect(currentAge(clock, T0 + 12_000)).toBe(15)
  })

  test('an upstream Age plus the response delay wins over a smaller apparent age', () => {
    const clock = { requestTime: T0, responseTime: T0 + 1000, dateValue: T0 + 1000, ageValue: 30 }
    expect(currentAge(clock, T0 + 1000)).toBe(31)
  })

  test('a Date in the future does not make the age negative', () => {
    const clock = { requestTime: T0, responseTime: T0, dateValue: T0 + 60_000, ageValue: 0 }
    expect(currentAge(clock, T0)).toBe(0)
  })
})

describe('reusable for this request? (RFC 9111 §4.2, §5.2; RFC 5861)', () => {
  const d = parseCacheControl
  test.each([
    ['§4.2: fresh', 60, 10, '', '', 'fresh'],
    ['§4.2: stale', 60, 61, '', '', 'revalidate'],
    ['lifetime 0 is stale at once', 0, 0, '', '', 'revalidate'],
    ['§5.2.2.4: response no-cache', 60, 1, 'no-cache', '', 'revalidate'],
    ['§5.2.1.4: request no-cache', 60, 1, '', 'no-cache', 'revalidate'],
    ['§5.2.1.1: request max-age=0', 60, 1, '', 'max-age=0', 'revalidate'],
    ['§5.2.1.1: request max-age above the age', 60, 1, '', 'max-age=5', 'fresh'],
    ['§5.2.1.3: min-fresh not met', 60, 50, '', 'min-fresh=20', 'revalidate'],
    ['§5.2.1.2: max-stale allows some staleness', 60, 65, '', 'max-stale=10', 'fresh'],
    ['§5.2.2.2: must-revalidate overrides max-stale', 60, 65, 'must-revalidate', 'max-stale=10', 'revalidate'],
    ['§5.2.2.10: s-maxage forbids serving stale', 60, 65, 's-maxage=60', 'max-stale', 'revalidate'],
    ['RFC 5861 §3: within stale-while-revalidate', 60, 70, 'stale-while-revalidate=30', '', 'stale-while-revalidate'],
    ['RFC 5861 §3: beyond stale-while-revalidate', 60, 100, 'stale-while-revalidate=30', '', 'revalidate'],
    ['must-revalidate disables stale-while-revalidate', 60, 70, 'must-revalidate, stale-while-revalidate=30', '', 'revalidate'],
  ])('%s', (_name, lifetime, age, response, request, expected) => {
    expect(reuseDecision({ lifetime, age, response: d(response || null), request: d(request || null) })).toBe(expected as never)
  })

  test('RFC 5861 §4: stale-if-error within and beyond its window', () => {
    expect(mayServeStaleOnError(60, 100, d('stale-if-error=60'))).toBe(true)
    expect(mayServeStaleOnError(60, 200, d('stale-if-error=60'))).toBe(false)
    expect(mayServeStaleOnError(60, 100, d(null))).toBe(false)
    expect(mayServeStaleOnError(60, 100, d('stale-if-error=60, must-revalidate'))).toBe(false)
  })

  test.each([
    ['public', 'standard', true],
    ['s-maxage=5', 'standard', true],
    ['must-revalidate', 'standard', true],
    ['max-age=60', 'standard', false],
    ['public', 'override', false],
  ] as const)('§3.5: Authorization may reuse a %s response in %s mode: %p', (cc, mode, expected) => {
    expect(reusableWithAuthorization(d(cc), mode)).toBe(expected)
  })
})

describe('Age (RFC 9111 §5.1)', () => {
  test.each([
    ['60', 60],
    ['7200, 0', 7200],
    ['0, 7200', 0],
    ['abc', 0],
    ['-5', 0],
  ] as const)('Age: %s is %p seconds', (value, expected) => {
    expect(ageValue(new Headers({ age: value }))).toBe(expected)
  })
})

describe('stale while the origin is unreachable (RFC 9111 §4.2.4)', () => {
  const d = (cc: string | null) => parseCacheControl(cc)
  test('within the grace, unless a directive forbids serving stale', () => {
    expect(mayServeStaleDisconnected(60, 100, d('max-age=60'), 60)).toBe(true)
    expect(mayServeStaleDisconnected(60, 130, d('max-age=60'), 60)).toBe(false)
    expect(mayServeStaleDisconnected(60, 130, d('max-age=60, stale-if-error=100'), 60)).toBe(true)
    expect(mayServeStaleDisconnected(60, 100, d('max-age=60'), 0)).toBe(false)
    for (const cc of ['max-age=60, must-revalidate', 'max-age=60, proxy-revalidate', 's-maxage=60', 'max-age=60, no-cache']) {
      expect(mayServeStaleDisconnected(60, 61, d(cc), 60)).toBe(false)
    }
  })
})
