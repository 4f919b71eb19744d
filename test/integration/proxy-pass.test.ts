import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { rawRequest, statusOf } from '../fixtures/raw.ts'
import { GZIP_TEXT, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let other: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  other = startRecordingUpstream()
  gw = await startGateway({
    upstreams: {
      app: { targets: [upstream.origin] },
      other: { targets: [`${other.origin}/base/`] },
    },
    routes: [
      { path: '/api', upstream: 'app', stripPrefix: true },
      { path: '/api/v2', upstream: 'other' },
      { path: '/readonly', upstream: 'app', methods: ['GET'] },
      { path: '/hosted', upstream: 'other', host: 'API.example.com' },
      { path: '/', upstream: 'app' },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  other.stop()
  expectCleanOutput(gw.output())
})

const last = (u: RecordingUpstream) => u.requests.at(-1)!

describe('proxy pass', () => {
  test('forwards the normalised path and the query as received, with the upstream answer', async () => {
    const res = await fetch(gw.url('/plain/caf%C3%A9/a%20b/c?x=1&y=%20z&x=2'))
    expect(res.status).toBe(200)
    expect(res.headers.get('x-upstream')).toBe('recording')
    expect(last(upstream).path).toBe('/plain/caf%C3%A9/a%20b/c')
    expect(last(upstream).query).toBe('?x=1&y=%20z&x=2')
  })

  test('strips the route prefix when configured', async () => {
    await (await fetch(gw.url('/api/users/7?q=1'))).text()
    expect(last(upstream).path).toBe('/users/7')
    expect(last(upstream).query).toBe('?q=1')
    await (await fetch(gw.url('/api'))).text()
    expect(last(upstream).path).toBe('/')
  })

  test('the longest prefix wins, on whole segments, and a target base path is kept', async () => {
    await (await fetch(gw.url('/api/v2/items'))).text()
    expect(last(other).path).toBe('/base/api/v2/items')
    await (await fetch(gw.url('/api/v20'))).text()
    expect(last(upstream).path).toBe('/v20')
  })

  test('dot segments are resolved before matching, so they cannot climb out of a route', async () => {
    const before = other.requests.length
    await (await fetch(gw.url('/api/v2/../../hosted/x'))).text()
    expect(other.requests.length).toBe(before)
    expect(last(upstream).path).toBe('/hosted/x')
  })

  test('host routes match on Host, case-insensitively and without port', async () => {
    const res = await fetch(gw.url('/hosted/x'), { headers: { host: 'api.EXAMPLE.com:8443' } })
    await res.text()
    expect(last(other).path).toBe('/base/hosted/x')
    await (await fetch(gw.url('/hosted/y'))).text()
    expect(last(upstream).path).toBe('/hosted/y')
  })

  test('unlisted methods get 405 with Allow; HEAD is implied by GET', async () => {
    const res = await fetch(gw.url('/readonly/x'), { method: 'DELETE' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
    expect((await fetch(gw.url('/readonly/x'), { method: 'HEAD' })).status).toBe(200)
  })

  test('a 200 KiB POST streams through intact', async () => {
    const body = crypto.getRandomValues(new Uint8Array(200 * 1024))
    const res = await fetch(gw.url('/upload'), { method: 'POST', body })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { bodyBytes: number }).bodyBytes).toBe(body.byteLength)
    expect(last(upstream).bodySha).toBe(new Bun.CryptoHasher('sha256').update(body).digest('hex'))
    expect(last(upstream).headers['content-length']).toBe(String(body.byteLength))
  })

  test('a chunked POST of unknown length streams through', async () => {
    const parts = ['alpha-', 'beta-', 'gamma']
    const stream = new ReadableStream({
      async pull(c) {
        const next = parts.shift()
        if (next === undefined) c.close()
        else {
          await Bun.sleep(20)
          c.enqueue(new TextEncoder().encode(next))
        }
      },
    })
    const res = await fetch(gw.url('/chunked'), { method: 'PUT', body: stream, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(200)
    expect(last(upstream).bodyBytes).toBe('alpha-beta-gamma'.length)
  })

  test('gzip passes through untouched and the client can decode it', async () => {
    const res = await fetch(gw.url('/gzip'), { headers: { 'accept-encoding': 'gzip' }, decompress: false } as RequestInit)
    expect(res.headers.get('content-encoding')).toBe('gzip')
    expect(last(upstream).headers['accept-encoding']).toBe('gzip')
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(GZIP_TEXT)
  })

  test('without Accept-Encoding from the client, none is sent upstream', async () => {
    const reply = await rawRequest(gw.port, 'GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    expect(statusOf(reply)).toBe(200)
    expect(last(upstream).headers['accept-encoding']).toBeUndefined()
  })

  test('a 302 is passed through, not followed', async () => {
    const res = await fetch(gw.url('/redirect'), { redirect: 'manual' })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/elsewhere')
  })

  test('upstream error statuses pass through unchanged', async () => {
    const res = await fetch(gw.url('/status/503'))
    expect(res.status).toBe(503)
    expect(await res.text()).toBe('status 503')
  })

  test('a streamed response arrives in pieces, not buffered', async () => {
    const res = await fetch(gw.url('/stream?chunks=3&gapMs=300'))
    const reader = res.body!.getReader()
    const started = Date.now()
    const first = await reader.read()
    const firstAt = Date.now() - started
    expect(new TextDecoder().decode(first.value)).toContain('chunk 0')
    let rest = ''
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      rest += new TextDecoder().decode(value)
    }
    expect(rest).toContain('chunk 2')
    expect(firstAt).toBeLessThan(400)
    expect(Date.now() - started).toBeGreaterThanOrEqual(500)
  })

  test('fields the upstream sent more than once all reach the client: each Set-Cookie, and a list', async () => {
    const res = await fetch(gw.url('/cookies'))
    expect(await res.text()).toBe('cookies')
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/'])
    expect(res.headers.get('x-list')).toBe('one, two')
    expect(res.headers.get('content-type')).toBe('text/plain')
  })

  test('HEAD returns headers and no body', async () => {
    const res = await fetch(gw.url('/plain'), { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('')
    expect(last(upstream).method).toBe('HEAD')
  })
})
