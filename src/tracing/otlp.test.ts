/** The hand encoder against the official .proto files (decoded by protobufjs in the fixture). */
import { describe, expect, test } from 'bun:test'
import { decodeTraces } from '../../test/fixtures/otlp-receiver.ts'
import { createOtlpEncoder } from './otlp.ts'
import type { TraceFields } from '../kernel/exchange.ts'
import { ClientSpan, ServerSpan, type Span } from './spans.ts'

const TRACE = '0af7651916cd43dd8448eb211c80319c'
const encode = createOtlpEncoder({ resource: { 'service.name': 'gw-test', 'process.pid': 42 }, scope: { name: 'bun-gateway', version: '9.9.9' } })

/** The epoch's nanoseconds at performance.now() 0, exact (BigInt), as a span's times are counted from. */
function originNanos(): bigint {
  const originMs = Math.floor(performance.timeOrigin)
  return BigInt(originMs) * 1_000_000n + BigInt(Math.round((performance.timeOrigin - originMs) * 1e6))
}

function serverSpan(sink: Span[], overrides: Partial<{ path: string; route: string | undefined; routeName: string; method: string }> = {}) {
  const span = new ServerSpan({ push: (s) => void sink.push(s) }, TRACE, -1, '00f067aa0ba902b7', 'rojo=1', 1000.25, overrides.method ?? 'GET', 'http', overrides.path ?? '/api/users', 'route' in overrides ? overrides.route : '/api', overrides.routeName ?? 'api', 'req-1')
  span.status = 502
  span.clientAddress = '127.0.0.1'
  span.userAgent = 'curl/8'
  span.host = 'example.com:8443'
  span.cache = 'MISS'
  span.consumer = 'alice'
  span.errorCode = 'bad_gateway'
  return span
}

