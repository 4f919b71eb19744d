import { describe, expect, test } from 'bun:test'
import {
  clientResponseHeaders,
  connectionNamesFramingField,
  headerBlockBytes,
  sentHeaderValue,
  upstreamRequestHeaders,
  type ForwardingContext,
} from './forwarding.ts'
import { negotiator } from '../policies/compression/negotiate.ts'

const base: ForwardingContext = {
  peerAddress: '192.0.2.1',
  peerTrusted: false,
  requestId: 'rid',
  preserveHost: false,
  dropUnderscores: true,
  identityFields: new Set(['x-consumer']),
  identity: undefined,
}

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
      base,
      false
    )
    for (const gone of ['connection', 'x-hop', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'upgrade', 'expect']) {
      expect(out.has(gone)).toBe(false)
    }
    expect(out.get('accept')).toBe('application/json')
    expect(out.get('accept-encoding')).toBe('gzip')
    expect(out.get('authorization')).toBe('Bearer t')
  })

  test('a client cannot remove gateway-added fields by naming them in Connection', () => {
    const out = upstreamRequestHeaders(new Headers({ connection: 'x-forwarded-for, x-request-id' }), base, false)
    expect(out.get('x-forwarded-for')).toBe('192.0.2.1')
    expect(out.get('x-request-id')).toBe('rid')
  })

  test('untrusted peer: forwarding fields are the gateway’s own (RFC 7239 §8)', () => {
    const out = upstreamRequestHeaders(
      new Headers({ host: 'api.example', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6' }),
      base,
      false
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
      { ...base, peerTrusted: true },
      false
    )
    expect(out.get('x-forwarded-for')).toBe('203.0.113.9, 192.0.2.1')
    expect(out.get('x-forwarded-proto')).toBe('https')
    expect(out.get('x-forwarded-host')).toBe('public.example')
  })

  test('preserveHost keeps the client Host; Content-Length only travels with a body', () => {
    const incoming = new Headers({ host: 'api.example', 'content-length': '5' })
    const kept = upstreamRequestHeaders(incoming, { ...base, preserveHost: true }, true)
    expect(kept.get('host')).toBe('api.example')
    expect(kept.get('content-length')).toBe('5')
    expect(upstreamRequestHeaders(incoming, base, false).has('content-length')).toBe(false)
  })

  test('names with "_" are dropped by default and kept when allowed', () => {
    const incoming = new Headers({ x_forwarded_for: '6.6.6.6', 'x-api_key': 'k', 'x-plain': '1' })
    const dropped = upstreamRequestHeaders(incoming, base, false)
    expect(dropped.has('x_forwarded_for')).toBe(false)
    expect(dropped.has('x-api_key')).toBe(false)
    expect(dropped.get('x-plain')).toBe('1')
    const allowed = upstreamRequestHeaders(incoming, { ...base, dropUnderscores: false }, false)
    expect(allowed.get('x_forwarded_for')).toBe('6.6.6.6')
  })

  const SPOOFABLE = [
    'x-forwarded-scheme',
    'x-forwarded-ssl',
    'x-original-host',
    'x-host',
    'true-client-ip',
    'cf-connecting-ip',
    'x-cluster-client-ip',
    'fastly-client-ip',
    'x-forwarded-server',
    'x-forwarded-client-cert',
    'x-client-cert-subject',
    'x-client-cert-fingerprint',
    'x-ssl-client-verify',
  ]
  test.each(SPOOFABLE)('%s from an untrusted peer is stripped, from a trusted one kept', (name) => {
    const incoming = new Headers({ [name]: 'spoofed' })
    expect(upstreamRequestHeaders(incoming, base, false).has(name)).toBe(false)
    expect(upstreamRequestHeaders(incoming, { ...base, peerTrusted: true }, false).get(name)).toBe('spoofed')
  })

  test.each(['x-http-method-override', 'x-http-method', 'x-method-override'])('%s is never forwarded, even from a trusted peer', (name) => {
    const incoming = new Headers({ [name]: 'DELETE' })
    expect(upstreamRequestHeaders(incoming, { ...base, peerTrusted: true }, false).has(name)).toBe(false)
  })
})

describe('a compressing route', () => {
  test.each([
    ['gzip, deflate, br', 'br'],
    ['br, gzip', 'br'],
    [undefined, 'identity'],
    ['deflate', 'identity'],
  ])('sends upstream the coding it negotiated for %p: %p', (received, sent) => {
    const context = { ...base, acceptEncoding: negotiator(['zstd', 'br', 'gzip']) }
    const incoming = new Headers(received === undefined ? {} : { 'accept-encoding': received })
    expect(upstreamRequestHeaders(incoming, context, false).get('accept-encoding')).toBe(sent)
    expect(sentHeaderValue(incoming, 'accept-encoding', context)).toBe(sent)
  })
})

test('a traced request does not pass on the client’s trace fields (the gateway sends its own); an untraced one does', () => {
  const incoming = new Headers({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'rojo=1' })
  const traced = upstreamRequestHeaders(incoming, { ...base, traced: true }, false)
  expect([traced.get('traceparent'), traced.get('tracestate')]).toEqual([null, null])
  const passed = upstreamRequestHeaders(incoming, base, false)
  expect(passed.get('tracestate')).toBe('rojo=1')
  // Nor a route's header rule: the base client writes the gateway's after these, and two traceparents are none (W3C §3.2).
  const ruled = upstreamRequestHeaders(incoming, { ...base, traced: true, rules: { add: { tracestate: 'x=1' }, set: { traceparent: 'set' }, remove: [] } }, false)
  expect([ruled.get('traceparent'), ruled.get('tracestate')]).toEqual([null, null])
})

