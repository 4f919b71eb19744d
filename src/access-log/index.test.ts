import { describe, expect, test } from 'bun:test'
import { Exchange } from '../kernel/exchange.ts'
import { testRoute } from '../../test/fixtures/exchange.ts'
import { accessLog } from './index.ts'

const route = testRoute({ name: 'api "v1"', path: '/api' })
const exchange = (path: string, query = '') =>
  new Exchange(new Request(`http://gw.example${path}${query}`), `http://gw.example${path}${query}`, undefined, route, path, query, 'rid-1', {
    isTrusted: () => false,
    trustsProxies: false,
  })

describe('accessLog', () => {
  const lines: string[] = []
  const log = accessLog({ sampleRate: 1, write: (line) => lines.push(line) })

  test('one parseable line with every field, quotes in names and paths escaped', () => {
    const response = new Response('hello', { status: 201, headers: { 'content-length': '5', 'x-cache-status': 'HIT' } })
    const ex = exchange('/api/"quoted"\u2028', '?token=s3cret&a=1')
    ex.upstreamMs = 1.234
    log(ex, response, 2.5)
    const line = lines.pop()!
    expect(line.endsWith('\n')).toBe(true)
    expect(line.slice(0, -1)).not.toContain('\n')
    expect(JSON.parse(line)).toMatchObject({
      requestId: 'rid-1',
      method: 'GET',
      route: 'api "v1"',
      path: '/api/"quoted"\u2028?token=REDACTED&a=1',
      status: 201,
      durationMs: 2.5,
      upstream: 'app',
      upstreamMs: 1.23,
      cache: 'HIT',
      bytes: 5,
      client: null,
    })
  })

  test("an upstream's own X-Cache-Status cannot forge fields or split the line", () => {
    const hostile = '","status":999,"x":"\r\n{"forged":true}'
    log(exchange('/api/x'), new Response(null, { headers: { 'x-cache-status': hostile.replace(/[\r\n]/g, '') } }), 1)
    const parsed = JSON.parse(lines.pop()!)
    expect(parsed.status).toBe(200)
    expect(parsed.cache).toBe(hostile.replace(/[\r\n]/g, ''))
    expect(parsed.forged).toBeUndefined()
  })

  test('sampleRate 0 writes nothing', () => {
    const quiet = accessLog({ sampleRate: 0, write: (line) => lines.push(line), random: () => 0.5 })
    quiet(exchange('/api/x'), new Response('x'), 1)
    expect(lines).toHaveLength(0)
  })
})
