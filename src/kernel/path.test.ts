import { describe, expect, test } from 'bun:test'
import { normalisePath, type EscapedSlashes } from './path.ts'

const REJECT = undefined

describe('normalisePath (RFC 3986 §6.2.2, §5.2.4)', () => {
  // Inputs are paths as Bun hands them over: literal dot segments and "\" already resolved.
  test.each([
    // Unchanged
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a/b/', '/a/b/'],
    // Unreserved characters are decoded, whatever the case of the hex digits
    ['/public/%61dmin/x', '/public/admin/x'],
    ['/public/%41dmin', '/public/Admin'],
    ['/heal%74h', '/health'],
    ['/a%7Eb', '/a~b'],
    ['/a%7eb', '/a~b'],
    ['/a%2Db%5Fc', '/a-b_c'],
    ['/a%2Eb', '/a.b'],
    // Dot segments that only decoding produces are resolved
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/.%2E/admin', '/admin'],
    ['/public/%2E/admin', '/public/admin'],
    ['/a/b/%2e%2e', '/a/'],
    ['/%2e%2e/%2e%2e/x', '/x'],
    // Other escapes stay encoded, upper-cased; nothing is decoded twice (§2.4)
    ['/a%2fb', REJECT],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a%20b', '/a%20b'],
    ['/a%3Fb', '/a%3Fb'],
    ['/a%23b', '/a%23b'],
    ['/%252e%252e/admin', '/%252e%252e/admin'],
    ['/a%252Fb', '/a%252Fb'],
    ['/a%25', '/a%25'],
    // Repeated slashes are merged
    ['/public//admin/x', '/public/admin/x'],
    ['//admin', '/admin'],
    ['/a///b//', '/a/b/'],
    ['/api//users', '/api/users'],
    // Encoded separators are refused by default, in either case
    ['/public/..%2Finternal/secret', REJECT],
    ['/public/..%2finternal/secret', REJECT],
    ['/public/%2e%2e%2finternal', REJECT],
    ['/public/%2E%2E%2Finternal', REJECT],
    ['/a%5cb', REJECT],
    ['/a%5Cb', REJECT],
    ['/a%5c..%5cb', REJECT],
    // Malformed escapes and an encoded NUL are always refused
    ['/%zz', REJECT],
    ['/a%', REJECT],
    ['/a%4', REJECT],
    ['/a%4g', REJECT],
    ['/a%00b', REJECT],
    ['/%E0%A4%A', REJECT],
  ])('%s → %p', (input, expected) => {
    expect(normalisePath(input, 'reject')).toBe(expected)
  })

  test.each<[string, EscapedSlashes, string | undefined]>([
    ['/public/..%2Finternal/secret', 'decode', '/internal/secret'],
    ['/public/%2e%2e%2finternal', 'decode', '/internal'],
    ['/a%2fb', 'decode', '/a/b'],
    ['/a%5Cb', 'decode', '/a/b'],
    ['/a%2F%2Fb', 'decode', '/a/b'],
    ['/public/..%2Finternal/secret', 'keep', '/public/..%2Finternal/secret'],
    ['/a%2fb', 'keep', '/a%2Fb'],
    ['/a%5cb', 'keep', '/a%5Cb'],
    ['/a%00b', 'keep', undefined],
    ['/a%00b', 'decode', undefined],
  ])('%s with escapedSlashes=%s → %p', (input, mode, expected) => {
    expect(normalisePath(input, mode)).toBe(expected)
  })

  test('is idempotent: a normalised path normalises to itself', () => {
    for (const input of ['/public/%61dmin//x/', '/caf%c3%a9/%2e%2e/b', '/a%252Fb', '/x/./%2e/y']) {
      const once = normalisePath(input, 'reject')!
      expect(normalisePath(once, 'reject')).toBe(once)
    }
  })
})
