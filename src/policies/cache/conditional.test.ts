import { describe, expect, test } from 'bun:test'
import { notModified } from './conditional.ts'

const stored = new Headers({ etag: '"v1"', 'last-modified': 'Wed, 25 Nov 2026 10:00:00 GMT' })

describe('conditional requests from the cache (RFC 9110 §13)', () => {
  test.each([
    ['If-None-Match with the stored tag', { 'if-none-match': '"v1"' }, true],
    ['§8.8.3.2: weak comparison', { 'if-none-match': 'W/"v1"' }, true],
    ['a list', { 'if-none-match': '"v0", "v1"' }, true],
    ['"*"', { 'if-none-match': '*' }, true],
    ['another tag', { 'if-none-match': '"v2"' }, false],
    ['§13.2.2: If-None-Match wins over If-Modified-Since', { 'if-none-match': '"v2"', 'if-modified-since': 'Thu, 26 Nov 2026 10:00:00 GMT' }, false],
    ['If-Modified-Since after Last-Modified', { 'if-modified-since': 'Thu, 26 Nov 2026 10:00:00 GMT' }, true],
    ['If-Modified-Since before Last-Modified', { 'if-modified-since': 'Tue, 24 Nov 2026 10:00:00 GMT' }, false],
    ['an invalid date', { 'if-modified-since': 'yesterday' }, false],
    ['no conditionals', {}, false],
  ])('%s', (_name, request, expected) => {
    expect(notModified(new Headers(request), stored)).toBe(expected)
  })
})
