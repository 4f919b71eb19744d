import { describe, expect, test } from 'bun:test'
import { BodyTooLargeError } from './body.ts'
import { classifyFetchError, toGatewayError, UpstreamError } from './errors.ts'

const at = (extra: Partial<Parameters<typeof toGatewayError>[1]> = {}) => ({ timedOut: false, clientGone: false, ...extra })

describe('classifyFetchError (Bun 1.4 fetch codes, measured)', () => {
  test.each([
    ['refused', { code: 'ECONNREFUSED' }, at(), 'connect_refused'],
    ['unreachable', { code: 'EHOSTUNREACH' }, at(), 'connect_refused'],
    ['DNS', { code: 'ENOTFOUND' }, at(), 'dns'],
    ['deadline before the head', { code: 'ECONNRESET' }, at({ timedOut: true }), 'headers_timeout'],
    ['deadline in the body', { name: 'AbortError' }, at({ timedOut: true, inBody: true }), 'body_timeout'],
    ['socket timeout connecting', { code: 'ETIMEDOUT' }, at(), 'connect_timeout'],
    ['reset before the head', { code: 'ECONNRESET' }, at(), 'reset'],
    ['a chunked body cut', { code: 'ECONNRESET' }, at({ inBody: true }), 'reset'],
    ['a body short of its Content-Length', { code: 'ECONNRESET' }, at({ inBody: true, declaredLength: true }), 'length_mismatch'],
    ['a malformed head', { code: 'Malformed_HTTP_Response' }, at(), 'malformed_head'],
    ['anything else', new Error('x'), at(), 'malformed_head'],
  ])('%s → %s', (_name, err, context, code) => {
    expect(classifyFetchError(err, context).code).toBe(code as never)
  })
})

describe('toGatewayError', () => {
  test.each([
    ['a headers timeout', new UpstreamError('headers_timeout'), at(), 504, 'headers_timeout'],
    ['a body timeout', { name: 'AbortError' }, at({ timedOut: true, inBody: true }), 504, 'body_timeout'],
    ['client gone', { name: 'AbortError' }, at({ clientGone: true }), 499, 'client_closed'],
    ['connection refused', { code: 'ECONNREFUSED' }, at(), 502, 'connect_refused'],
    ['reset', { code: 'ECONNRESET' }, at(), 502, 'reset'],
    ['malformed reply', new UpstreamError('malformed_head'), at(), 502, 'malformed_head'],
    ['body over the limit', new BodyTooLargeError(), at(), 413, 'body_too_large'],
  ])('%s → %d', (_name, err, context, status, reason) => {
    const mapped = toGatewayError(err, context)
    expect(mapped.status).toBe(status)
    expect(mapped.reason).toBe(reason as never)
    expect(mapped.message).not.toContain('127.0.0.1')
  })

  test('a body-limit error wrapped by fetch is still a 413', () => {
    const wrapped = new TypeError('fetch failed', { cause: new BodyTooLargeError() })
    expect(toGatewayError(wrapped, at()).status).toBe(413)
  })
})
