import { describe, expect, test } from 'bun:test'
import type { RouteConfig } from './schema.ts'
import { upstreamPath } from '../upstream/forward.ts'
import { compileRoutes } from './routes.ts'

const route = (path: string, extra: Partial<RouteConfig> = {}): RouteConfig => ({
  path,
  upstream: 'u',
  stripPrefix: false,
  websocket: true,
  cache: { enabled: false } as RouteConfig['cache'],
  plugins: [],
  ...extra,
})

describe('compileRoutes', () => {
  const routes = compileRoutes([
    route('/'),
    route('/api', { name: 'api' }),
    route('/api/v2/'),
    route('/api', { host: 'Admin.Example.com', name: 'admin-api' }),
    route('/ro', { methods: ['GET'] }),
  ])

  test('most specific first: longer prefixes, then host routes at equal length', () => {
    expect(routes.map((r) => r.name)).toEqual(['/api/v2/', 'admin-api', 'api', '/ro', '/'])
    expect(routes[1]!.host).toBe('admin.example.com')
  })

  test('methods: GET implies HEAD; the Allow value is precomputed', () => {
    const ro = routes.find((r) => r.name === '/ro')!
    expect([...ro.methods!]).toEqual(['GET', 'HEAD'])
    expect(ro.allow).toBe('GET, HEAD')
    expect(routes.at(-1)!.allow).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS')
  })
})

describe('upstreamPath', () => {
  const strip = { prefix: '/api', stripPrefix: true }
  const keep = { prefix: '/api', stripPrefix: false }
  test.each<[typeof strip, string, string]>([
    [strip, '/api/users', '/users'],
    [strip, '/api', '/'],
    [strip, '/api/', '/'],
    [keep, '/api/users', '/api/users'],
  ])('%#: %s → %s', (r, path, expected) => {
    expect(upstreamPath(r, path)).toBe(expected)
  })
})
