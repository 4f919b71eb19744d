/**
 * Header rules at the proxy boundary: hop-by-hop stripping both ways (RFC 9110 §7.6.1),
 * forwarding headers set by the gateway (RFC 7239 §5.2 trust rules), and the sanity checks
 * an upstream response must pass before any byte reaches the client.
 */

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
const HOP_BY_HOP_SET: ReadonlySet<string> = new Set(HOP_BY_HOP)

/** Client-sent fields that claim facts about the client; believed only from trusted proxies. */
const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'x-client-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-request-id',
] as const

const FORWARDING_SET: ReadonlySet<string> = new Set(FORWARDING_HEADERS)

/** Framing fields a Connection header must not name: dropping them would reframe the body (Varnish f00010). */
const PROTECTED_FROM_CONNECTION: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host'])

/** A Content-Length as RFC 9110 §8.6 allows it: digits only (no sign, list or spaces). */
export const DIGITS = /^\d+$/

/** Splits a Connection value into lower-case tokens. */
function connectionTokens(value: string): string[] {
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

export interface UpstreamRequestHeaderOptions {
  /** Address of the TCP peer, if known. */
  peerAddress: string | undefined
  /** Whether the peer is a configured trusted proxy. */
  peerTrusted: boolean
  requestId: string
  /** Send the client's Host instead of the target's. */
  preserveHost: boolean
  /** Whether a request body is forwarded (otherwise Content-Length is dropped). */
  hasBody: boolean
}

/**
 * The headers sent upstream: the client's, minus hop-by-hop fields and those named by
 * Connection (removed before the gateway adds its own, so a client cannot strip them), minus
 * unbelieved forwarding fields, plus X-Forwarded-* and X-Request-Id. One pass over the
 * client's fields, appending only what survives.
 */
export function upstreamRequestHeaders(incoming: Headers, options: UpstreamRequestHeaderOptions): Headers {
  const { peerAddress, peerTrusted, preserveHost, hasBody } = options
  const connection = incoming.get('connection')
  const named = connection ? new Set(connectionTokens(connection)) : undefined
  const out = new Headers()
  for (const [name, value] of incoming) {
    if (HOP_BY_HOP_SET.has(name) || named?.has(name)) continue
    if (!peerTrusted && FORWARDING_SET.has(name)) continue
    // Bun answers Expect: 100-continue itself; the upstream gets the whole body.
    if (name === 'expect' || (name === 'host' && !preserveHost)) continue
    if (name === 'content-length' && !hasBody) continue
    out.append(name, value)
  }
  const host = incoming.get('host')
  if (peerTrusted) {
    const prior = named?.has('x-forwarded-for') ? null : incoming.get('x-forwarded-for')
    if (peerAddress) out.set('x-forwarded-for', prior ? `${prior}, ${peerAddress}` : peerAddress)
    if (!out.has('x-forwarded-proto')) out.set('x-forwarded-proto', 'http')
    if (!out.has('x-forwarded-host') && host) out.set('x-forwarded-host', host)
  } else {
    if (peerAddress) out.set('x-forwarded-for', peerAddress)
    out.set('x-forwarded-proto', 'http')
    if (host) out.set('x-forwarded-host', host)
  }
  out.set('x-request-id', options.requestId)
  return out
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

/** Total size of a request header block as counted for the 431 limit. */
export function headerBlockBytes(headers: Headers): number {
  let bytes = 0
  for (const [name, value] of headers) bytes += name.length + value.length + 4
  return bytes
}
