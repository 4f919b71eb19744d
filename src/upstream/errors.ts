/**
 * Upstream failures as typed errors with stable codes (undici's style), one metric label
 * each, and the one mapping from a failed exchange to the gateway's answer (Caddy's
 * statusError): a timeout → 504, anything else → 502. The base client (fetch, or the
 * native one) throws UpstreamErrors; the original error is kept as `cause`, never shown.
 */
import { GatewayError, type UpstreamErrorCode } from '../kernel/errors.ts'
import { BodyTooLargeError } from './body.ts'

export type { UpstreamErrorCode }

const TIMEOUTS: ReadonlySet<UpstreamErrorCode> = new Set(['connect_timeout', 'headers_timeout', 'body_timeout'])

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode
  constructor(code: UpstreamErrorCode, options: { cause?: unknown } = {}) {
    super(code, options)
    this.name = 'UpstreamError'
    this.code = code
  }
}

/** Where the exchange was when it failed, which tells a reset from a short body. */
export interface FailureContext {
  /** The whole-response deadline passed. */
  timedOut: boolean
  /** The client disconnected. */
  clientGone: boolean
  /** The response head had arrived. */
  inBody?: boolean
  /** The response declared a Content-Length (a cut body is then a length mismatch). */
  declaredLength?: boolean
}

/** Classifies what fetch threw (Bun's codes, measured) into an UpstreamError. */
export function classifyFetchError(err: unknown, context: FailureContext): UpstreamError {
  if (err instanceof UpstreamError) return err
  if (context.timedOut) return new UpstreamError(context.inBody ? 'body_timeout' : 'headers_timeout', { cause: err })
  const code = (err as { code?: unknown } | null)?.code
  switch (code) {
    case 'ECONNREFUSED':
    case 'ConnectionRefused':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new UpstreamError('connect_refused', { cause: err })
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'DNSException':
      return new UpstreamError('dns', { cause: err })
    case 'ETIMEDOUT':
      return new UpstreamError(context.inBody ? 'body_timeout' : 'connect_timeout', { cause: err })
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'CERT_UNTRUSTED':
    case 'CERT_REJECTED':
      return new UpstreamError('tls', { cause: err })
    case 'ECONNRESET':
    case 'ConnectionClosed':
    case 'EPIPE':
      // Bun reports a body cut short of its Content-Length as a reset.
      return new UpstreamError(context.inBody && context.declaredLength ? 'length_mismatch' : 'reset', { cause: err })
    default:
      return new UpstreamError('malformed_head', { cause: err })
  }
}

/** The gateway's answer to a failed exchange: 504, 502, 499 (client gone) or 413 (request body). */
export function toGatewayError(err: unknown, context: FailureContext): GatewayError {
  if (err instanceof GatewayError) return err
  if (isRequestBodyTooLarge(err)) {
    return new GatewayError('payload_too_large', { cause: err, closeConnection: true, reason: 'body_too_large' })
  }
  if (context.clientGone) return new GatewayError('client_closed', { cause: err, reason: 'client_closed' })
  const upstream = classifyFetchError(err, context)
  const code = TIMEOUTS.has(upstream.code) ? 'gateway_timeout' : 'bad_gateway'
  return new GatewayError(code, { cause: upstream, reason: upstream.code })
}

/** The client's streamed body passed the limit (thrown into fetch, so it comes back wrapped). */
export function isRequestBodyTooLarge(err: unknown): boolean {
  return err instanceof BodyTooLargeError || causedBy(err, BodyTooLargeError)
}

function causedBy(err: unknown, type: new () => Error): boolean {
  let current: unknown = err
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof type) return true
    current = (current as Error).cause
  }
  return false
}
