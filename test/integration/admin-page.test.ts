/**
 * The admin page's JSON (GET /status.json) and its access rules, without a browser: a real
 * gateway with two workers and an admin token, two real upstreams, the login form's POST,
 * the session cookie, and a reload recorded. test/integration/admin-page-browser.test.ts
 * drives the page itself in Chromium.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { events, expectCleanOutput, liveWorkerPids, spawnMain, startGateway, waitFor, writeConfig, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const TOKEN = 'the-admin-token-0123456789abcdef'
const BEARER = { authorization: `Bearer ${TOKEN}` }
let a: RecordingUpstream
let b: RecordingUpstream
let gw: GatewayProcess
let dir: string
const admin = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${gw.adminPort}${path}`, { redirect: 'manual', ...init })
const status = async (headers: Record<string, string> = BEARER) => (await admin('/status.json', { headers })).json() as Promise<Record<string, any>>
const login = (token: string, headers: Record<string, string> = {}) =>
  admin('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token }) })

beforeAll(async () => {
  a = startRecordingUpstream()
  b = startRecordingUpstream()
  dir = mkdtempSync(join(tmpdir(), 'gw-admin-page-'))
  gw = await startGateway(
    {
      server: { workers: 2 },
      admin: { bearerToken: TOKEN },
      upstreams: { app: { targets: [a.origin, b.origin], healthCheck: { path: '/health', intervalSeconds: 1 } }, other: { targets: [a.origin] } },
      routes: [
        { name: 'api', path: '/api', upstream: 'app' },
        { path: '/other', upstream: 'other' },
      ],
    },
    {},
    { dir }
  )
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  a.stop()
  b.stop()
  expectCleanOutput(gw.output())
})

describe('GET /status.json', () => {
  test('counts a route\'s requests, lists both workers with their RSS, and the targets\' health', async () => {
    const before = await status()
    const api = () => before.routes.find((r: { name: string }) => r.name === 'api')
    expect(api()).toMatchObject({ name: 'api', path: '/api', host: null, upstream: 'app' })
    for (let i = 0; i < 12; i++) expect((await fetch(gw.url(`/api/${i}`))).status).toBe(200)
    expect((await fetch(gw.url('/nowhere'))).status).toBe(404)
    const after = await status()
    expect(after).toMatchObject({ version: expect.any(String), mode: 'workers', metrics: true, auth: true, restarts: { crash: 0, recycle: 0, reload: 0 } })
    expect(after.time).toBeGreaterThanOrEqual(before.time)
    const route = after.routes.find((r: { name: string }) => r.name === 'api')
    expect(route.requests - api().requests).toBe(12)
    expect(route.errors).toBe(0)
    expect(route.latency).toHaveLength(after.latencyBuckets.length + 1)
    expect(route.latency.at(-1)).toBe(route.requests)
    expect(after.routes.map((r: { name: string }) => r.name)).toEqual(['api', '/other', '(none)'])
    expect(after.routes.find((r: { name: string }) => r.name === '(none)')).toMatchObject({ path: null, requests: 1 })

    const pids = liveWorkerPids(gw.output())
    expect(after.workers.map((w: { pid: number }) => w.pid).sort()).toEqual([...pids].sort())
    for (const w of after.workers) {
      expect(w).toMatchObject({ generation: 1, state: 'listening', reason: 'start' })
      expect(w.rssBytes).toBeGreaterThan(10 * 1024 * 1024)
    }
    expect(after.workers.reduce((sum: number, w: { requests: number }) => sum + w.requests, 0)).toBeGreaterThanOrEqual(13)

    const [app, other] = after.upstreams
    expect(app).toMatchObject({ name: 'app', healthCheck: true, breaker: ['closed', 'closed'] })
    expect(app.targets.map((t: { url: string; health: string }) => [t.url, t.health])).toEqual([
      [a.origin, 'healthy'],
      [b.origin, 'healthy'],
    ])
    expect(other).toMatchObject({ name: 'other', healthCheck: false })
    expect(other.targets[0].health).toBe('unknown')
    expect(after.cache).toEqual({ results: {}, entries: 0, bytes: 0, evictions: 0, shared: after.cache.shared })
  })

  test('wants the token: refused without it or with a wrong one, as JSON that cannot be sniffed', async () => {
    const forged = { cookie: `gateway_admin=${Math.floor(Date.now() / 1000) + 3600}.${'A'.repeat(43)}` }
    for (const headers of <Record<string, string>[]>[{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }, forged, { cookie: `gateway_admin=${TOKEN}` }]) {
      const res = await admin('/status.json', { headers })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toContain('Bearer')
      expect(await res.json()).toMatchObject({ error: 'unauthorized' })
    }
    const ok = await admin('/status.json', { headers: BEARER })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toBe('application/json')
    expect(ok.headers.get('cache-control')).toBe('no-store')
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff')
  })
})

describe('GET / and the login form', () => {
  test('without credentials: 401 and the login form, which holds no data and posts to /login', async () => {
    expect((await admin('/', { headers: { cookie: `gateway_admin=${Math.floor(Date.now() / 1000) + 60}.forged` } })).status).toBe(401)
    const res = await admin('/')
    expect(res.status).toBe(401)
    const html = await res.text()
    expect(html).toContain('<form method="post" action="/login">')
    expect(html).not.toContain('<script')
    expect(html).not.toContain(a.origin)
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
  })

  test('a wrong token gets the form again; the right one a session cookie that carries no token', async () => {
    const wrong = await login('not-the-admin-token-0000000')
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()
    expect(await wrong.text()).toContain('not the admin token')

    const right = await login(TOKEN)
    expect(right.status).toBe(303)
    expect(right.headers.get('location')).toBe('/')
    expect(right.headers.get('cache-control')).toBe('no-store')
    const setCookie = right.headers.get('set-cookie')!
    expect(setCookie).toMatch(/^gateway_admin=\d+\.[\w-]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/)
    expect(setCookie).not.toContain(TOKEN)
    const cookie = { cookie: setCookie.split(';')[0]! }

    const page = await admin('/', { headers: cookie })
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).not.toContain(TOKEN)
    expect((await admin('/status.json', { headers: cookie })).status).toBe(200)
    // The cookie opens the page and its JSON only.
    expect((await admin('/metrics', { headers: cookie })).status).toBe(401)
    expect((await admin('/upstreams', { headers: cookie })).status).toBe(401)
    expect((await admin('/cache/purge?prefix=/', { method: 'POST', headers: cookie })).status).toBe(401)

    const out = await admin('/logout', { method: 'POST', headers: cookie })
    expect(out.status).toBe(303)
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0')
  })

  test('a login from a page of another origin is refused before the token is looked at', async () => {
    const res = await login(TOKEN, { origin: 'http://evil.example' })
    expect(res.status).toBe(403)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect((await admin('/login')).status).toBe(405)
    expect((await admin('/login', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `token=${TOKEN}` })).status).toBe(400)
  })

  test('the page: strict CSP whose hashes are its own inline script and style, no caching, no framing', async () => {
    const res = await admin('/', { headers: BEARER })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('x-frame-options')).toBe('DENY')
    const csp = res.headers.get('content-security-policy')!
    const html = await res.text()
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!
    expect(csp.split('; ')).toEqual([
      "default-src 'none'",
      `script-src ${hash(script)}`,
      `style-src ${hash(style)}`,
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ])
    // Nothing loaded from elsewhere; values (route names, URLs, errors) go in as text, never parsed as markup.
    expect(html).not.toMatch(/\s(src|href)=/)
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/)
  })
})

test('reloads are listed newest first: a rejected config with its error, then one that applied', async () => {
  const path = join(dir, 'gateway.json')
  const good = JSON.parse(readFileSync(path, 'utf8'))
  writeFileSync(path, JSON.stringify({ ...good, routes: [{ path: 'no-slash', upstream: 'app' }] }))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_rejected').length === 1, 8000, 'the rejected reload')
  writeFileSync(path, JSON.stringify(good))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_complete').length === 1, 15_000, 'the reload')
  const after = await status()
  expect(after.reloads).toHaveLength(2)
  expect(after.reloads[0]).toMatchObject({ ok: true, error: null })
  expect(after.reloads[1]).toMatchObject({ ok: false })
  expect(after.reloads[1].error).toContain('routes[0].path: must start with')
  expect(after.reloads[0].time).toBeGreaterThanOrEqual(after.reloads[1].time)
  expect(after.restarts).toEqual({ crash: 0, recycle: 0, reload: 2 })
  await waitFor(async () => (await status()).workers.every((w: { generation: number }) => w.generation === 2), 8000, 'the old generation to exit')
  expect((await status()).workers.map((w: { reason: string }) => w.reason)).toEqual(['reload', 'reload'])
})

test('single-process mode: one worker, this process, with its RSS and requests; no reloads', async () => {
  const single = spawnMain(['--single-process', '--config', writeConfig({ server: { host: '127.0.0.1', port: 0 }, admin: { port: 0 }, upstreams: { app: { targets: [a.origin] } }, routes: [{ path: '/s', upstream: 'app' }] })])
  try {
    await waitFor(() => events(single.output(), 'listening').length === 1, 10_000, 'listening')
    const { port, adminPort } = events(single.output(), 'listening')[0]!
    expect((await fetch(`http://127.0.0.1:${port}/s/1`)).status).toBe(200)
    const res = await fetch(`http://127.0.0.1:${adminPort}/status.json`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, any>
    expect(body).toMatchObject({ mode: 'single-process', auth: false, reloads: [], restarts: { crash: 0, recycle: 0, reload: 0 } })
    expect(body.workers).toHaveLength(1)
    expect(body.workers[0]).toMatchObject({ pid: single.proc.pid, state: 'listening', requests: 1 })
    expect(body.workers[0].rssBytes).toBeGreaterThan(10 * 1024 * 1024)
    expect(body.routes[0]).toMatchObject({ name: '/s', requests: 1 })
    expect((await fetch(`http://127.0.0.1:${adminPort}/`)).status).toBe(200)
  } finally {
    single.proc.kill('SIGTERM')
    await single.proc.exited
  }
})
