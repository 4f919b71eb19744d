/**
 * Raw-socket cases from ../shared/notes/http-hardening.md that Bun lets through and the
 * gateway must handle, plus the ones Bun rejects (to pin that nothing reaches upstream).
 * The recording upstream proves what was forwarded, or that nothing was.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { bodyOf, rawRequest, statusOf } from '../fixtures/raw.ts'
import { configFor, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let gw: GatewayProcess

const LIMITS = { maxUrlBytes: 1024, maxHeaderBytes: 2048, maxBodyBytes: 1000 }

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway(configFor(upstream.origin, { server: LIMITS }))
})

beforeEach(() => {
  upstream.requests.length = 0
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  expectCleanOutput(gw.output())
})

const send = (lines: string[], body = '') => rawRequest(gw.port, `${lines.join('\r\n')}\r\n\r\n${body}`)

/** A gateway-made error: the JSON shape, and the connection closed when framing is in doubt. */
function expectJsonError(reply: string, status: number, closes = true) {
  expect(statusOf(reply)).toBe(status)
  expect(bodyOf(reply)).toMatch(/^\{"error":"[a-z_]+","status":\d{3},"requestId":"[0-9a-f-]{36}"\}$/)
  if (closes) expect(reply.toLowerCase()).toContain('connection: close')
}

describe('rejected before anything is forwarded', () => {
  test.each([
    ['a duplicated Host (merged as "a, b")', ['Host: a.example', 'Host: b.example']],
    ['a Host with userinfo', ['Host: user@a.example']],
    ['a Host with a path', ['Host: a.example/x']],
    ['an empty Host', ['Host: ']],
    ['Connection naming Content-Length', ['Host: a', 'Connection: Content-Length']],
    ['Connection naming Transfer-Encoding', ['Host: a', 'Connection: close, transfer-encoding']],
    ['Connection naming Host', ['Host: a', 'Connection: host']],
  ])('%s → 400', async (_name, headers) => {
    const reply = await send(['GET /x HTTP/1.1', ...headers])
    expectJsonError(reply, 400)
    expect(upstream.requests).toHaveLength(0)
  })

  test('a GET with a body → 400, and the embedded request is never forwarded', async () => {
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'
    const reply = await send(['GET /x HTTP/1.1', 'Host: a', `Content-Length: ${smuggled.length}`], smuggled)
    expectJsonError(reply, 400)
    expect(reply).not.toContain('smuggled')
    expect(upstream.requests).toHaveLength(0)
  })

  test('a chunked HEAD → 400', async () => {
    const reply = await send(['HEAD /x HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked'], '3\r\nabc\r\n0\r\n\r\n')
    expect(statusOf(reply)).toBe(400)
    expect(upstream.requests).toHaveLength(0)
  })

  test('identical duplicate Content-Length → 400 (never forwarded as "5, 5")', async () => {
    const reply = await send(['POST /x HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Content-Length: 5'], 'hello')
    expectJsonError(reply, 400)
    expect(upstream.requests).toHaveLength(0)
  })

  test.each(['/%zz', '/a%', '/a%4', '/a%00b'])('malformed percent-encoding %s → 400', async (path) => {
    const reply = await send([`GET ${path} HTTP/1.1`, 'Host: a', 'Connection: close'])
    expectJsonError(reply, 400)
    expect(upstream.requests).toHaveLength(0)
  })

  test('TRACE → 405 with Allow, never echoed', async () => {
    const reply = await send(['TRACE /x HTTP/1.1', 'Host: a', 'Connection: close', 'Cookie: secret=1'])
    expect(statusOf(reply)).toBe(405)
    expect(reply.toLowerCase()).toContain('allow: get, head, post, put, patch, delete, options')
    expect(reply).not.toContain('secret=1')
    expect(upstream.requests).toHaveLength(0)
  })

  test('a request-target over maxUrlBytes → 414; one just under passes', async () => {
    const long = `/${'a'.repeat(LIMITS.maxUrlBytes)}`
    expectJsonError(await send([`GET ${long} HTTP/1.1`, 'Host: a']), 414)
    expect(upstream.requests).toHaveLength(0)
    const fits = `/${'a'.repeat(LIMITS.maxUrlBytes - 1)}`
    expect(statusOf(await send([`GET ${fits} HTTP/1.1`, 'Host: a', 'Connection: close']))).toBe(200)
  })

  test('a header block over maxHeaderBytes → 431', async () => {
    const reply = await send(['GET /x HTTP/1.1', 'Host: a', `Cookie: ${'c'.repeat(LIMITS.maxHeaderBytes)}`])
    expectJsonError(reply, 431)
    expect(upstream.requests).toHaveLength(0)
  })

  test('a declared body over maxBodyBytes → 413 without reading it', async () => {
    const reply = await send(['POST /x HTTP/1.1', 'Host: a', `Content-Length: ${LIMITS.maxBodyBytes + 1}`])
    expectJsonError(reply, 413)
    expect(upstream.requests).toHaveLength(0)
  })

  test('a chunked body that grows past maxBodyBytes → 413; the upstream never gets it whole', async () => {
    const chunk = 'x'.repeat(400)
    const body = `${(400).toString(16)}\r\n${chunk}\r\n`.repeat(4) + '0\r\n\r\n'
    const reply = await send(['POST /x HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked'], body)
    expectJsonError(reply, 413)
    for (const seen of upstream.requests) expect(seen.bodyBytes).toBeLessThanOrEqual(LIMITS.maxBodyBytes)
  })

  test.each([
    ['Content-Length and Transfer-Encoding', ['Content-Length: 6', 'Transfer-Encoding: chunked'], '0\r\n\r\nX'],
    ['an obfuscated Transfer-Encoding', ['Transfer-Encoding: xchunked'], ''],
    ['differing Content-Length values', ['Content-Length: 1', 'Content-Length: 0'], 'x'],
  ])('%s → 400 from the parser, nothing forwarded', async (_name, headers, body) => {
    const reply = await send(['POST /x HTTP/1.1', 'Host: a', ...headers], body)
    expect(statusOf(reply)).toBe(400)
    expect(upstream.requests).toHaveLength(0)
  })
})

