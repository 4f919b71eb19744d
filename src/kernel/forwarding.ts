/**
 * Header rules at the proxy boundary: hop-by-hop stripping both ways (RFC 9110 §7.6.1),
 * forwarding headers set by the gateway (RFC 7239 §5.2 trust rules), and the sanity checks
 * an upstream response must pass before any byte reaches the client.
 */
import { Fields, type FieldReader, type FieldSnapshot } from './fields.ts'
import { applyHeaderRules, ruledValue, type HeaderRules } from './header-rules.ts'

/**
 * Connection-specific fields never forwarded in either direction (RFC 9110 §7.6.1), plus
 * Proxy-Authorization/Proxy-Authenticate (RFC 9110 §11.7: meant for this hop) and
 * Content-Length (the gateway frames the message it sends itself).
 */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'proxy-authorization',
  'proxy-authenticate',
] as const
export const HOP_BY_HOP_SET: ReadonlySet<string> = new Set(HOP_BY_HOP)

/**
 * Client-sent fields that claim facts about the client or the original request; believed
 * only from trusted proxies. Beyond the standard family, the spellings that common stacks
 * read for the client address, scheme or host (docs/proxying.md, "Headers").
 */
const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-forwarded-server',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-original-host',
  'x-host',
  'x-original-url',
  'x-rewrite-url',
  'x-request-id',
  // Client-certificate facts as TLS-terminating proxies state them (Envoy XFCC, Traefik,
  // nginx conventions, AWS ALB): an upstream behind a gateway with server.tls.clientAuth may
  // take them for a verified identity, and the gateway sets none (docs/proxying.md, "TLS").
  'x-forwarded-client-cert',
  'x-forwarded-tls-client-cert',
  'x-forwarded-tls-client-cert-info',
  'x-client-cert',
  'x-client-cert-subject',
  'x-client-cert-fingerprint',
  'x-ssl-client-cert',
  'x-ssl-client-verify',
  'x-ssl-client-s-dn',
  'x-ssl-client-dn',
  'ssl-client-cert',
  'ssl-client-verify',
  'x-amzn-mtls-clientcert',
] as const

const FORWARDING_SET: ReadonlySet<string> = new Set(FORWARDING_HEADERS)

/**
 * Method overrides are never forwarded, whoever sent them: an upstream that honours one
 * answers a different method than the route allowed and the cache keyed (CPDoS "HMO").
 */
const METHOD_OVERRIDES: ReadonlySet<string> = new Set(['x-http-method-override', 'x-http-method', 'x-method-override'])

/** Framing fields a Connection header must not name: dropping them would reframe the body (Varnish f00010). */
const PROTECTED_FROM_CONNECTION: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host'])

/** A Content-Length as RFC 9110 §8.6 allows it: digits only (no sign, list or spaces). */
export const DIGITS = /^\d+$/

/** Splits a Connection value into lower-case tokens. */
export function connectionTokens(value: string): string[] {
  const tokens: string[] = []
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase()
    if (token) tokens.push(token)
  }
  return tokens
}

/** True when a request's Connection header names a framing field (must be answered with 400). */
export function connectionNamesFramingField(connection: string | null): boolean {
  if (!connection) return false
  return connectionTokens(connection).some((t) => PROTECTED_FROM_CONNECTION.has(t))
}

/** Who sent the request and how its headers are forwarded. */
export interface ForwardingContext {
  /** Address of the TCP peer, if known. */
  peerAddress: string | undefined
  /** Whether the peer is a configured trusted proxy. */
  peerTrusted: boolean
  requestId: string
  /** Send the client's Host instead of the target's. */
  preserveHost: boolean
  /** Drop header names containing "_" (nginx's `underscores_in_headers off`). */
  dropUnderscores: boolean
  /** Consumer header names of every route: never copied from a client, only set by auth. */
  identityFields: ReadonlySet<string>
  /** How the client reached the gateway: https when it terminates TLS (server.tls). */
  scheme?: 'http' | 'https'
  /** The route's `requestHeaders` rules, applied last. */
  rules?: HeaderRules
  /**
   * A route that compresses: the Accept-Encoding sent in place of the client's (the one coding
   * it negotiated), so what the cache keys a variant on is the coding of its body.
   */
  acceptEncoding?: (received: string | null) => string
  /**
   * The request is traced (tracing/): the gateway sends its own `traceparent` and `tracestate`
   * (W3C Trace Context §3.2), so the client's are not copied.
   */
  traced?: boolean
  /** The authenticated caller, once the route's auth stage ran. */
  identity: { readonly consumer: string; readonly header: string; readonly credentialField: string | undefined } | undefined
}

