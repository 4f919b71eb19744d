import { describe, expect, test } from 'bun:test'
import { createApp } from './app.ts'
import { validateConfig } from './config/load.ts'
import { silentLogger } from './log.ts'
import { createUpstreamRegistry } from './upstream/registry.ts'

/** An app with no sockets: the upstream is never reached by these requests. */
function app(extra: Record<string, unknown> = {}) {
  const result = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    routes: [{ path: '/api', upstream: 'u', methods: ['GET'] }],
    ...extra,
  })
  if (!result.ok) throw new Error(result.errors.join('\n'))
  return createApp({ config: result.config, upstreams: createUpstreamRegistry(result.config.upstreams), log: silentLogger })
}

const ERROR_BODY = /^\{"error":"[a-z_]+","status":\d{3},"requestId":"[0-9a-f-]{36}"\}$/

describe('gateway-made responses', () => {
  test('unknown route → 404 JSON with a request id', async () => {
    const res = await app().request('http://gw.example/nowhere')
    expect(res.status).toBe(404)
    const text = await res.text()
    expect(text).toMatch(ERROR_BODY)
    expect(JSON.parse(text).requestId).toBe(res.headers.get('x-request-id')!)
  })

  test('unlisted method → 405 with Allow', async () => {
    const res = await app().request('http://gw.example/api/x', { method: 'POST' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
  })

  test('health answers on the configured path, GET and HEAD only', async () => {
    const gw = app({ server: { healthPath: '/healthz' } })
    expect((await gw.request('http://gw.example/healthz')).status).toBe(200)
    expect((await gw.request('http://gw.example/healthz', { method: 'HEAD' })).status).toBe(200)
    expect((await gw.request('http://gw.example/healthz', { method: 'POST' })).status).toBe(405)
    expect((await gw.request('http://gw.example/health')).status).toBe(404)
  })

  test('without a trusted peer, a client-sent request id is replaced', async () => {
    const res = await app().request('http://gw.example/nowhere', { headers: { 'x-request-id': 'mine' } })
    expect(res.headers.get('x-request-id')).not.toBe('mine')
  })

  test('guard rejections are JSON and close the connection', async () => {
    const res = await app().request('http://gw.example/a%zz')
    expect(res.status).toBe(400)
    expect(res.headers.get('connection')).toBe('close')
    expect(await res.text()).toMatch(ERROR_BODY)
  })
})
