import { describe, expect, test } from 'bun:test'
import { hostForRouting, splitTarget } from './target.ts'

describe('splitTarget', () => {
  test.each([
    ['http://a.example/x/y?q=1', '/x/y', '?q=1', 8],
    ['http://a.example:8080/x', '/x', '', 2],
    ['http://a.example', '/', '', 1],
    ['http://a.example/a%2Fb?', '/a%2Fb', '?', 7],
    ['/relative?x', '/relative', '?x', 11],
  ])('%s → %s %s', (url, path, query, length) => {
    expect(splitTarget(url)).toEqual({ path, query, length })
  })
})

describe('hostForRouting', () => {
  test.each([
    ['API.example.com:8443', 'api.example.com'],
    ['api.example.com', 'api.example.com'],
    ['[::1]:8080', '[::1]'],
    ['[::1]', '[::1]'],
    [null, undefined],
  ])('%p → %p', (host, expected) => {
    expect(hostForRouting(host)).toBe(expected as string)
  })
})
