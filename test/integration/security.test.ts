/**
 * The security review's findings (issue 9), each reproduced against a real gateway and a
 * recording upstream that shows what it was actually sent. Every test here failed on the
 * code before the fix.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { rawRequest, statusOf, bodyOf } from '../fixtures/raw.ts'

interface Seen {
  path: string
  headers: Record<string, string>
}

/**
 * An upstream that answers like the stacks behind real gateways: /cors varies on Origin,
 * /links builds links from X-Forwarded-Host, /proto redirects plain http to https,
 * /missing is a 404 without cache headers; anything else echoes its path.
 */
function startUpstream() {
  const seen: Seen[] = []
  const server: Server<undefined> = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    development: false,
    fetch(req) {
      const url = new URL(req.url)
      // The raw path: URL would resolve what the gateway forwarded.
      const path = req.url.slice(req.url.indexOf('/', 8)).split('?')[0]!
      seen.push({ path, headers: Object.fromEntries(req.headers) })
      const cacheable = { 'cache-control': 'max-age=60' }
      switch (url.pathname) {
        case '/cors': {
          const origin = req.headers.get('origin')
          const headers: Record<string, string> = { ...cacheable, vary: 'Origin' }
          if (origin === 'https://app.example') headers['access-control-allow-origin'] = origin
          return new Response('cors', { headers })
        }
        case '/links':
          return new Response(`https://${req.headers.get('x-forwarded-host')}/next`, { headers: cacheable })
        case '/proto':
          return req.headers.get('x-forwarded-proto') === 'https'
            ? new Response('secure page', { headers: cacheable })
            : new Response(null, { status: 301, headers: { ...cacheable, location: 'https://gw.example/proto' } })
        case '/missing':
          return new Response('not here', { status: 404 })
        default:
          return Response.json({ path }, { headers: url.pathname.startsWith('/c/') ? cacheable : {} })
      }
    },
  })
  return { server, seen, origin: `http://127.0.0.1:${server.port}`, count: (path: string) => seen.filter((s) => s.path === path).length }
}

const ADMIN_TOKEN = 'a-long-admin-token-0123456789'

let upstream: ReturnType<typeof startUpstream>
let gw: GatewayProcess
let trusting: GatewayProcess
let decoding: GatewayProcess
let rejecting: GatewayProcess

const cached = (path: string, cache: Record<string, unknown> = {}) => ({ path, upstream: 'app', cache: { enabled: true, ...cache } })

beforeAll(async () => {
  upstream = startUpstream()
  const upstreams = { app: { targets: [upstream.origin] }, based: { targets: [`${upstream.origin}/base`] } }
  ;[gw, trusting, decoding, rejecting] = await Promise.all([
    startGateway({
      upstreams,
      admin: { bearerToken: ADMIN_TOKEN },
      routes: [
        { path: '/public', upstream: 'app' },
        { path: '/public/admin', upstream: 'app', methods: ['GET'] },
        { path: '/strip', upstream: 'based', stripPrefix: true },
        cached('/cors'),
        cached('/missing', { mode: 'override' }),
        cached('/c/shield', { clientNoCache: 'ignore' }),
        cached('/c'),
      ],
    }),
    startGateway({
      upstreams,
      server: { trustedProxies: ['127.0.0.0/8'] },
      routes: [cached('/links'), cached('/proto')],
    }),
    startGateway({ upstreams, server: { escapedSlashes: 'decode' }, routes: [{ path: '/public', upstream: 'app' }] }),
    startGateway({ upstreams, server: { underscoresInHeaders: 'reject' }, routes: [{ path: '/', upstream: 'app' }] }),
  ])
})

beforeEach(() => {
  upstream.seen.length = 0
})

afterAll(async () => {
  for (const g of [gw, trusting, decoding, rejecting]) {
    expect(await g.stop()).toBe(0)
    expectCleanOutput(g.output())
  }
  upstream.server.stop(true)
})

/** One raw request (the path exactly as written), answered and closed. */
function raw(g: GatewayProcess, method: string, path: string, headers: string[] = []) {
  return rawRequest(g.port, [`${method} ${path} HTTP/1.1`, 'Host: gw.example', ...headers, 'Connection: close', '', ''].join('\r\n'))
}