describe('forwarded, with the dangerous part removed', () => {
  test('Upgrade: h2c is not honoured: a plain 200, and the upstream sees no Upgrade', async () => {
    const reply = await send([
      'GET /x HTTP/1.1',
      'Host: a',
      'Connection: Upgrade, HTTP2-Settings, close',
      'Upgrade: h2c',
      'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA',
    ])
    expect(statusOf(reply)).toBe(200)
    expect(upstream.requests).toHaveLength(1)
    expect(upstream.requests[0]!.headers.upgrade).toBeUndefined()
    expect(upstream.requests[0]!.headers['http2-settings']).toBeUndefined()
  })

  test('Upgrade: websocket to an upstream that does not speak it gets its answer, no 101 tunnel', async () => {
    const reply = await send([
      'GET /x HTTP/1.1',
      'Host: a',
      'Connection: Upgrade, close',
      'Upgrade: websocket',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
    ])
    // The gateway asked for the upgrade with its own key; the upstream's 200 is relayed as is.
    expect(statusOf(reply)).toBe(200)
    expect(upstream.requests[0]!.headers['sec-websocket-key']).not.toBe('dGhlIHNhbXBsZSBub25jZQ==')
    expect(reply.toLowerCase()).not.toContain('upgrade: websocket')
  })

  test('Content-Length: 0 on a GET is fine', async () => {
    const reply = await send(['GET /x HTTP/1.1', 'Host: a', 'Content-Length: 0', 'Connection: close'])
    expect(statusOf(reply)).toBe(200)
    expect(upstream.requests[0]!.headers['content-length']).toBeUndefined()
  })

  test('HTTP/1.0 without Host is routed and answered', async () => {
    const reply = await rawRequest(gw.port, 'GET /x HTTP/1.0\r\n\r\n')
    expect(statusOf(reply)).toBe(200)
    expect(upstream.requests[0]!.path).toBe('/x')
  })

  test('Expect: 100-continue is handled by the gateway, the body still arrives', async () => {
    const reply = await send(
      ['POST /x HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Expect: 100-continue', 'Connection: close'],
      'hello'
    )
    expect(reply).toContain('200 OK')
    expect(upstream.requests[0]!.bodyBytes).toBe(5)
    expect(upstream.requests[0]!.headers.expect).toBeUndefined()
  })
})
