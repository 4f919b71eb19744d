/**
 * Checks a request that Bun's parser let through but a proxy must not forward
 * (../shared/notes/http-hardening.md, rows marked "passes"). Rejections leave the
 * connection's framing in doubt, so they also close it.
 */
import { GatewayError } from '../../kernel/errors.ts'
import { DIGITS, connectionNamesFramingField, headerBlockBytes } from '../../kernel/forwarding.ts'
import { joinedValue, type FieldSnapshot } from '../../kernel/fields.ts'
import { INVALID_PATH } from '../../kernel/path.ts'

export interface GuardLimits {
  maxUrlBytes: number
  maxHeaderBytes: number
  maxBodyBytes: number
  /** "reject": a header name with "_" gets 400 (Envoy's REJECT_REQUEST); otherwise dropped or allowed when forwarding. */
  underscoresInHeaders: 'drop' | 'reject' | 'allow'
}

/**
 * RFC 9110 §7.2 / RFC 3986 §3.2.2: one host (reg-name or IP literal) and an optional port.
 * Rejects lists (a duplicated Host arrives merged as "a, b"), spaces, "@", empty values and
 * empty labels ("a..b", as nginx does).
 */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|(?![^:]*\.\.)[A-Za-z0-9._~-]+)(?::\d{1,5})?$/

/** Whether a Host header value is one host and an optional port (VALID_HOST). */
export const isValidHost = (host: string): boolean => VALID_HOST.test(host)

type GuardCode = 'bad_request' | 'uri_too_long' | 'header_fields_too_large' | 'payload_too_large'
const reject = (code: GuardCode) => new GatewayError(code, { closeConnection: true })

/** The refusals, made once: a refused request costs no allocation but its answer. */
const REFUSALS = {
  bad_request: reject('bad_request'),
  uri_too_long: reject('uri_too_long'),
  header_fields_too_large: reject('header_fields_too_large'),
  payload_too_large: reject('payload_too_large'),
}

/**
 * The refusal of a request that must not be forwarded, or undefined. `fields` is the
 * request's toJSON snapshot, read as a plain object (one native call, not one per field);
 * `path` is the normalised path (INVALID_PATH for a malformed escape, "%00" or a refused
 * escaped slash); `targetLength` is the received path + query.
 */
export function guardRequest(raw: Request, fields: FieldSnapshot, path: string, targetLength: number, limits: GuardLimits): GatewayError | undefined {
  const host = joinedValue(fields.host)
  if (host !== null && !VALID_HOST.test(host)) return REFUSALS.bad_request
  // Dropping a framing header as hop-by-hop would reframe the body upstream (Varnish f00010).
  if (connectionNamesFramingField(joinedValue(fields.connection))) return REFUSALS.bad_request
  if (targetLength > limits.maxUrlBytes) return REFUSALS.uri_too_long
  const block = headerBlockBytes(fields)
  if (block.bytes > limits.maxHeaderBytes) return REFUSALS.header_fields_too_large
  if (block.underscore && limits.underscoresInHeaders === 'reject') return REFUSALS.bad_request
  if (path === INVALID_PATH) return REFUSALS.bad_request

  const contentLength = joinedValue(fields['content-length'])
  // Bun accepts identical duplicates as "1, 1"; forwarding that would be ambiguous (RFC 9112 §6.3).
  if (contentLength !== null && !DIGITS.test(contentLength)) return REFUSALS.bad_request
  const method = raw.method
  if (method === 'GET' || method === 'HEAD') {
    // Bun drops GET/HEAD bodies; forwarding the request without its body would lose data
    // silently, and forwarding the length without the bytes would desync the upstream.
    if ((contentLength !== null && contentLength !== '0') || fields['transfer-encoding'] !== undefined) {
      return REFUSALS.bad_request
    }
  } else if (contentLength !== null && Number(contentLength) > limits.maxBodyBytes) {
    return REFUSALS.payload_too_large
  }
}