describe('high: encoded separators cannot escape a route', () => {
  test.each([
    '/public/..%2Finternal/secret',
    '/public/..%2finternal/secret',
    '/public/%2e%2e%2finternal/secret',
    '/public/%2E%2E%2Finternal/secret',
    '/public/..%5Cinternal/secret',
    '/strip/..%2F..%2Finternal/secret',
  ])('%s → 400, nothing forwarded', async (path) => {
    const reply = await raw(gw, 'GET', path)
    expect(statusOf(reply)).toBe(400)
    expect(bodyOf(reply)).toMatch(/^\{"error":"bad_request","status":400,"requestId":"[0-9a-f-]{36}"\}$/)
    expect(upstream.seen).toHaveLength(0)
  })

  test('escapedSlashes: decode routes the decoded path: /internal/secret is no route → 404', async () => {
    expect(statusOf(await raw(decoding, 'GET', '/public/..%2Finternal/secret'))).toBe(404)
    expect(statusOf(await raw(decoding, 'GET', '/public/a%2Fb'))).toBe(200)
    expect(upstream.seen.map((s) => s.path)).toEqual(['/public/a/b'])
  })
})

describe("medium: a more specific route's rules cannot be skipped", () => {
  test.each(['/public//admin/x', '/public/%61dmin/x', '/public/%61%64min/x', '//public/admin/x'])(
    'DELETE %s → 405 like DELETE /public/admin/x',
    async (path) => {
      const reply = await raw(gw, 'DELETE', path)
      expect(statusOf(reply)).toBe(405)
      expect(reply).toContain('allow: GET, HEAD')
      expect(upstream.seen).toHaveLength(0)
    }
  )

  test('GET of those spellings reaches the upstream as the one normalised path', async () => {
    for (const path of ['/public//admin/x', '/public/%61dmin/x', '/public/./admin/%2e/x']) {
      expect(statusOf(await raw(gw, 'GET', path))).toBe(200)
    }
    expect(upstream.seen.map((s) => s.path)).toEqual(['/public/admin/x', '/public/admin/x', '/public/admin/x'])
  })

  test('the health path cannot be reached around the router, nor the router around it', async () => {
    const reply = await raw(gw, 'GET', '/heal%74h')
    expect(bodyOf(reply)).toBe('{"status":"ok"}')
    expect(upstream.seen).toHaveLength(0)
  })
})

describe('medium: the cache key is made of what is sent upstream', () => {
  test('Connection: origin cannot store an answer for real users of that origin', async () => {
    const poison = await raw(gw, 'GET', '/cors', ['Origin: https://app.example', 'Connection: origin'])
    expect(statusOf(poison)).toBe(200)
    expect(upstream.seen[0]!.headers.origin).toBeUndefined()
    const victim = await raw(gw, 'GET', '/cors', ['Origin: https://app.example'])
    expect(victim.toLowerCase()).toContain('access-control-allow-origin: https://app.example')
  })

  test('a trusted X-Forwarded-Host is part of the key', async () => {
    const evil = await raw(trusting, 'GET', '/links', ['X-Forwarded-Host: evil.example'])
    expect(bodyOf(evil)).toBe('https://evil.example/next')
    const good = await raw(trusting, 'GET', '/links', ['X-Forwarded-Host: good.example'])
    expect(bodyOf(good)).toBe('https://good.example/next')
    expect(upstream.count('/links')).toBe(2)
  })

  test('an X-Forwarded-Proto stripped by Connection does not key the answer as https', async () => {
    const stripped = await raw(trusting, 'GET', '/proto', ['X-Forwarded-Proto: https', 'Connection: x-forwarded-proto'])
    expect(statusOf(stripped)).toBe(301)
    const secure = await raw(trusting, 'GET', '/proto', ['X-Forwarded-Proto: https'])
    expect(statusOf(secure)).toBe(200)
    expect(bodyOf(secure)).toBe('secure page')
  })
})

