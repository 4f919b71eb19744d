/**
 * One mapping from a failed upstream exchange to the gateway's answer (Caddy's statusError):
 * deadline → 504, client gone → 499, body over the limit → 413, anything else → 502.
 * The original error is kept as `cause`, never shown to the client.
 */
import { GatewayError, type UpstreamFailure } from '../errors.ts'
import { BodyTooLargeError } from './body.ts'

export interface FailureContext {
  /** The whole-response deadline passed. */
  timedOut: boolean
  /** The client disconnected. */
  clientGone: boolean
}

/** Classifies `err`, thrown by the upstream client, into a GatewayError. */
export function toGatewayError(err: unknown, context: FailureContext): GatewayError {
  if (err instanceof GatewayError) return err
  if (err instanceof BodyTooLargeError || causedBy(err, BodyTooLargeError)) {
    return new GatewayError('payload_too_large', { cause: err, closeConnection: true, reason: 'body_too_large' })
  }
  if (context.clientGone) return new GatewayError('client_closed', { cause: err, reason: 'client_closed' })
  if (context.timedOut) return new GatewayError('gateway_timeout', { cause: err, reason: 'timeout' })
  return new GatewayError('bad_gateway', { cause: err, reason: failureReason(err) })
}

/** Buckets Bun's fetch error codes into the reasons used by metrics. */
export function failureReason(err: unknown): UpstreamFailure {
  const code = (err as { code?: unknown } | null)?.code
  switch (code) {
    case 'ECONNREFUSED':
    case 'ConnectionRefused':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'connect_refused'
    case 'ECONNRESET':
    case 'ConnectionClosed':
    case 'EPIPE':
      return 'reset'
    case 'ETIMEDOUT':
      return 'timeout'
    default:
      return 'malformed'
  }
}

function causedBy(err: unknown, type: new () => Error): boolean {
  let current: unknown = err
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof type) return true
    current = (current as Error).cause
  }
  return false
}
