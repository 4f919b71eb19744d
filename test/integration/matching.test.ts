import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectCleanOutput, spawnMain, startGateway, writeConfig, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let stable: RecordingUpstream
let canary: RecordingUpstream
let beta: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  stable = startRecordingUpstream()
  canary = startRecordingUpstream()
  beta = startRecordingUpstream()
  gw = await startGateway({
    upstreams: { stable: { targets: [stable.origin] }, canary: { targets: [canary.origin] }, beta: { targets: [beta.origin] } },
    routes: [
      { path: '/api', upstream: 'stable' },
      { path: '/api', upstream: 'canary', match: { headers: { 'X-Canary': '1' } } },
      { path: '/api', upstream: 'beta', match: { query: { beta: 'yes' } } },
      // More matchers first: both the header and the query.
      { path: '/api', upstream: 'beta', match: { headers: { 'x-canary': '1' }, query: { beta: 'yes' } }, name: 'both' },
      { path: '/api/status', upstream: 'canary', match: { exact: true } },
      { path: '/old', redirect: { to: '/new$query', status: 301 } },
      { path: '/moved', rewrite: { pattern: '/moved/*/**', to: '/v2/$1/$2' }, redirect: { to: 'https://new.example$path', status: 308 } },
      { path: '/users', upstream: 'stable', rewrite: { pattern: '/users/*/posts/*', to: '/posts/$2/by/$1' } },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  for (const u of [stable, canary, beta]) u.stop()
  expectCleanOutput(gw.output())
})

/** Which upstream got `path` (with `init`). */
async function who(path: string, init: RequestInit = {}) {
  const counts = [stable, canary, beta].map((u) => u.requests.length)
  const res = await fetch(gw.url(path), init)
  await res.text()
  const index = [stable, canary, beta].findIndex((u, i) => u.requests.length > counts[i]!)
  return ['stable', 'canary', 'beta'][index] ?? `none (${res.status})`
}

describe('matching', () => {
  test('header and query matchers pick different upstreams on one path', async () => {
    expect(await who('/api/x')).toBe('stable')
    expect(await who('/api/x', { headers: { 'x-canary': '1' } })).toBe('canary')
    // A header value is compared exactly.
    expect(await who('/api/x', { headers: { 'x-canary': '2' } })).toBe('stable')
    expect(await who('/api/x?beta=yes')).toBe('beta')
    expect(await who('/api/x?beta=no')).toBe('stable')
  })

  test('the route with more matchers wins; config order breaks ties', async () => {
    expect(await who('/api/x?beta=yes', { headers: { 'x-canary': '1' } })).toBe('beta')
  })

  test('an exact route takes only its path, not its subpaths', async () => {
    expect(await who('/api/status')).toBe('canary')
    expect(await who('/api/status/')).toBe('canary')
    expect(await who('/api/status/deep')).toBe('stable')
  })
})

describe('redirects and rewrites', () => {
  test('a redirect answers itself with its status and Location', async () => {
    const res = await fetch(gw.url('/old/x?a=1'), { redirect: 'manual' })
    expect(res.status).toBe(301)
    expect(res.headers.get('location')).toBe('/new?a=1')
  })

  test('a redirect with a rewrite uses its captures; unmatched paths find no upstream', async () => {
    const res = await fetch(gw.url('/moved/a/b/c'), { redirect: 'manual' })
    expect(res.status).toBe(308)
    expect(res.headers.get('location')).toBe('https://new.example/v2/a/b/c')
    expect((await fetch(gw.url('/moved'), { redirect: 'manual' })).status).toBe(404)
  })

  test('a rewrite with captures reaches the upstream; the query as received', async () => {
    expect(await who('/users/7/posts/9?x=1')).toBe('stable')
    expect(stable.requests.at(-1)!.path).toBe('/posts/9/by/7')
    expect(stable.requests.at(-1)!.query).toBe('?x=1')
    // A path the pattern does not match goes on unchanged.
    expect(await who('/users/7')).toBe('stable')
    expect(stable.requests.at(-1)!.path).toBe('/users/7')
  })
})

async function refused(config: unknown) {
  const { proc, output } = spawnMain(['--config', writeConfig(config)])
  const code = await proc.exited
  await output.ended
  return { code, text: output() }
}

describe('load checks', () => {
  const upstreams = { u: { targets: ['http://127.0.0.1:9'] } }
  test('a catastrophic regex is refused at load, naming the field', async () => {
    const { code, text } = await refused({ upstreams, routes: [{ path: '/a', upstream: 'u', rewrite: { pattern: '/(a+)+$', to: '/b' } }] })
    expect(code).toBe(2)
    expect(text).toContain('routes[0].rewrite.pattern: "(" is regex syntax')
  })

  test('two routes with the same path, host and matchers exit 2 naming both', async () => {
    const match = { headers: { 'x-a': '1' } }
    const { code, text } = await refused({ upstreams, routes: [{ path: '/a', upstream: 'u', match }, { path: '/a/', upstream: 'u', match: { headers: { 'X-A': '1' } } }] })
    expect(code).toBe(2)
    expect(text).toContain('routes[1].path: duplicate of routes[0] (same host and path and match)')
  })

  test('a route without upstream needs a redirect; a Location with CR/LF is refused', async () => {
    const { code, text } = await refused({ upstreams, routes: [{ path: '/a' }, { path: '/b', redirect: { to: '/x\r\nSet-Cookie: a=1' } }] })
    expect(code).toBe(2)
    expect(text).toContain('routes[0].upstream: required')
    expect(text).toContain('routes[1].redirect.to: must not contain spaces, control characters')
  })
})