describe('medium: spoofable header spellings do not pass', () => {
  test('X_Forwarded_For and other "_" names are dropped by default', async () => {
    const reply = await raw(gw, 'GET', '/public/u', ['X_Forwarded_For: 6.6.6.6', 'X-Api_Key: k', 'X-Fine: 1'])
    expect(statusOf(reply)).toBe(200)
    const headers = upstream.seen[0]!.headers
    expect(headers.x_forwarded_for).toBeUndefined()
    expect(headers['x-api_key']).toBeUndefined()
    expect(headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(headers['x-fine']).toBe('1')
  })

  test('underscoresInHeaders: reject answers 400 and forwards nothing', async () => {
    expect(statusOf(await raw(rejecting, 'GET', '/u', ['X_Forwarded_For: 6.6.6.6']))).toBe(400)
    expect(statusOf(await raw(rejecting, 'GET', '/u', ['X-Fine: 1']))).toBe(200)
    expect(upstream.seen).toHaveLength(1)
  })

  test('client-address, scheme and host claims and method overrides from an untrusted peer are stripped', async () => {
    const names = [
      'X-Forwarded-Scheme',
      'X-Forwarded-Ssl',
      'X-Original-Host',
      'X-Host',
      'X-HTTP-Method-Override',
      'True-Client-IP',
      'CF-Connecting-IP',
      'X-Cluster-Client-IP',
    ]
    const reply = await raw(gw, 'GET', '/public/spoof', names.map((n) => `${n}: spoofed`))
    expect(statusOf(reply)).toBe(200)
    const headers = upstream.seen[0]!.headers
    for (const name of names) expect([name, headers[name.toLowerCase()]]).toEqual([name, undefined])
  })
})

describe('low and info', () => {
  test('override mode does not store an error the origin never marked cacheable', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await fetch(gw.url('/missing'))
      expect(res.status).toBe(404)
      expect(res.headers.get('x-cache-status')).toBe('MISS')
      await res.text()
    }
    expect(upstream.count('/missing')).toBe(2)
  })

  test('clientNoCache: ignore keeps no-cache and Pragma clients from reaching the upstream', async () => {
    const statuses: (string | null)[] = []
    const variants: Record<string, string>[] = [
      {},
      { 'cache-control': 'no-cache' },
      { 'cache-control': 'max-age=0' },
      { pragma: 'no-cache' },
      { 'cache-control': 'no-store' },
    ]
    for (const headers of variants) {
      const res = await fetch(gw.url('/c/shield'), { headers })
      await res.text()
      statuses.push(res.headers.get('x-cache-status'))
    }
    expect(statuses).toEqual(['MISS', 'HIT', 'HIT', 'HIT', 'HIT'])
    expect(upstream.count('/c/shield')).toBe(1)
  })

  test('the default honours a client no-cache (RFC 9111 §5.2.1.4)', async () => {
    await (await fetch(gw.url('/c/honour'))).text()
    const res = await fetch(gw.url('/c/honour'), { headers: { 'cache-control': 'no-cache' } })
    await res.text()
    expect(res.headers.get('x-cache-status')).not.toBe('HIT')
    expect(upstream.count('/c/honour')).toBe(2)
  })

  test('a fragment is neither forwarded nor part of the cache key', async () => {
    const first = await raw(gw, 'GET', '/c/frag#one')
    const second = await raw(gw, 'GET', '/c/frag#two')
    expect(first).toContain('x-cache-status: MISS')
    expect(second).toContain('x-cache-status: HIT')
    expect(upstream.seen.map((s) => s.path)).toEqual(['/c/frag'])
  })
})

describe('admin', () => {
  const purge = (headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${gw.adminPort}/cache/purge?prefix=/c`, { method: 'POST', headers })

  test('purge wants the admin bearer token when one is set', async () => {
    const refused = await purge()
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('Bearer')
    expect((await purge({ authorization: 'Bearer wrong' })).status).toBe(401)
    const done = await purge({ authorization: `Bearer ${ADMIN_TOKEN}` })
    expect(done.status).toBe(200)
    expect(await done.json()).toMatchObject({ workers: 1 })
  })

  test('a foreign Host (DNS rebinding) or a cross-site Origin is refused, even with the token', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const viaHost = await rawRequest(
      gw.adminPort,
      `POST /cache/purge?prefix=/c HTTP/1.1\r\nHost: rebind.attacker.example\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`
    )
    expect(statusOf(viaHost)).toBe(403)
    expect((await purge({ ...auth, origin: 'https://evil.example' })).status).toBe(403)
    const health = await rawRequest(gw.adminPort, 'GET /health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n')
    expect(statusOf(health)).toBe(403)
    const local = await rawRequest(gw.adminPort, `GET /health HTTP/1.1\r\nHost: localhost:${gw.adminPort}\r\nConnection: close\r\n\r\n`)
    expect(statusOf(local)).toBe(200)
  })
})
