import { describe, expect, test } from 'bun:test'
import type { RouteConfig } from '../config/schema.ts'
import { createRouteTable, prefixMatches, upstreamPath } from './table.ts'

const route = (path: string, extra: Partial<RouteConfig> = {}): RouteConfig => ({
  path,
  upstream: 'u',
  stripPrefix: false,
  cache: { enabled: false } as RouteConfig['cache'],
  ...extra,
})

describe('prefixMatches', () => {
  test.each([
    ['/users', '/users', true],
    ['/users', '/users/', true],
    ['/users', '/users/42', true],
    ['/users', '/users2', false],
    ['/users', '/user', false],
    ['/users', '/Users', false],
    ['/', '/anything', true],
    ['/a/b', '/a/b/c', true],
    ['/a/b', '/a/bc', false],
  ])('%s on %s → %s', (prefix, path, expected) => {
    expect(prefixMatches(prefix, path)).toBe(expected)
  })
})

describe('createRouteTable', () => {
  const table = createRouteTable([
    route('/'),
    route('/api', { name: 'api' }),
    route('/api/v2/'),
    route('/api', { host: 'Admin.Example.com', name: 'admin-api' }),
    route('/ro', { methods: ['GET'] }),
  ])

  test('the longest prefix wins, whatever the order in the file', () => {
    expect(table.match(undefined, '/api/v2/x')?.name).toBe('/api/v2/')
    expect(table.match(undefined, '/api/v3')?.name).toBe('api')
    expect(table.match(undefined, '/other')?.name).toBe('/')
  })

  test('a host route beats a host-less one of the same prefix, only for its host', () => {
    expect(table.match('admin.example.com', '/api/x')?.name).toBe('admin-api')
    expect(table.match('other.example.com', '/api/x')?.name).toBe('api')
    expect(table.match(undefined, '/api/x')?.name).toBe('api')
    expect(table.usesHost).toBe(true)
  })

  test('no route → undefined', () => {
    expect(createRouteTable([route('/a')]).match(undefined, '/b')).toBeUndefined()
  })

  test('methods: GET implies HEAD; the Allow value is precomputed', () => {
    const ro = table.match(undefined, '/ro')!
    expect([...ro.methods]).toEqual(['GET', 'HEAD'])
    expect(ro.allow).toBe('GET, HEAD')
    expect(table.match(undefined, '/')!.allow).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS')
  })
})

describe('upstreamPath', () => {
  const strip = createRouteTable([route('/api', { stripPrefix: true })]).match(undefined, '/api')!
  const keep = createRouteTable([route('/api')]).match(undefined, '/api')!
  test.each([
    [strip, '/api/users', '/users'],
    [strip, '/api', '/'],
    [strip, '/api/', '/'],
    [keep, '/api/users', '/api/users'],
  ])('%#: %s → %s', (r, path, expected) => {
    expect(upstreamPath(r, path)).toBe(expected)
  })
})
