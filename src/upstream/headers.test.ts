import { describe, expect, test } from 'bun:test'
import { clientResponseHeaders, connectionNamesFramingField, headerBlockBytes, upstreamRequestHeaders } from './headers.ts'

const base = { peerAddress: '192.0.2.1', peerTrusted: false, requestId: 'rid', preserveHost: false, hasBody: false }

describe('upstreamRequestHeaders', () => {
  test('drops hop-by-hop fields and what Connection names, keeps end-to-end ones (RFC 9110 §7.6.1)', () => {
    const out = upstreamRequestHeaders(
      new Headers({
        connection: 'close, X-Hop',
        'x-hop': '1',
        'keep-alive': 'timeout=1',
        te: 'trailers',
        'proxy-authorization': 'Basic x',
        'proxy-connection': 'keep-alive',
        upgrade: 'websocket',
        expect: '100-continue',
        accept: 'application/json',
        'accept-encoding': 'gzip',
        authorization: 'Bearer t',
      }),
      base
    )
    for (const gone of ['connection', 'x-hop', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'upgrade', 'expect']) {
      expect(out.has(gone)).toBe(false)
    }
    expect(out.get('accept')).toBe('application/json')
    expect(out.get('accept-encoding')).toBe('gzip')
    expect(out.get('authorization')).toBe('Bearer t')
  })

  test('a client cannot remove gateway-added fields by naming them in Connection', () => {
    const out = upstreamRequestHeaders(new Headers({ connection: 'x-forwarded-for, x-request-id' }), base)
    expect(out.get('x-forwarded-for')).toBe('192.0.2.1')
    expect(out.get('x-request-id')).toBe('rid')
  })

  test('untrusted peer: forwarding fields are the gateway’s own (RFC 7239 §8)', () => {
    const out = upstreamRequestHeaders(
      new Headers({ host: 'api.example', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6' }),
      base
    )
    expect(out.get('x-forwarded-for')).toBe('192.0.2.1')
    expect(out.get('x-forwarded-host')).toBe('api.example')
    expect(out.get('x-forwarded-proto')).toBe('http')
    expect(out.has('forwarded')).toBe(false)
    expect(out.has('x-real-ip')).toBe(false)
    expect(out.has('host')).toBe(false)
  })

  test('trusted peer: the chain is extended, proto and host kept', () => {
    const out = upstreamRequestHeaders(
      new Headers({ host: 'internal', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' }),
      { ...base, peerTrusted: true }
    )
    expect(out.get('x-forwarded-for')).toBe('203.0.113.9, 192.0.2.1')
    expect(out.get('x-forwarded-proto')).toBe('https')
    expect(out.get('x-forwarded-host')).toBe('public.example')
  })

  test('preserveHost keeps the client Host; Content-Length only travels with a body', () => {
    const incoming = new Headers({ host: 'api.example', 'content-length': '5' })
    const kept = upstreamRequestHeaders(incoming, { ...base, preserveHost: true, hasBody: true })
    expect(kept.get('host')).toBe('api.example')
    expect(kept.get('content-length')).toBe('5')
    expect(upstreamRequestHeaders(incoming, base).has('content-length')).toBe(false)
  })
})

describe('clientResponseHeaders', () => {
  test('drops hop-by-hop fields and what Connection names', () => {
    const out = clientResponseHeaders(
      200,
      new Headers({ connection: 'x-internal', 'x-internal': 's', 'keep-alive': 't', 'transfer-encoding': 'chunked', 'proxy-authenticate': 'Basic', 'x-kept': '1' }),
      65536
    )
    expect(out).toBeInstanceOf(Headers)
    expect([...(out as Headers).keys()]).toEqual(['x-kept'])
  })

  test('keeps every Set-Cookie', () => {
    const incoming = new Headers()
    incoming.append('set-cookie', 'a=1')
    incoming.append('set-cookie', 'b=2')
    expect((clientResponseHeaders(200, incoming, 65536) as Headers).getSetCookie()).toEqual(['a=1', 'b=2'])
  })

  test.each([
    [101, {}, 'status'],
    [999, {}, 'status'],
    [200, { 'content-length': '5', 'transfer-encoding': 'chunked' }, 'framing'],
    [200, { 'content-length': '5, 5' }, 'framing'],
    [200, { 'content-length': '-1' }, 'framing'],
    [200, { 'x-big': 'a'.repeat(2000) }, 'too_large'],
  ])('status %d with %j → %s', (status, headers, problem) => {
    expect(clientResponseHeaders(status, new Headers(headers as Record<string, string>), 1024)).toBe(problem as never)
  })
})

describe('helpers', () => {
  test.each([
    ['Content-Length', true],
    ['close, Transfer-Encoding', true],
    ['HOST', true],
    ['close', false],
    [null, false],
  ])('connectionNamesFramingField(%p) → %p', (value, expected) => {
    expect(connectionNamesFramingField(value)).toBe(expected)
  })

  test('headerBlockBytes counts names, values and separators', () => {
    expect(headerBlockBytes(new Headers({ ab: 'cd' }))).toBe(8)
  })
})