/**
 * Whether a client field named `name` is copied upstream as received. `named` holds the
 * client's Connection tokens: they are removed before the gateway adds its own fields, so
 * a client cannot strip those (RFC 9110 §7.6.1; Davison 2019).
 */
function copiesField(name: string, named: ReadonlySet<string> | undefined, context: ForwardingContext): boolean {
  if (HOP_BY_HOP_SET.has(name) || METHOD_OVERRIDES.has(name) || named?.has(name)) return false
  // Identity is the gateway's to state, and a credential stays at the gateway.
  if (context.identityFields.has(name) || name === context.identity?.credentialField) return false
  if (!context.peerTrusted && FORWARDING_SET.has(name)) return false
  // X_Forwarded_For reads as X-Forwarded-For in WSGI, CGI and PHP.
  if (context.dropUnderscores && name.includes('_')) return false
  if (isTraceField(name) && context.traced) return false
  // Bun answers Expect: 100-continue itself; the upstream gets the whole body.
  return name !== 'expect'
}

/** W3C Trace Context's fields: a traced request sends the gateway's own (tracing/), never a copy or a rule's. */
const TRACE_FIELDS = ['traceparent', 'tracestate'] as const
const isTraceField = (name: string) => name === 'traceparent' || name === 'tracestate'

/** The fields a Connection value names (RFC 9110 §7.6.1), or undefined for none. */
const namedBy = (connection: string | string[] | null | undefined) => (typeof connection === 'string' && connection !== '' ? new Set(connectionTokens(connection)) : undefined)

/**
 * The admin page's session cookie (admin/session.ts). Browsers do not isolate cookies by port
 * (RFC 6265 §8.5), so one set by the admin port on 127.0.0.1 comes back on the public port
 * too: it is removed from what goes upstream, where any service could replay it.
 */
export const ADMIN_SESSION_COOKIE = 'gateway_admin'
const ADMIN_SESSION_PAIR = `${ADMIN_SESSION_COOKIE}=`

/** A Cookie value without the admin session's pairs; null when nothing else is left. */
function withoutAdminSession(cookie: string): string | null {
  if (!cookie.includes(ADMIN_SESSION_PAIR)) return cookie
  const kept = cookie.split(';').filter((pair) => !pair.trimStart().startsWith(ADMIN_SESSION_PAIR))
  return kept.length === 0 ? null : kept.map((pair) => pair.trim()).join('; ')
}

/**
 * The fields sent upstream (kernel/fields.ts): the client's that {@link copiesField} keeps, plus
 * X-Forwarded-* and X-Request-Id set by the gateway; Content-Length only with a body
 * (`hasBody`). One pass over the client's fields,
 * appending only what survives. {@link sentHeaderValue} answers for one field what this
 * builds: the cache keys on it, so keep the two in step (headers.test.ts checks them).
 */
export function upstreamRequestHeaders(incoming: Headers | FieldSnapshot, context: ForwardingContext, hasBody: boolean): Fields {
  const { peerAddress, peerTrusted, preserveHost } = context
  // toJSON: Bun's native snapshot, with the iterator's combined values but no [name, value]
  // array per field (Set-Cookie alone comes as a list). The limits stage took one already
  // (Exchange.fields) unless a plugin ran since.
  const fields = incoming instanceof Headers ? (incoming.toJSON() as FieldSnapshot) : incoming
  const named = namedBy(fields.connection)
  const out = new Fields()
  for (const name in fields) {
    if (!copiesField(name, named, context)) continue
    if (name === 'host' && !preserveHost) continue
    if (name === 'content-length' && !hasBody) continue
    const value = fields[name]!
    if (name === 'cookie') {
      // HTTP/2 may split a Cookie into fields; one value for HTTP/1.1 is "; "-joined (RFC 9113 §8.2.3).
      const kept = withoutAdminSession(typeof value === 'string' ? value : value.join('; '))
      if (kept !== null) out.copy(name, kept)
    } else out.copy(name, value)
  }
  const host = fields.host as string | undefined
  // What the gateway adds here is valid as it stands (Bun's address, the checked Host, the
  // request id): copied without the checks `set` makes of values from elsewhere.
  if (peerTrusted) {
    const prior = out.get('x-forwarded-for')
    if (peerAddress) out.copy('x-forwarded-for', prior ? `${prior}, ${peerAddress}` : peerAddress)
    if (!out.has('x-forwarded-proto')) out.copy('x-forwarded-proto', context.scheme ?? 'http')
    if (!out.has('x-forwarded-host') && host) out.copy('x-forwarded-host', host)
  } else {
    if (peerAddress) out.copy('x-forwarded-for', peerAddress)
    out.copy('x-forwarded-proto', context.scheme ?? 'http')
    if (host) out.copy('x-forwarded-host', host)
  }
  out.copy('x-request-id', context.requestId)
  const { identity, rules, acceptEncoding } = context
  if (acceptEncoding) out.set('accept-encoding', acceptEncoding(out.get('accept-encoding')))
  if (identity) out.set(identity.header, identity.consumer)
  if (rules) {
    applyHeaderRules(out, rules)
    // Nor a rule's: the base client writes the gateway's after these fields (two traceparents are none, W3C §3.2).
    if (context.traced) for (const name of TRACE_FIELDS) out.delete(name)
  }
  return out
}

