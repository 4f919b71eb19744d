import { describe, expect, test } from 'bun:test'
import { primaryKey, splitPrimaryKey, variantKey, varyNames } from './key.ts'

const fields = (headers: Headers) => (name: string) => headers.get(name)

describe('cache keys (RFC 9111 §2, §4.1)', () => {
  test('scheme, host (case-insensitive), path and query as sent', () => {
    expect(primaryKey('http', 'API.example:80', '/a', '?b=1')).toBe(primaryKey('http', 'api.example:80', '/a', '?b=1'))
    expect(primaryKey('http', 'a', '/a', '?b=1')).not.toBe(primaryKey('http', 'a', '/a', '?b=2'))
    expect(primaryKey('http', 'a', '/a', '')).not.toBe(primaryKey('https', 'a', '/a', ''))
    expect(primaryKey('http', 'a', '/a%2Fb', '')).not.toBe(primaryKey('http', 'a', '/a/b', ''))
  })

  test('parts cannot run into each other', () => {
    expect(primaryKey('http', 'ab', '/c', '')).not.toBe(primaryKey('http', 'a', 'b/c', ''))
    expect(splitPrimaryKey(primaryKey('https', 'h:1', '/p', '?q'))).toEqual({ scheme: 'https', host: 'h:1', target: '/p?q' })
  })

  test('Vary names: lower-cased, sorted, and Accept-Encoding added for encoded bodies', () => {
    expect(varyNames(new Headers({ vary: 'Accept-Language, Accept' }))).toEqual(['accept', 'accept-language'])
    expect(varyNames(new Headers({ 'content-encoding': 'gzip' }))).toEqual(['accept-encoding'])
    expect(varyNames(new Headers({ 'content-encoding': 'identity' }))).toEqual([])
  })

  test('variants: selecting header values are part of the key; absent differs from empty', () => {
    const p = primaryKey('http', 'a', '/x', '')
    const names = ['accept-encoding']
    const gzip = variantKey(p, names, fields(new Headers({ 'accept-encoding': 'gzip' })))
    const identity = variantKey(p, names, fields(new Headers({ 'accept-encoding': 'identity' })))
    const empty = variantKey(p, names, fields(new Headers({ 'accept-encoding': '' })))
    const absent = variantKey(p, names, fields(new Headers()))
    expect(new Set([gzip, identity, empty, absent]).size).toBe(4)
    expect(variantKey(p, [], fields(new Headers({ 'accept-encoding': 'gzip' })))).toBe(p)
  })
})
