import { describe, expect, test } from 'bun:test'
import { mediaTypeMatcher } from './media-types.ts'
import { negotiate, negotiator } from './negotiate.ts'
import { resolveCompression } from './resolve.ts'
import { DEFAULT_TYPES, compressionSchema, type Coding } from './schema.ts'

const ALL: Coding[] = ['zstd', 'br', 'gzip']

describe('negotiate (RFC 9110 §12.5.3)', () => {
  test.each([
    // [Accept-Encoding, offered, expected]
    [null, ALL, 'identity'],
    ['', ALL, 'identity'],
    ['gzip', ALL, 'gzip'],
    ['GZIP', ALL, 'gzip'],
    ['x-gzip', ALL, 'gzip'],
    ['gzip, deflate, br', ALL, 'br'],
    ['br, gzip', ALL, 'br'],
    ['gzip, deflate, br, zstd', ALL, 'zstd'],
    ['gzip, br', ['gzip', 'br'], 'gzip'],
    ['deflate', ALL, 'identity'],
    ['br;q=0.5, gzip', ALL, 'gzip'],
    ['br;q=0.5, gzip;q=0.8', ALL, 'gzip'],
    ['br;q=1.0, gzip;q=1', ALL, 'br'],
    ['gzip;q=0', ALL, 'identity'],
    ['gzip; q=0.000', ALL, 'identity'],
    ['gzip;Q=0', ALL, 'identity'],
    ['*', ALL, 'zstd'],
    ['*;q=0.5, br', ALL, 'br'],
    ['*, zstd;q=0', ALL, 'br'],
    ['gzip;q=0.5', ALL, 'gzip'],
    ['gzip;q=0.5, identity', ALL, 'identity'],
    ['gzip, identity;q=0.5', ALL, 'gzip'],
    ['gzip, identity', ALL, 'gzip'],
    ['identity', ALL, 'identity'],
    ['*;q=0', ALL, 'identity'],
    ['identity;q=0, *;q=0', ALL, 'identity'],
    ['zstd', ['br', 'gzip'], 'identity'],
    ['gzip;q=2', ALL, 'identity'],
    ['gzip;q=0.1234', ALL, 'identity'],
    ['gzip;q=abc, br', ALL, 'br'],
    ['gzip;level=9', ALL, 'gzip'],
    ['br, br;q=0', ALL, 'identity'],
    [' , ,gzip ,', ALL, 'gzip'],
  ] as const)('%p offered %p → %p', (header, offered, expected) => {
    expect(negotiate(header, offered)).toBe(expected)
  })

  test('a negotiator remembers answers and stays bounded', () => {
    const negotiated = negotiator(ALL)
    expect(negotiated('br, gzip')).toBe('br')
    expect(negotiated('br, gzip')).toBe('br')
    for (let i = 0; i < 1000; i++) expect(negotiated(`gzip, x-${i}`)).toBe('gzip')
    expect(negotiated(null)).toBe('identity')
  })
})

describe('mediaTypeMatcher', () => {
  const defaults = mediaTypeMatcher(DEFAULT_TYPES)
  test.each([
    ['text/html', true],
    ['text/html; charset=utf-8', true],
    ['Text/HTML;charset=UTF-8', true],
    ['text/event-stream', true],
    ['application/json', true],
    ['application/problem+json', true],
    ['application/vnd.api+json; charset=utf-8', true],
    ['application/atom+xml', true],
    ['image/svg+xml', true],
    ['application/javascript', true],
    ['image/png', false],
    ['application/octet-stream', false],
    ['application/zip', false],
    ['application/+json', false],
    ['application/jsonx', false],
    ['text', false],
    ['', false],
    [null, false],
  ] as const)('the defaults: %p → %p', (type, expected) => {
    expect(defaults(type)).toBe(expected)
  })

  test('*/* matches any declared type', () => {
    const any = mediaTypeMatcher(['*/*'])
    expect(any('image/png')).toBe(true)
    expect(any(null)).toBe(false)
  })
})

describe('config', () => {
  const defaults = compressionSchema.parse({ enabled: true })

  test('a route changes the keys it names; false or enabled: false turns it off', () => {
    expect(resolveCompression(defaults, undefined)).toBe(defaults)
    expect(resolveCompression(defaults, false)).toBeUndefined()
    expect(resolveCompression(defaults, { enabled: false })).toBeUndefined()
    const route = resolveCompression(defaults, { minBytes: 10, levels: { br: 5 } })!
    expect(route).toMatchObject({
      enabled: true,
      minBytes: 10,
      encodings: ['zstd', 'br', 'gzip'],
      levels: { gzip: 1, br: 5, zstd: 3 },
    })
  })

  test('off by default; a route turns it on', () => {
    const off = compressionSchema.parse({})
    expect(resolveCompression(off, undefined)).toBeUndefined()
    expect(resolveCompression(off, { minBytes: 10 })).toBeUndefined()
    expect(resolveCompression(off, { enabled: true })?.encodings).toEqual(['zstd', 'br', 'gzip'])
  })

  test('types are lower-cased; bad types and repeated codings are refused', () => {
    expect(compressionSchema.parse({ types: ['Text/HTML', 'application/*+JSON'] }).types).toEqual([
      'text/html',
      'application/*+json',
    ])
    expect(compressionSchema.safeParse({ types: ['text'] }).success).toBe(false)
    expect(compressionSchema.safeParse({ types: ['*/json'] }).success).toBe(false)
    expect(compressionSchema.safeParse({ encodings: ['gzip', 'gzip'] }).success).toBe(false)
    expect(compressionSchema.safeParse({ encodings: ['deflate'] }).success).toBe(false)
  })
})