/**
 * The value `upstreamRequestHeaders(incoming, context).get(name)` would have, without
 * building the headers: the cache keys variants on what the upstream is sent, never on
 * what the client sent (a field the client had stripped with Connection must not select
 * a variant). `name` is lower-case. Host is the client's (it is in the primary key).
 */
export function sentHeaderValue(incoming: FieldReader, name: string, context: ForwardingContext): string | null {
  if (context.traced && isTraceField(name)) return null
  let value = baseSentValue(incoming, name, context)
  if (name === 'accept-encoding' && context.acceptEncoding) value = context.acceptEncoding(value)
  return context.rules ? ruledValue(name, value, context.rules) : value
}

function baseSentValue(incoming: FieldReader, name: string, context: ForwardingContext): string | null {
  const named = namedBy(incoming.get('connection'))
  const copied = copiesField(name, named, context) ? incoming.get(name) : null
  switch (name) {
    case 'cookie':
      return copied === null ? null : withoutAdminSession(copied)
    case 'host':
      return incoming.get('host')
    case 'x-request-id':
      return context.requestId
    case 'x-forwarded-for': {
      const { peerAddress } = context
      if (!context.peerTrusted) return peerAddress ?? null
      if (!peerAddress) return copied
      return copied ? `${copied}, ${peerAddress}` : peerAddress
    }
    case 'x-forwarded-proto':
      return copied ?? context.scheme ?? 'http'
    case 'x-forwarded-host':
      return copied ?? incoming.get('host')
    default:
      if (context.identity?.header === name) return context.identity.consumer
      return copied
  }
}

/** Why an upstream response head is refused; undefined when it may be relayed. */
export type ResponseHeadProblem = 'status' | 'framing' | 'too_large'

/**
 * Checks an upstream response head and strips it for the client, in place (the fetch
 * response's own Headers are reused: building a copy costs more than the rare delete).
 * Bun's fetch accepts some heads a proxy must refuse (status 999, Content-Length together
 * with Transfer-Encoding, a 300 KB header block): RFC 9112 §6.3; HAProxy: no status > 599.
 */
export function clientResponseHeaders(
  status: number,
  headers: Headers,
  maxHeaderBytes: number
): Headers | ResponseHeadProblem {
  if (status < 200 || status > 599) return 'status'
  const contentLength = headers.get('content-length')
  if (contentLength !== null && (headers.has('transfer-encoding') || !DIGITS.test(contentLength))) {
    return 'framing'
  }
  const connection = headers.get('connection')
  const named = connection ? new Set(connectionTokens(connection)) : undefined
  let bytes = 0
  let strip: string[] | undefined
  for (const [name, value] of headers) {
    bytes += name.length + value.length + 4
    if (HOP_BY_HOP_SET.has(name) || named?.has(name)) (strip ??= []).push(name)
  }
  if (bytes > maxHeaderBytes) return 'too_large'
  if (strip) for (const name of strip) headers.delete(name)
  return headers
}

/** Size of a request header block as counted for the 431 limit, and whether a name has "_". */
export function headerBlockBytes(fields: FieldSnapshot): { bytes: number; underscore: boolean } {
  let bytes = 0
  let underscore = false
  // No closure in the loop: one capturing `name` would make a scope object per field, per request.
  for (const name in fields) {
    const value = fields[name]!
    // Repeated fields arrive joined by ", " (Set-Cookie as a list): count each as a line of its own.
    if (typeof value === 'string') bytes += name.length + value.length + 4
    else for (const one of value) bytes += name.length + one.length + 4
    if (!underscore && name.includes('_')) underscore = true
  }
  return { bytes, underscore }
}

/** A request asking for a WebSocket (RFC 6455 §4.2.1): its method, and its fields (Exchange.requestFields). */
export function isWebSocketUpgrade(method: string, fields: FieldReader): boolean {
  return method === 'GET' && fields.get('upgrade')?.toLowerCase() === 'websocket'
}
