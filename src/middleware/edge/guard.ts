/**
 * Checks a request that Bun's parser let through but a proxy must not forward
 * (../shared/notes/http-hardening.md, rows marked "passes"). Rejections leave the
 * connection's framing in doubt, so they also close it.
 */
import { GatewayError } from '../../errors.ts'
import { DIGITS, connectionNamesFramingField, headerBlockBytes } from '../../upstream/headers.ts'

export interface GuardLimits {
  maxUrlBytes: number
  maxHeaderBytes: number
  maxBodyBytes: number
}

/**
 * RFC 9110 §7.2 / RFC 3986 §3.2.2: one host (reg-name or IP literal) and an optional port.
 * Rejects lists (a duplicated Host arrives merged as "a, b"), spaces, "@" and empty values.
 */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(?::\d{1,5})?$/
/** A "%" not followed by two hex digits, or an encoded NUL (nginx-tests http_uri.t: 400). */
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})|%00/

type GuardCode = 'bad_request' | 'uri_too_long' | 'header_fields_too_large' | 'payload_too_large'
const reject = (code: GuardCode) => new GatewayError(code, { closeConnection: true })

/** Throws a GatewayError for a request that must not be forwarded; `targetLength` is path + query. */
export function guardRequest(raw: Request, path: string, targetLength: number, limits: GuardLimits): void {
  const headers = raw.headers
  const host = headers.get('host')
  if (host !== null && !VALID_HOST.test(host)) throw reject('bad_request')
  // Dropping a framing header as hop-by-hop would reframe the body upstream (Varnish f00010).
  if (connectionNamesFramingField(headers.get('connection'))) throw reject('bad_request')
  if (targetLength > limits.maxUrlBytes) throw reject('uri_too_long')
  if (headerBlockBytes(headers) > limits.maxHeaderBytes) throw reject('header_fields_too_large')
  if (BAD_PERCENT.test(path)) throw reject('bad_request')

  const contentLength = headers.get('content-length')
  // Bun accepts identical duplicates as "1, 1"; forwarding that would be ambiguous (RFC 9112 §6.3).
  if (contentLength !== null && !DIGITS.test(contentLength)) throw reject('bad_request')
  const method = raw.method
  if (method === 'GET' || method === 'HEAD') {
    // Bun drops GET/HEAD bodies; forwarding the request without its body would lose data
    // silently, and forwarding the length without the bytes would desync the upstream.
    if ((contentLength !== null && contentLength !== '0') || headers.has('transfer-encoding')) {
      throw reject('bad_request')
    }
  } else if (contentLength !== null && Number(contentLength) > limits.maxBodyBytes) {
    throw reject('payload_too_large')
  }
}
