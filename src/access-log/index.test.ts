import { describe, expect, test } from 'bun:test'
import { Exchange } from '../kernel/exchange.ts'
import { GatewayError, refusal, refusalOf } from '../kernel/errors.ts'
import { testRoute } from '../../test/fixtures/exchange.ts'
import { ACCESS_LOG_FIELDS, accessLog } from './index.ts'

const route = testRoute({ name: 'api "v1"', path: '/api' })
const exchange = (path: string, query = '', init?: RequestInit) =>
  new Exchange(new Request(`http://gw.example${path}${query}`, init), `http://gw.example${path}${query}`, undefined, route, path, query, 'rid-1', {
    isTrusted: () => false,
    trustsProxies: false,
  })

describe('accessLog', () => {
  const lines: string[] = []
  const log = accessLog({ sampleRate: 1, write: (line) => lines.push(line), tls: 'https' })

  test('one parseable line with every field, quotes in names and paths escaped', () => {
    const response = new Response('hello', { status: 201, headers: { 'content-length': '5', 'x-cache-status': 'MISS' } })
    const ex = exchange('/api/"quoted"\u2028', '?token=s3cret&a=1', { method: 'POST', body: 'abc', headers: { host: 'gw.example', 'user-agent': 'curl/"8"', 'content-length': '3' } })
    ex.upstreamMs = 1.234
    ex.upstreamTries = 2
    ex.upstreamAddress = '10.0.0.6:3000'
    ex.upstreamStatus = 201
    ex.identity = { consumer: 'partner', header: 'x-consumer', credentialField: undefined }
    ex.traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    log(ex, response, 2.5, undefined)
    const line = lines.pop()!
    expect(line.endsWith('\n')).toBe(true)
    expect(line.slice(0, -1)).not.toContain('\n')
    const parsed = JSON.parse(line)
    expect(parsed).toEqual({
      time: expect.any(String),
      event: 'access',
      requestId: 'rid-1',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      method: 'POST',
      host: 'gw.example',
      path: '/api/"quoted"\u2028?token=REDACTED&a=1',
      userAgent: 'curl/"8"',
      route: 'api "v1"',
      status: 201,
      consumer: 'partner',
      upstream: 'app',
      target: '10.0.0.6:3000',
      tries: 2,
      upstreamStatus: 201,
      upstreamMs: 1.23,
      cache: 'MISS',
      requestBytes: 3,
      bytes: 5,
      durationMs: 2.5,
      tls: 'https',
    })
    // The table's order, `event` after `time`.
    expect(Object.keys(parsed)).toEqual(['time', 'event', ...ACCESS_LOG_FIELDS.filter((f) => f !== 'time' && f in parsed)])
  })

  test("a gateway refusal: its code, its body's bytes, and no upstream", async () => {
    const response = refusal('rid-1', new GatewayError('rate_limited', { headers: { 'retry-after': '1' } }))
    log(exchange('/api/x'), response, 1, refusalOf(response))
    const parsed = JSON.parse(lines.pop()!)
    expect(parsed).toMatchObject({ status: 429, error: 'rate_limited', bytes: (await response.bytes()).byteLength })
    expect(parsed.upstream).toBeUndefined()
    expect(parsed.tries).toBeUndefined()
    expect(parsed.upstreamStatus).toBeUndefined()
  })

  test('an upstream failure answered by the gateway names the upstream error too', () => {
    const ex = exchange('/api/x')
    ex.upstreamTries = 1
    ex.upstreamAddress = '127.0.0.1:1'
    const refused = new GatewayError('bad_gateway', { reason: 'connect_refused' })
    log(ex, refusal('rid-1', refused), 1, refused)
    expect(JSON.parse(lines.pop()!)).toMatchObject({ status: 502, error: 'bad_gateway', upstreamError: 'connect_refused', upstream: 'app', target: '127.0.0.1:1', tries: 1 })
  })

  test('fields trims the line to the listed ones, in the table order, event kept', () => {
    const trimmed: string[] = []
    const short = accessLog({ sampleRate: 1, write: (line) => trimmed.push(line), fields: ['status', 'requestId'] })
    short(exchange('/api/x'), new Response('x'), 1, undefined)
    expect(trimmed[0]).toBe('{"event":"access","requestId":"rid-1","status":200}\n')
  })

  test('a streamed body of unknown length: the line waits for its end, with the bytes counted', () => {
    const ex = exchange('/api/stream')
    ex.relaying = true
    log(ex, new Response(new ReadableStream()), 1, undefined)
    expect(lines).toHaveLength(0)
    ex.responseBytes = 12345
    ex.relaying = false
    ex.afterRelay!()
    expect(JSON.parse(lines.pop()!).bytes).toBe(12345)
  })

  test("an upstream's own X-Cache-Status cannot forge fields or split the line", () => {
    const hostile = '","status":999,"x":"\r\n{"forged":true}'
    log(exchange('/api/x'), new Response(null, { headers: { 'x-cache-status': hostile.replace(/[\r\n]/g, '') } }), 1, undefined)
    const parsed = JSON.parse(lines.pop()!)
    expect(parsed.status).toBe(200)
    expect(parsed.cache).toBe(hostile.replace(/[\r\n]/g, ''))
    expect(parsed.forged).toBeUndefined()
  })

  test('sampleRate 0 writes nothing', () => {
    const quiet = accessLog({ sampleRate: 0, write: (line) => lines.push(line), random: () => 0.5 })
    quiet(exchange('/api/x'), new Response('x'), 1, undefined)
    expect(lines).toHaveLength(0)
  })
})
