import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { rawRequest, startScriptedUpstream, statusOf } from '../fixtures/raw.ts'
import { configFor, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let untrusting: GatewayProcess
let trusting: GatewayProcess
let preserving: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  ;[untrusting, trusting, preserving] = await Promise.all([
    startGateway(configFor(upstream.origin)),
    startGateway(configFor(upstream.origin, { server: { trustedProxies: ['127.0.0.0/8', '::1'] } })),
    startGateway(configFor(upstream.origin, { upstream: { preserveHost: true } })),
  ])
})

afterAll(async () => {
  for (const gw of [untrusting, trusting, preserving]) {
    expect(await gw.stop()).toBe(0)
    expectCleanOutput(gw.output())
  }
  upstream.stop()
})

const last = () => upstream.requests.at(-1)!

/** Sends a raw request with `headers` (one "Name: value" per entry) and returns what the upstream saw. */
async function send(gw: GatewayProcess, path: string, headers: string[]) {
  const head = [`GET ${path} HTTP/1.1`, 'Host: gw.example:8080', ...headers, 'Connection: close', '', ''].join('\r\n')
  const reply = await rawRequest(gw.port, head)
  return { reply, seen: last().headers }
}

describe('request headers sent upstream', () => {
  test('hop-by-hop fields and those named by Connection are removed', async () => {
    const reply = await rawRequest(
      untrusting.port,
      [
        'GET /hop-req HTTP/1.1',
        'Host: gw.example',
        'Connection: close, X-Secret, X-Forwarded-Proto',
        'X-Secret: s3cret',
        'Keep-Alive: timeout=5',
        'Proxy-Connection: keep-alive',
        'TE: trailers',
        'Trailer: X-T',
        'Upgrade: h2c',
        'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA',
        'Proxy-Authorization: Basic Zm9vOmJhcg==',
        'X-Kept: yes',
        '',
        '',
      ].join('\r\n')
    )
    expect(statusOf(reply)).toBe(200)
    const seen = last().headers
    for (const name of ['x-secret', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'http2-settings', 'proxy-authorization']) {
      expect(seen[name]).toBeUndefined()
    }
    expect(seen['x-kept']).toBe('yes')
    // Named by Connection, yet present: the gateway adds its own after stripping.
    expect(seen['x-forwarded-proto']).toBe('http')
  })

  test('from an untrusted peer, client-sent forwarding and id headers are replaced', async () => {
    const { seen, reply } = await send(untrusting, '/xff', [
      'X-Forwarded-For: 1.2.3.4',
      'X-Forwarded-Host: evil.example',
      'X-Forwarded-Proto: https',
      'Forwarded: for=1.2.3.4',
      'X-Real-IP: 1.2.3.4',
      'X-Original-URL: /admin',
      'X-Request-Id: client-chosen-id',
    ])
    expect(seen['x-forwarded-for']).toBe('127.0.0.1')
    expect(seen['x-forwarded-host']).toBe('gw.example:8080')
    expect(seen['x-forwarded-proto']).toBe('http')
    expect(seen.forwarded).toBeUndefined()
    expect(seen['x-real-ip']).toBeUndefined()
    expect(seen['x-original-url']).toBeUndefined()
    expect(seen['x-request-id']).not.toBe('client-chosen-id')
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    // The client gets the same id the upstream saw.
    expect(reply).toContain(`x-request-id: ${seen['x-request-id']}`)
  })

  test('from a trusted proxy, the chain is extended and its request id kept', async () => {
    const { seen, reply } = await send(trusting, '/xff', [
      'X-Forwarded-For: 203.0.113.9, 198.51.100.7',
      'X-Forwarded-Proto: https',
      'X-Forwarded-Host: public.example',
      'X-Request-Id: lb-7f3a',
    ])
    expect(seen['x-forwarded-for']).toBe('203.0.113.9, 198.51.100.7, 127.0.0.1')
    expect(seen['x-forwarded-proto']).toBe('https')
    expect(seen['x-forwarded-host']).toBe('public.example')
    expect(seen['x-request-id']).toBe('lb-7f3a')
    expect(reply).toContain('x-request-id: lb-7f3a')
  })

  test('a trusted proxy cannot inject an id that would be unsafe in logs', async () => {
    const { seen } = await send(trusting, '/xff', ['X-Request-Id: a"b{c}'])
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  test("the admin page's session cookie, which a browser sends to every port of the host, never goes upstream", async () => {
    const { reply, seen } = await send(untrusting, '/with-cookies', ['Cookie: theme=dark; gateway_admin=1700000000.abcdef; cart=7'])
    expect(statusOf(reply)).toBe(200)
    expect(seen['cookie']).toBe('theme=dark; cart=7')
    const alone = await send(untrusting, '/admin-cookie-only', ['Cookie: gateway_admin=1700000000.abcdef'])
    expect(statusOf(alone.reply)).toBe(200)
    expect(alone.seen['cookie']).toBeUndefined()
  })

  test('a field value with obs-text bytes (RFC 9110 §5.5) reaches the upstream byte for byte', async () => {
    const scripted = await startScriptedUpstream({ '/latin1': { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' } })
    const gw = await startGateway(configFor(scripted.origin))
    try {
      // 0xE9 is one byte on the wire; re-encoded as UTF-8 it would become two (0xC3 0xA9).
      const head = Buffer.from('GET /latin1 HTTP/1.1\r\nHost: gw.example\r\nX-Name: caf\xe9\r\nConnection: close\r\n\r\n', 'latin1')
      expect(statusOf(await rawRequest(gw.port, head))).toBe(200)
      expect(scripted.received.at(-1)).toContain('x-name: caf\xe9\r\n')
    } finally {
      expect(await gw.stop()).toBe(0)
      scripted.close()
    }
  })

  test('upstream Host is the target unless preserveHost', async () => {
    const { seen } = await send(untrusting, '/host', [])
    expect(seen.host).toBe(new URL(upstream.origin).host)
    const kept = await send(preserving, '/host', [])
    expect(kept.seen.host).toBe('gw.example:8080')
  })
})

describe('response headers sent to the client', () => {
  test('hop-by-hop fields and those named by Connection are removed', async () => {
    const res = await fetch(untrusting.url('/hop'))
    expect(await res.text()).toBe('hop')
    expect(res.headers.get('x-kept')).toBe('yes')
    expect(res.headers.get('x-internal')).toBeNull()
    expect(res.headers.get('keep-alive')).toBeNull()
    expect(res.headers.get('proxy-authenticate')).toBeNull()
    expect(res.headers.get('upgrade')).toBeNull()
  })

  test('every response carries a request id, also the gateway-made ones', async () => {
    const res = await fetch(untrusting.url('/health'))
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  test("the client gets the gateway's request id, once, whatever the upstream or the route's header rules say", async () => {
    // The upstream sends an id of its own (twice, in two spellings): a small body, relayed whole.
    const scripted = await startScriptedUpstream({
      '/own-id': { bytes: 'HTTP/1.1 200 OK\r\nX-Request-Id: upstream-1\r\nx-request-id: upstream-2\r\nContent-Length: 2\r\n\r\nok', after: 'keep' },
      '/own-id-once': { bytes: 'HTTP/1.1 200 OK\r\nX-Request-Id: upstream-1\r\nContent-Length: 2\r\n\r\nok', after: 'keep' },
    })
    const rules = { remove: ['x-request-id'], set: { 'x-ruled': 'yes' } }
    const gw = await startGateway(
      configFor(scripted.origin, {
        routes: [
          { path: '/ruled', upstream: 'app', stripPrefix: true, responseHeaders: rules },
          { path: '/', upstream: 'app' },
        ],
      })
    )
    try {
      for (const path of ['/own-id', '/own-id-once', '/ruled/own-id', '/ruled/own-id-once']) {
        const reply = await rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n`)
        expect(statusOf(reply)).toBe(200)
        const ids = reply.split('\r\n').filter((line) => line.toLowerCase().startsWith('x-request-id:'))
        expect(ids).toHaveLength(1)
        const sent = /x-request-id: ([^\r]+)/i.exec(scripted.received.at(-1)!)![1]
        expect(ids[0]!.slice('x-request-id: '.length)).toBe(sent!)
        expect(reply.includes('x-ruled: yes')).toBe(path.startsWith('/ruled'))
      }
    } finally {
      expect(await gw.stop()).toBe(0)
      scripted.close()
    }
  })

  test("/health (answered before the router) keeps a trusted proxy's request id, and makes its own for anyone else", async () => {
    const sent = { 'x-request-id': 'lb-probe-7' }
    expect((await fetch(trusting.url('/health'), { headers: sent })).headers.get('x-request-id')).toBe('lb-probe-7')
    expect((await fetch(untrusting.url('/health'), { headers: sent })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })
})
