/**
 * routes[].split on a real gateway and real upstreams: a weighted share, the header, cookie
 * and query matches, stickiness by a header, the access log naming the upstream chosen, and
 * the cache keeping each upstream's answers apart.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { events, expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'

/** An upstream that answers its own name, cacheable for a minute. */
function named(name: string) {
  const seen: string[] = []
  const server: Server<undefined> = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      seen.push(new URL(req.url).pathname)
      return new Response(name, { headers: { 'x-upstream': name, 'cache-control': 'max-age=60' } })
    },
  })
  return { name, server, seen, origin: `http://127.0.0.1:${server.port}` }
}

const stable = named('stable')
const canary = named('canary')
const beta = named('beta')
let gw: GatewayProcess

beforeAll(async () => {
  gw = await startGateway({
    log: { access: true },
    upstreams: Object.fromEntries([stable, canary, beta].map((u) => [u.name, { targets: [u.origin] }])),
    routes: [
      { name: 'weighted', path: '/weighted', split: [{ upstream: 'stable', weight: 80 }, { upstream: 'canary', weight: 20 }] },
      {
        name: 'matched',
        path: '/matched',
        split: [
          { upstream: 'canary', match: { headers: { 'X-Canary': '1' } } },
          { upstream: 'beta', match: { cookies: { channel: 'beta' } } },
          { upstream: 'canary', match: { query: { version: 'next one' } } },
          { upstream: 'stable' },
        ],
      },
      { name: 'sticky', path: '/sticky', splitStickyOn: 'header:x-user-id', split: [{ upstream: 'stable' }, { upstream: 'canary' }] },
      { name: 'cached', path: '/cached', cache: { enabled: true }, split: [{ upstream: 'canary', match: { headers: { 'x-canary': '1' } } }, { upstream: 'stable' }] },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  for (const u of [stable, canary, beta]) u.server.stop(true)
  expectCleanOutput(gw.output())
})

const answeredBy = async (path: string, init?: RequestInit) => {
  const res = await fetch(gw.url(path), init)
  expect(res.status).toBe(200)
  return res.text()
}

test('a weighted split sends each upstream its share (80/20 over 1000 requests, within 6 standard deviations)', async () => {
  const counts: Record<string, number> = { stable: 0, canary: 0 }
  for (let batch = 0; batch < 20; batch++) {
    const names = await Promise.all(Array.from({ length: 50 }, () => answeredBy('/weighted/x')))
    for (const name of names) counts[name]!++
  }
  expect(counts.stable! + counts.canary!).toBe(1000)
  // Binomial(1000, 0.2): mean 200, sd 12.6; [124, 276] is 6 sd either side.
  expect(counts.canary!).toBeGreaterThanOrEqual(124)
  expect(counts.canary!).toBeLessThanOrEqual(276)
})

test('a header, a cookie or a query parameter picks its entry; the first match wins; the rest go to the default', async () => {
  expect(await answeredBy('/matched/a', { headers: { 'x-canary': '1' } })).toBe('canary')
  expect(await answeredBy('/matched/a', { headers: { 'x-canary': '2' } })).toBe('stable')
  expect(await answeredBy('/matched/a', { headers: { cookie: 'a=1; channel=beta; b=2' } })).toBe('beta')
  expect(await answeredBy('/matched/a', { headers: { cookie: 'xchannel=beta' } })).toBe('stable')
  // Both match: the header's entry comes first.
  expect(await answeredBy('/matched/a', { headers: { 'x-canary': '1', cookie: 'channel=beta' } })).toBe('canary')
  expect(await answeredBy('/matched/a?version=next%20one')).toBe('canary')
  expect(await answeredBy('/matched/a?version=next')).toBe('stable')
  expect(await answeredBy('/matched/a')).toBe('stable')
})

test('a sticky split sends one user to one upstream, and the users over both', async () => {
  const landed = new Map<string, Set<string>>()
  for (let user = 0; user < 20; user++) {
    const id = `user-${user}`
    const names = await Promise.all(Array.from({ length: 5 }, () => answeredBy('/sticky/x', { headers: { 'x-user-id': id } })))
    landed.set(id, new Set(names))
  }
  for (const names of landed.values()) expect(names.size).toBe(1)
  const used = new Set([...landed.values()].flatMap((names) => [...names]))
  expect(used).toEqual(new Set(['stable', 'canary']))
})

test('the access log names the upstream the split chose', async () => {
  const res = await fetch(gw.url('/matched/logged'), { headers: { 'x-canary': '1' } })
  expect(await res.text()).toBe('canary')
  const id = res.headers.get('x-request-id')!
  const find = () => events(gw.output(), 'access').find((line) => line.requestId === id)
  await waitFor(() => find() !== undefined, 5000, 'the access line')
  expect(find()).toMatchObject({ route: 'matched', upstream: 'canary', upstreamStatus: 200 })
})

test("the cache keeps each upstream's answers apart: a canary answer is never served to a stable request", async () => {
  expect(await answeredBy('/cached/page', { headers: { 'x-canary': '1' } })).toBe('canary')
  expect(await answeredBy('/cached/page')).toBe('stable')
  // Both now hit, each its own variant.
  expect(await answeredBy('/cached/page', { headers: { 'x-canary': '1' } })).toBe('canary')
  expect(await answeredBy('/cached/page')).toBe('stable')
  expect(canary.seen.filter((p) => p === '/cached/page')).toHaveLength(1)
  expect(stable.seen.filter((p) => p === '/cached/page')).toHaveLength(1)
})
