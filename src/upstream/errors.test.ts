import { describe, expect, test } from 'bun:test'
import { BodyTooLargeError } from './body.ts'
import { failureReason, toGatewayError } from './errors.ts'


describe('toGatewayError', () => {
  test.each([
    ['deadline passed', { code: 'ECONNRESET' }, true, false, 504, 'timeout'],
    ['client gone', { name: 'AbortError' }, false, true, 499, 'client_closed'],
    ['connection refused', { code: 'ECONNREFUSED' }, false, false, 502, 'connect_refused'],
    ['reset', { code: 'ECONNRESET' }, false, false, 502, 'reset'],
    ['malformed reply', { code: 'Malformed_HTTP_Response' }, false, false, 502, 'malformed'],
    ['body over the limit', new BodyTooLargeError(), false, false, 413, 'body_too_large'],
  ])('%s → %d', (_name, err, timedOut, clientGone, status, reason) => {
    const mapped = toGatewayError(err, { timedOut, clientGone })
    expect(mapped.status).toBe(status)
    expect(mapped.reason).toBe(reason as never)
    expect(mapped.message).not.toContain('127.0.0.1')
  })

  test('a body-limit error wrapped by fetch is still a 413', () => {
    const wrapped = new TypeError('fetch failed', { cause: new BodyTooLargeError() })
    expect(toGatewayError(wrapped, { timedOut: false, clientGone: false }).status).toBe(413)
  })

  test('unknown errors are 502 malformed', () => {
    expect(failureReason(new Error('x'))).toBe('malformed')
    expect(failureReason(null)).toBe('malformed')
  })
})