describe('sentHeaderValue answers what upstreamRequestHeaders sends', () => {
  const incomings: Record<string, Record<string, string>> = {
    plain: { host: 'a.example', origin: 'https://app.example', 'accept-encoding': 'gzip' },
    'Connection strips Origin': { host: 'a.example', origin: 'https://app.example', connection: 'origin' },
    'forwarding fields': {
      host: 'a.example',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'public.example',
    },
    'Connection strips forwarding fields': {
      host: 'a.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'public.example',
      'x-forwarded-for': '203.0.113.9',
      connection: 'X-Forwarded-Proto, x-forwarded-host, x-forwarded-for',
    },
    underscores: { host: 'a.example', x_forwarded_host: 'evil', 'x-a_b': '1' },
    'method override': { host: 'a.example', 'x-http-method-override': 'DELETE' },
    'claimed identity and a credential': { host: 'a.example', 'x-consumer': 'admin', 'x-user': 'root', 'x-api-key': 'k3y' },
    'Connection strips Accept-Encoding': { host: 'a.example', 'accept-encoding': 'br, gzip', connection: 'accept-encoding' },
    'a browser Accept-Encoding': { host: 'a.example', 'accept-encoding': 'gzip, deflate, br' },
    'cookies with the admin session': { host: 'a.example', cookie: 'a=1; gateway_admin=123.abc; b=2' },
    'only the admin session cookie': { host: 'a.example', cookie: 'gateway_admin=123.abc' },
    'trace fields': { host: 'a.example', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'rojo=1' },
  }
  const contexts: Record<string, ForwardingContext> = {
    untrusted: base,
    trusted: { ...base, peerTrusted: true },
    'trusted, no address': { ...base, peerTrusted: true, peerAddress: undefined },
    'underscores allowed': { ...base, dropUnderscores: false },
    authenticated: {
      ...base,
      identityFields: new Set(['x-consumer', 'x-user']),
      identity: { consumer: 'alice', header: 'x-user', credentialField: 'x-api-key' },
    },
    'with header rules': {
      ...base,
      rules: { add: { origin: 'https://gw.example', 'x-a_b': 'added' }, set: { 'accept-encoding': 'gzip' }, remove: ['cookie', 'x-forwarded-host'] },
    },
    compressing: { ...base, acceptEncoding: negotiator(['zstd', 'br', 'gzip']) },
    traced: { ...base, traced: true },
    'traced, with header rules on the trace fields': { ...base, traced: true, rules: { add: { tracestate: 'x=1' }, set: { traceparent: 'set' }, remove: [] } },
    'compressing, with header rules': { ...base, acceptEncoding: negotiator(['gzip']), rules: { add: { 'accept-encoding': 'zstd' }, set: {}, remove: [] } },
    'trusted, authenticated, credential forwarded': {
      ...base,
      peerTrusted: true,
      identity: { consumer: 'alice', header: 'x-consumer', credentialField: undefined },
    },
  }
  const names = [
    'origin',
    'accept-encoding',
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-forwarded-host',
    'x-request-id',
    'x_forwarded_host',
    'x-a_b',
    'x-http-method-override',
    'connection',
    'cookie',
    'x-consumer',
    'x-user',
    'x-api-key',
    'traceparent',
    'tracestate',
  ]
  for (const [incomingName, fields] of Object.entries(incomings)) {
    for (const [contextName, context] of Object.entries(contexts)) {
      test(`${incomingName}, ${contextName}`, () => {
        const incoming = new Headers(fields)
        const sent = upstreamRequestHeaders(incoming, context, false)
        for (const name of names) expect([name, sentHeaderValue(incoming, name, context)]).toEqual([name, sent.get(name)])
      })
    }
  }
})

describe('the admin session cookie', () => {
  // Browsers send a cookie the admin port set on 127.0.0.1 to the public port too (RFC 6265 §8.5).
  test.each([
    ['a=1; gateway_admin=123.abc; b=2', 'a=1; b=2'],
    ['gateway_admin=123.abc', null],
    ['gateway_admin=1.x;gateway_admin=2.y; session=s', 'session=s'],
    ['a=1; b=2', 'a=1; b=2'],
    ['my_gateway_admin=1', 'my_gateway_admin=1'],
  ])('%p goes upstream as %p', (cookie, expected) => {
    const sent = upstreamRequestHeaders(new Headers({ host: 'a.example', cookie }), base, false)
    expect(sent.get('cookie')).toBe(expected)
  })
})

describe('identity', () => {
  test('a client-sent consumer header never passes, even from a trusted proxy; auth sets its own and drops the key', () => {
    const incoming = new Headers({ host: 'a.example', 'x-consumer': 'admin', 'x-api-key': 'k3y', 'x-kept': '1' })
    const anonymous = upstreamRequestHeaders(incoming, { ...base, peerTrusted: true }, false)
    expect(anonymous.get('x-consumer')).toBeNull()
    expect(anonymous.get('x-api-key')).toBe('k3y')
    const identity = { consumer: 'alice', header: 'x-consumer', credentialField: 'x-api-key' }
    const authenticated = upstreamRequestHeaders(incoming, { ...base, identity }, false)
    expect(authenticated.get('x-consumer')).toBe('alice')
    expect(authenticated.get('x-api-key')).toBeNull()
    expect(authenticated.get('x-kept')).toBe('1')
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
    expect(headerBlockBytes({ ab: 'cd' })).toEqual({ bytes: 8, underscore: false })
    expect(headerBlockBytes({ a_b: 'cd' }).underscore).toBe(true)
    expect(headerBlockBytes({ 'set-cookie': ['a=1', 'b=2'] }).bytes).toBe(2 * ('set-cookie'.length + 3 + 4))
  })
})
