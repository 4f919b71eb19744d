/**
 * Targeted cache control (RFC 9213) with `cache.targets: [gateway, cdn]`: the first of our
 * fields present replaces Cache-Control and Expires. Gateway-Cache-Control is consumed;
 * CDN-Cache-Control, meant for every CDN on the path, is passed on. Without targets,
 * CDN-Cache-Control is someone else's: ignored.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'

let origin: Server<undefined>
let targeted: GatewayProcess
let plain: GatewayProcess
const hits = new Map<string, number>()

beforeAll(async () => {
  // Each query parameter becomes a response header: ?cache-control=no-store&cdn-cache-control=max-age%3D60
  origin = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const url = new URL(req.url)
      hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1)
      return new Response('body', { headers: Object.fromEntries(url.searchParams) })
    },
  })
  const config = (targets: string[]) => ({
    cache: { targets },
    upstreams: { origin: { targets: [`http://127.0.0.1:${origin.port}`] } },
    routes: [{ path: '/', upstream: 'origin', cache: { enabled: true } }],
  })
  ;[targeted, plain] = await Promise.all([startGateway(config(['gateway', 'cdn'])), startGateway(config([]))])
})

afterAll(async () => {
  for (const gw of [targeted, plain]) {
    expect(await gw.stop()).toBe(0)
    expectCleanOutput(gw.output())
  }
  origin.stop(true)
})

const twice = async (gw: GatewayProcess, path: string) => {
  const first = await fetch(gw.url(path))
  await first.arrayBuffer()
  return { first, second: await fetch(gw.url(path)) }
}
const q = (headers: Record<string, string>) => `?${new URLSearchParams(headers)}`

test('CDN-Cache-Control replaces Cache-Control and Expires, and is passed on for CDNs downstream', async () => {
  const { first, second } = await twice(targeted, `/t/cdn${q({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' })}`)
  expect(second.headers.get('x-cache-status')).toBe('HIT')
  for (const res of [first, second]) {
    expect(res.headers.get('cdn-cache-control')).toBe('max-age=600')
    expect(res.headers.get('cache-control')).toBe('no-store')
  }
  const expired = await twice(targeted, `/t/expires${q({ expires: 'Thu, 01 Jan 1970 00:00:00 GMT', 'cdn-cache-control': 'max-age=600' })}`)
  expect(expired.second.headers.get('x-cache-status')).toBe('HIT')
})

test('the first target wins: Gateway-Cache-Control: no-store over CDN-Cache-Control', async () => {
  const { first, second } = await twice(targeted, `/t/first${q({ 'gateway-cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' })}`)
  expect(second.headers.get('x-cache-status')).toBe('MISS')
  expect(hits.get('/t/first')).toBe(2)
})

test('Gateway-Cache-Control is for this gateway alone: consumed, on misses and hits', async () => {
  const { first, second } = await twice(targeted, `/t/ours${q({ 'gateway-cache-control': 'max-age=600', 'cache-control': 'no-cache' })}`)
  expect(second.headers.get('x-cache-status')).toBe('HIT')
  for (const res of [first, second]) {
    expect(res.headers.get('gateway-cache-control')).toBeNull()
    expect(res.headers.get('cache-control')).toBe('no-cache')
  }
})

test('an invalid targeted field is as if absent: Cache-Control decides', async () => {
  const { second } = await twice(targeted, `/t/invalid${q({ 'cdn-cache-control': 'max-age=600, &&&', 'cache-control': 'no-store' })}`)
  expect(second.headers.get('x-cache-status')).toBe('MISS')
})

test('without targets, CDN-Cache-Control is for a CDN further down: ignored, and passed on', async () => {
  const { first, second } = await twice(plain, `/p/cdn${q({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' })}`)
  expect(second.headers.get('x-cache-status')).toBe('MISS')
  expect(first.headers.get('cdn-cache-control')).toBe('max-age=600')
})
