import { describe, expect, test } from 'bun:test'
import { formatTraceparent, parseTraceparent, parseTracestate, randomHex, ratioSampler } from './trace-context.ts'

const TRACE = '0af7651916cd43dd8448eb211c80319c'
const SPAN = 'b7ad6b7169203331'

describe('parseTraceparent', () => {
  test('reads a valid version-00 value', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true })
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false })
    // Other flag bits are not the sampled one.
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-02`)?.sampled).toBe(false)
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-03`)?.sampled).toBe(true)
  })

  test.each([
    ['absent', null],
    ['empty', ''],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['uppercase flags', `00-${TRACE}-${SPAN}-0A`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['long parent id', `00-${TRACE}-${SPAN}0-01`],
    ['one-digit flags', `00-${TRACE}-${SPAN}-1`],
    ['version 00 with more after it', `00-${TRACE}-${SPAN}-01-extra`],
    ['trailing space', `00-${TRACE}-${SPAN}-01 `],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['non-hex version', `0g-${TRACE}-${SPAN}-01`],
    ['wrong separator', `00_${TRACE}_${SPAN}_01`],
    ['two fields joined', `00-${TRACE}-${SPAN}-01, 00-${TRACE}-${SPAN}-01`],
    ['non-hex in the trace id', `00-${TRACE.slice(0, 31)}x-${SPAN}-01`],
    ['later version followed by a non-dash', `01-${TRACE}-${SPAN}-01x`],
    ['later version too short', `01-${TRACE}-${SPAN}-0`],
  ])('refuses %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined()
  })

  test('reads the first 55 characters of a later version (§3.2.4)', () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true })
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-the-future-holds`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true })
  })
})

describe('parseTracestate', () => {
  test('keeps valid members, drops empty ones and optional whitespace', () => {
    expect(parseTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')
    expect(parseTracestate(' rojo=1 ,\t, tenant@vendor=x y')).toBe('rojo=1,tenant@vendor=x y')
  })

  test.each([
    ['absent', null],
    ['only empty members', ' , '],
    ['an uppercase key', 'Rojo=1'],
    ['a key starting with a digit (simple key)', '1rojo=1'],
    ['no "="', 'rojo'],
    ['a value with "="', 'rojo=a=b'],
    ['a tab inside the value', 'rojo=a\tb'],
    ['a non-ASCII value', 'rojo=ab\u00a0'],
    ['an empty value', 'rojo='],
    ['a duplicate key', 'rojo=1,rojo=2'],
    ['a system id longer than 14', `t@${'a'.repeat(15)}=1`],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
  ])('discards one with %s', (_name, value) => {
    expect(parseTracestate(value)).toBeUndefined()
  })

  test('takes 32 members', () => {
    const value = Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(',')
    expect(parseTracestate(value)).toBe(value)
  })
})

describe('ids and sampling', () => {
  test('random ids are lowercase hex of the right length and differ', () => {
    const ids = new Set<string>()
    for (let i = 0; i < 2000; i++) {
      const trace = randomHex(32)
      const span = randomHex(16)
      expect(trace).toMatch(/^[0-9a-f]{32}$/)
      expect(span).toMatch(/^[0-9a-f]{16}$/)
      ids.add(trace)
    }
    expect(ids.size).toBe(2000)
  })

  test('a formatted traceparent parses back', () => {
    const value = formatTraceparent(TRACE, SPAN, false)
    expect(value).toBe(`00-${TRACE}-${SPAN}-00`)
    expect(parseTraceparent(value)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false })
  })

  test('the ratio sampler keeps about its share, the same way for the same trace id', () => {
    expect(ratioSampler(0)(TRACE)).toBe(false)
    expect(ratioSampler(1)(TRACE)).toBe(true)
    const quarter = ratioSampler(0.25)
    let kept = 0
    for (let i = 0; i < 20_000; i++) if (quarter(randomHex(32))) kept++
    expect(kept / 20_000).toBeGreaterThan(0.22)
    expect(kept / 20_000).toBeLessThan(0.28)
    // The last 13 digits decide: below the bound is kept.
    expect(quarter(`${'f'.repeat(19)}0000000000000`)).toBe(true)
    expect(quarter(`${'0'.repeat(19)}fffffffffffff`)).toBe(false)
  })
})
