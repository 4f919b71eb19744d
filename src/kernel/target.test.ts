import { describe, expect, test } from 'bun:test'
import { INVALID_PATH } from './path.ts'
import { hostForRouting, normaliseHost, queryOf, requestTarget, routingPath, targetLength } from './target.ts'

describe('queryOf and targetLength', () => {
  test.each([
    ['http://a.example/x/y?q=1', '?q=1', 8],
    ['http://a.example:8080/x', '', 2],
    ['http://a.example', '', 1],
    ['http://a.example/a%2Fb?', '?', 7],
    ['/relative?x', '?x', 11],
    // Bun keeps a fragment in req.url; it is no part of the request-target (RFC 9112 §3.2).
    ['http://a.example/a/b#frag', '', 4],
    ['http://a.example/x?q=1#frag', '?q=1', 6],
    ['http://a.example/x#frag?not-a-query', '', 2],
  ])('%s → query %p, %i bytes', (url, query, length) => {
    expect(queryOf(url)).toBe(query)
    expect(targetLength(url)).toBe(length)
  })
})

describe('routingPath', () => {
  test.each([
    ['http://a.example/public/..%2Finternal/secret', INVALID_PATH],
    ['http://a.example/public//admin/x', '/public/admin/x'],
    ['http://a.example/heal%74h', '/health'],
    ['http://a.example/a/b#frag', '/a/b'],
    ['*', INVALID_PATH],
  ])('%s → %p', (url, expected) => {
    expect(routingPath(url, 'reject')).toBe(expected)
  })
})

describe('hostForRouting', () => {
  test.each([
    ['API.example.com:8443', 'api.example.com'],
    ['api.example.com', 'api.example.com'],
    ['[::1]:8080', '[::1]'],
    ['[::1]', '[::1]'],
    ['api.example.', 'api.example'],
    ['API.example.:80', 'api.example'],
    ['api.example..', 'api.example..'],
    [null, undefined],
  ])('%p → %p', (host, expected) => {
    expect(hostForRouting(host)).toBe(expected as string)
  })
})

describe('normaliseHost', () => {
  test.each([
    ['api.example', '80', 'api.example'],
    ['API.Example.', '80', 'api.example'],
    ['api.example.:80', '80', 'api.example'],
    ['api.example:443', '443', 'api.example'],
    ['api.example:443', '80', 'api.example:443'],
    ['api.example.:8080', '80', 'api.example:8080'],
    ['[::1]:80', '80', '[::1]'],
    ['[::1]:8080', '80', '[::1]:8080'],
    ['127.0.0.1:80', '80', '127.0.0.1'],
    // Around the shortcut for a host already normal: it must agree with the full rules.
    ['Api.example', '80', 'api.example'],
    ['api.example.', '80', 'api.example'],
    ['api.example..', '80', 'api.example..'],
    ['api.example:', '80', 'api.example'],
    ['api.example:80', '443', 'api.example:80'],
    ['api.example:080', '80', 'api.example:080'],
    ['api.example:180', '80', 'api.example:180'],
    ['api.example:8443', '443', 'api.example:8443'],
    ['[::1]', '80', '[::1]'],
    ['[::1]:443', '443', '[::1]'],
    ['[::1.]', '80', '[::1.]'],
    ['x', '80', 'x'],
    ['', '80', ''],
  ] as const)('%p (default port %p) → %p', (host, port, expected) => {
    expect(normaliseHost(host, port)).toBe(expected)
  })

  test('returns the same string when nothing changes (no copy on the hot path)', () => {
    const host = 'api.example:8080'
    expect(normaliseHost(host, '80')).toBe(host)
  })
})

test('requestTarget is the path and query as sent, without the fragment', () => {
  expect(requestTarget('http://h/a/b?c=1#f')).toBe('/a/b?c=1')
  expect(requestTarget('http://h')).toBe('/')
  expect(requestTarget('/x?y')).toBe('/x?y')
})