describe('createOtlpEncoder', () => {
  test('a server span and its client span decode with the official definitions', () => {
    const sink: Span[] = []
    const server = serverSpan(sink)
    const fields: TraceFields = {}
    const tryTrace = server.startTry(fields, 'GET', '/users?q=secret', 1) as ClientSpan
    tryTrace.end('http://[::1]:3000/base', undefined, 'connect_refused')
    server.finish()
    const [client, decodedServer] = decodeTraces(encode(sink))
    expect(decodedServer).toMatchObject({
      traceId: TRACE,
      spanId: server.spanId,
      parentSpanId: '00f067aa0ba902b7',
      traceState: 'rojo=1',
      name: 'GET /api',
      kind: 2,
      statusCode: 2,
      flags: 0x301,
      resource: { 'service.name': 'gw-test', 'process.pid': 42 },
      scope: { name: 'bun-gateway', version: '9.9.9' },
    })
    expect(decodedServer!.attributes).toEqual({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/api/users',
      'http.route': '/api',
      'http.response.status_code': 502,
      'network.protocol.version': '1.1',
      'server.address': 'example.com',
      'server.port': 8443,
      'client.address': '127.0.0.1',
      'user_agent.original': 'curl/8',
      'error.type': 'bad_gateway',
      'gateway.route': 'api',
      'gateway.request_id': 'req-1',
      'gateway.cache.status': 'MISS',
      'gateway.consumer': 'alice',
      'gateway.error.code': 'bad_gateway',
    })
    expect(server.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(client).toMatchObject({ traceId: TRACE, parentSpanId: server.spanId, traceState: 'rojo=1', name: 'GET', kind: 3, statusCode: 2, flags: 0x101 })
    expect(client!.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(fields).toEqual({ traceparent: `00-${TRACE}-${client!.spanId}-01`, tracestate: 'rojo=1' })
    for (const span of [client!, decodedServer!]) expect(new Set(span.attributeKeys).size).toBe(span.attributeKeys.length)
    expect(client!.attributes).toEqual({
      'http.request.method': 'GET',
      'server.address': '::1',
      'server.port': 3000,
      'url.full': 'http://[::1]:3000/base/users',
      'http.request.resend_count': 1,
      'error.type': 'connect_refused',
    })
  })

  test('times are exact to the nanosecond', () => {
    const sink: Span[] = []
    const span = serverSpan(sink)
    span.finish()
    span.endMs = 2000.000001
    const [decoded] = decodeTraces(encode(sink))
    // The origin's nanoseconds, then each time's own since it: a span's length is exact.
    const origin = originNanos()
    expect(decoded!.startNanos).toBe(origin + 1_000_250_000n)
    expect(decoded!.endNanos).toBe(origin + 2_000_000_001n)
    expect(decoded!.endNanos - decoded!.startNanos).toBe(999_750_001n)
  })

  test('spans of other routes and methods in turn each get their own name and attributes', () => {
    const sink: Span[] = []
    const cases = [
      { route: '/api', routeName: 'api', method: 'GET' },
      { route: '/other', routeName: 'other', method: 'GET' },
      { route: '/other', routeName: 'other', method: 'POST' },
      { route: '/api', routeName: 'api', method: 'GET' },
    ]
    for (const c of cases) serverSpan(sink, c).finish()
    const decoded = decodeTraces(encode(sink))
    expect(decoded.map((span) => [span.name, span.attributes['http.request.method'], span.attributes['http.route']])).toEqual([
      ['GET /api', 'GET', '/api'],
      ['GET /other', 'GET', '/other'],
      ['POST /other', 'POST', '/other'],
      ['GET /api', 'GET', '/api'],
    ])
  })

  test('a time whose low word carries into the high one', () => {
    const origin = originNanos()
    const low = Number(origin & 0xffffffffn)
    // Nanoseconds since the origin whose low word, added to the origin's, passes 2^32 (start) and does not (end).
    const carried = 3 * 2 ** 32 + (2 ** 32 - low) + 1000
    const plain = 5 * 2 ** 32 + (2 ** 32 - low) - 1000
    const sink: Span[] = []
    const span = serverSpan(sink)
    span.finish()
    ;(span as { startMs: number }).startMs = carried / 1e6
    span.endMs = plain / 1e6
    const [decoded] = decodeTraces(encode(sink))
    expect(decoded!.startNanos).toBe(origin + BigInt(carried))
    expect(decoded!.endNanos).toBe(origin + BigInt(plain))
  })

  test('long, non-ASCII and unknown-method values; a 4xx is no server error; no route, no http.route', () => {
    const sink: Span[] = []
    const long = `/${'x'.repeat(20_000)}`
    const span = serverSpan(sink, { path: long, route: undefined, method: 'PURGE' })
    span.status = 404
    span.errorCode = 'not_found'
    span.userAgent = 'agent ☃ ü'
    span.host = '[2001:db8::1]'
    span.finish()
    for (let i = 0; i < 300; i++) serverSpan(sink).finish()
    const decoded = decodeTraces(encode(sink))
    expect(decoded).toHaveLength(301)
    // The repeated parts are encoded once and reused: each attribute once, in every span.
    for (const span of decoded) expect(new Set(span.attributeKeys).size).toBe(span.attributeKeys.length)
    expect(decoded[300]!.attributeKeys).toEqual(decoded[1]!.attributeKeys)
    const first = decoded[0]!
    expect(first.name).toBe('HTTP')
    expect(first.statusCode).toBe(0)
    expect(first.attributes['url.path']).toBe(long)
    expect(first.attributes['user_agent.original']).toBe('agent ☃ ü')
    expect(first.attributes['http.request.method']).toBe('_OTHER')
    expect(first.attributes['http.request.method_original']).toBe('PURGE')
    expect(first.attributes['server.address']).toBe('2001:db8::1')
    expect(first.attributes['server.port']).toBe(80)
    expect(first.attributes['http.route']).toBeUndefined()
    expect(first.attributes['error.type']).toBeUndefined()
    expect(decoded[300]!.attributes['gateway.consumer']).toBe('alice')
  })

  test('string values around the one-byte length limits decode whole, ASCII or not', () => {
    // user_agent.original's key field is 21 bytes: an ASCII value of up to 102 characters has
    // one-byte lengths (KeyValue ≤ 127 bytes); from 103 on, and for non-ASCII, two.
    const sink: Span[] = []
    const values: string[] = []
    for (let n = 90; n <= 140; n++) values.push('a'.repeat(n), 'ü'.repeat(n >> 1) + 'a'.repeat(n - (n >> 1)))
    for (const value of values) {
      const span = serverSpan(sink)
      span.userAgent = value
      span.finish()
    }
    expect(decodeTraces(encode(sink)).map((s) => s.attributes['user_agent.original'])).toEqual(values)
  })

  test('the body is a view of the buffer, valid until the next batch; a batch that fails to encode leaves nothing behind', () => {
    const sink: Span[] = []
    serverSpan(sink, { path: '/first' }).finish()
    const bad = serverSpan(sink)
    // A bug's stand-in: a field the encoder cannot read.
    ;(bad as unknown as { path: unknown }).path = undefined
    bad.finish()
    expect(() => encode(sink)).toThrow()
    const next: Span[] = []
    serverSpan(next, { path: '/second' }).finish()
    const body = encode(next)
    expect(decodeTraces(body).map((s) => s.attributes['url.path'])).toEqual(['/second'])
    const again: Span[] = []
    serverSpan(again, { path: '/third' }).finish()
    encode(again)
    // The earlier body's bytes were reused: a caller (the exporter) hands it to fetch at once.
    expect(body.buffer).toBe(encode([]).buffer)
  })
})
