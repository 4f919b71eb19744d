/**
 * The catalogue of responses the gateway makes itself. Each has a stable code (for clients
 * and dashboards) and a status. Bodies are one small JSON object and never carry a
 * message, stack, path or upstream address: `{"error": code, "status": N, "requestId": id}`.
 */

export const ERRORS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  /** A route's rate limit (with Retry-After and the RateLimit fields). */
  rate_limited: 429,
  /** Too many failed authentications from one client address on a route (with Retry-After; docs/policies.md). */
  auth_throttled: 429,
  payload_too_large: 413,
  uri_too_long: 414,
  header_fields_too_large: 431,
  /** nginx's "client closed request": nobody reads it, but logs and metrics can. */
  client_closed: 499,
  internal_error: 500,
  /** A plugin threw, or answered with something other than a Response (logged once per 10 s per plugin). */
  plugin_error: 500,
  bad_gateway: 502,
  /** Too much work in flight: an upstream's connections and wait queue are full (with Retry-After). */
  overloaded: 503,
  /** The upstream's circuit breaker is open: answered without touching the network (with Retry-After). */
  upstream_unavailable: 503,
  /** A global rate limit with onStoreFailure: deny, while Redis cannot be reached (with Retry-After). */
  rate_limit_unavailable: 503,
  gateway_timeout: 504,
  /** Cache-Control: only-if-cached, and nothing usable is stored (RFC 9111 §5.2.1.7). */
  not_cached: 504,
  /**
   * A gRPC call (content-type application/grpc): the gateway cannot carry gRPC (Bun.serve sends no
   * HTTP/2 trailers), and says so as gRPC does: HTTP 200, grpc-status 12 UNIMPLEMENTED, no body.
   */
  grpc_unimplemented: 200,
} as const

export type ErrorCode = keyof typeof ERRORS

/** Why an exchange with an upstream failed (upstream/errors.ts): stable codes, metric labels. */
export const UPSTREAM_ERROR_CODES = [
  'connect_refused',
  'dns',
  'connect_timeout',
  'headers_timeout',
  'body_timeout',
  'reset',
  'malformed_head',
  'length_mismatch',
  /** The target's certificate did not verify (wrong CA, name, expiry). */
  'tls',
] as const

export type UpstreamErrorCode = (typeof UPSTREAM_ERROR_CODES)[number]

/** Why an exchange failed: an upstream error code, or the client's side. Never a client-visible text. */
export type UpstreamFailure = UpstreamErrorCode | 'body_too_large' | 'client_closed'

/** A failure the gateway answers itself. `cause` keeps the original error for debugging. */
export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** Extra response headers, e.g. Allow on 405. */
  readonly headers: Readonly<Record<string, string>> | undefined
  /** Close the client connection after answering (framing may be unreliable). */
  readonly closeConnection: boolean
  /** For upstream failures: the reason, for metrics. */
  readonly reason: UpstreamFailure | undefined

  constructor(
    code: ErrorCode,
    options: {
      cause?: unknown
      headers?: Record<string, string>
      closeConnection?: boolean
      reason?: UpstreamFailure
    } = {}
  ) {
    super(code, { cause: options.cause })
    this.name = 'GatewayError'
    this.code = code
    this.status = ERRORS[code]
    this.headers = options.headers
    this.closeConnection = options.closeConnection ?? false
    this.reason = options.reason
  }
}

/** Too much in flight (a full worker, upstream queue or socket cap): refused at once, with Retry-After. */
export const overloaded = (): GatewayError => new GatewayError('overloaded', { headers: { 'retry-after': '1' } })

/**
 * Renders the JSON body for a gateway-made response. Hand-built rather than JSON.stringify'd:
 * the code is from the catalogue and the request id is validated or generated, so neither
 * needs escaping.
 */
export function errorResponse(
  code: ErrorCode,
  requestId: string,
  extraHeaders?: Readonly<Record<string, string>>,
  closeConnection = false
): Response {
  const status = ERRORS[code]
  const headers = new Headers(extraHeaders)
  headers.set('content-type', 'application/json')
  headers.set('cache-control', 'no-store')
  headers.set('x-request-id', requestId)
  if (closeConnection) headers.set('connection', 'close')
  const body = errorBody(code, status, requestId)
  // Declared, so the answer's size is known where it is recorded (metrics); ASCII, so length is bytes.
  headers.set('content-length', String(body.length))
  return new Response(body, { status, headers })
}

const errorBody = (code: string, status: number, requestId: string) => `{"error":"${code}","status":${status},"requestId":"${requestId}"}`
/** Every status is three digits, and codes and request ids are ASCII: one byte a character. */
const ERROR_BODY_BYTES = errorBody('', 500, '').length

/** The bytes of the body `errorResponse(code, requestId)` makes (the access log's `bytes`). */
export const errorBodyBytes = (code: ErrorCode, requestId: string): number => ERROR_BODY_BYTES + code.length + requestId.length

/**
 * gRPC's "Trailers-Only" answer (grpc/doc/PROTOCOL-HTTP2.md, "Responses"): one HEADERS frame
 * that ends the stream, carrying the status a gRPC client reads. grpc-message is
 * percent-encoded by the spec: this text has no "%" and nothing outside %x20-7E.
 */
function grpcUnimplemented(requestId: string): Response {
  return new Response(null, {
    status: 200,
    headers: {
      'content-type': 'application/grpc',
      'grpc-status': '12',
      'grpc-message': 'this gateway cannot proxy gRPC: Bun.serve sends no HTTP/2 trailers (docs/proxying.md, gRPC)',
      'x-request-id': requestId,
    },
  })
}

/** The code of each answer the gateway made itself, for metrics and for a stage that must tell a refusal from an upstream's answer. */
const refusals = new WeakMap<Response, GatewayError>()

/**
 * The answer for a refusal where it happens: the catalogue's JSON with the request id, as a
 * Response, so every stage outside sees it (CORS, response header rules) like any other.
 */
export function refusal(requestId: string, error: GatewayError): Response {
  const response = error.code === 'grpc_unimplemented' ? grpcUnimplemented(requestId) : errorResponse(error.code, requestId, error.headers, error.closeConnection)
  refusals.set(response, error)
  return response
}

/** `refusal` for a code of the catalogue. */
export function refuse(requestId: string, code: ErrorCode, options?: ConstructorParameters<typeof GatewayError>[1]): Response {
  return refusal(requestId, new GatewayError(code, options))
}

/** The refusal `response` is, if the gateway made it (undefined for an upstream's or the cache's answer). */
export function refusalOf(response: Response): GatewayError | undefined {
  return refusals.get(response)
}

/** Another error than a GatewayError is a bug: it becomes a 500 (by the caller, which logs its class). */
export function asGatewayError(err: unknown): GatewayError | undefined {
  return err instanceof GatewayError ? err : undefined
}
