import { expect, test } from 'bun:test'
import { validateConfig } from './load.ts'
import { shareEqualParts } from './share.ts'

test('equal parts of routes are one object; different ones stay apart; nothing else changes', () => {
  const result = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    routes: [
      { path: '/a', upstream: 'u', methods: ['GET'] },
      { path: '/b', upstream: 'u', methods: ['GET'] },
      { path: '/c', upstream: 'u', methods: ['POST'], cache: { enabled: true } },
    ],
  })
  if (!result.ok) throw new Error(result.errors.join('\n'))
  const routes = result.config.routes
  const [a, b, c] = shareEqualParts(routes)
  expect(a!.cache).toBe(b!.cache)
  expect(a!.methods).toBe(b!.methods)
  expect(c!.cache).not.toBe(a!.cache)
  expect(c!.methods).toEqual(['POST'])
  expect([a, b, c]).toEqual(routes as never)
})
