import { describe, expect, test } from 'bun:test'
import { parseHttpDate } from './http-date.ts'

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  const when = Date.UTC(1994, 10, 6, 8, 49, 37)
  test('the three forms', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(when)
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(when)
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(when)
  })

  test('names in the wrong case are still understood', () => {
    expect(parseHttpDate('sun, 06 nov 1994 08:49:37 gmt')).toBe(when)
    expect(parseHttpDate('SUN, 06 NOV 1994 08:49:37 GMT')).toBe(when)
  })

  test('a two-digit year more than 50 years ahead is in the past century', () => {
    const now = Date.UTC(2026, 0, 1)
    expect(new Date(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT', now)).getUTCFullYear()).toBe(2050)
    expect(new Date(parseHttpDate('Thursday, 18-Aug-99 02:01:18 GMT', now)).getUTCFullYear()).toBe(1999)
  })

  test('what Date.parse would accept but HTTP does not is invalid', () => {
    for (const bad of [
      'Thu, 18 Aug 2050 02:01:18 UTC',
      'Thu, 18 Aug 2050 02:01:18 AEST',
      'Thu, 18 Aug 50 02:01:18 GMT',
      'Thu 18 Aug 2050 02:01:18 GMT',
      'Thu, 18  Aug  2050 02:01:18 GMT',
      'Thu, 18-Aug-2050 02:01:18 GMT',
      'Thu, 18 Aug 2050 02.01.18 GMT',
      'Thu, 18 Aug 2050 2:01:18 GMT',
      'Thu, 32 Aug 2050 02:01:18 GMT',
      '0',
      '',
    ]) {
      expect(parseHttpDate(bad)).toBeNaN()
    }
  })
})
