/**
 * Forwards one request to an upstream and relays the answer. Request bodies stream;
 * response bodies stream too, except small ones of known length, which are read whole
 * first (see `bufferResponseBytes`). Headers follow the hop-by-hop and forwarding rules.
 * Every failure becomes a GatewayError (502/504/413/499) before the response head is sent,
 * or an aborted client connection (never a short body presented as complete) after it.
 */
import { GatewayError } from '../errors.ts'
import { limitBody, relayBody } from './body.ts'
import { toGatewayError } from './errors.ts'
import { startDeadline } from './deadline.ts'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts'
import type { Upstream } from './pool.ts'

/** Sets a per-request idle timeout on the client connection (Bun's `server.timeout`). */
export type ExtendIdleTimeout = (seconds: number) => void

export interface ForwardRequest {
  /** The client's request, as Bun.serve gave it. */
  raw: Request
  upstream: Upstream
  /** Path to send (already stripped of the route prefix when configured), starting with "/". */
  path: string
  /** Query including its "?", or "". */
  query: string
  requestId: string
  peerAddress: string | undefined
  peerTrusted: boolean
  /** Largest request body; only streamed bodies without Content-Length need counting. */
  maxBodyBytes: number
  /** Bun's idle timeout in seconds; a longer upstream deadline extends it for this request. */
  idleTimeoutSeconds: number
  extendIdleTimeout: ExtendIdleTimeout | undefined
  /** Called when an upstream body fails after the head was relayed (for metrics). */
  onBodyError?: (err: unknown) => void
}

const NO_BODY_STATUS: ReadonlySet<number> = new Set([204, 304])
const ignore = () => {}

/** Forwards `request`; resolves with the client response or rejects with a GatewayError. */
export async function forward(request: ForwardRequest): Promise<Response> {
  const { raw, upstream } = request
  const { timeoutMs, preserveHost, maxResponseHeaderBytes, bufferResponseBytes } = upstream.config
  const method = raw.method
  const bodyless = method === 'GET' || method === 'HEAD'
  let body: ReadableStream<Uint8Array> | null = bodyless ? null : raw.body
  if (body && !raw.headers.has('content-length')) body = limitBody(body, request.maxBodyBytes)

  const headers = upstreamRequestHeaders(raw.headers, {
    peerAddress: request.peerAddress,
    peerTrusted: request.peerTrusted,
    requestId: request.requestId,
    preserveHost,
    hasBody: body !== null,
  })

  // Bun's idleTimeout also cuts requests whose response has not started: keep it above
  // the upstream deadline so a slow upstream ends in a 504, not a reset.
  if (request.extendIdleTimeout && timeoutMs + 1000 > request.idleTimeoutSeconds * 1000) {
    const seconds = Math.ceil(timeoutMs / 1000) + 2
    request.extendIdleTimeout(seconds > 255 ? 0 : seconds)
  }

  const deadline = startDeadline(timeoutMs, raw.signal)
  const failure = (err: unknown) => {
    deadline.clear()
    return toGatewayError(err, { timedOut: deadline.timedOut, clientGone: raw.signal.aborted })
  }
  const target = upstream.pick()
  target.inflight++
  let response: Response
  try {
    response = await upstream.client.send(target.base + request.path + request.query, {
      method,
      headers,
      body,
      signal: deadline.signal,
    })
  } catch (err) {
    throw failure(err)
  } finally {
    target.inflight--
  }

  const outHeaders = clientResponseHeaders(response.status, response.headers, maxResponseHeaderBytes)
  if (typeof outHeaders === 'string') {
    deadline.clear()
    // Bytes left on a connection after a malformed head could be read as the next
    // response: drop the idle pool rather than risk a desync.
    response.body?.cancel().catch(ignore)
    upstream.client.closeIdle()
    throw new GatewayError('bad_gateway', { reason: 'malformed' })
  }

  let outBody: ReadableStream<Uint8Array> | ArrayBuffer | null = null
  if (method === 'HEAD' || NO_BODY_STATUS.has(response.status) || !response.body) {
    deadline.clear()
    response.body?.cancel().catch(ignore)
  } else {
    const length = outHeaders.get('content-length')
    if (length !== null && Number(length) <= bufferResponseBytes) {
      // Small bodies of known length are read whole, like nginx's proxy buffers: the client
      // gets an exact Content-Length, a truncated body becomes a 502 instead of a short 200,
      // and Bun sends it natively (a JS relay halves proxied throughput on small bodies).
      try {
        outBody = await response.arrayBuffer()
      } catch (err) {
        throw failure(err)
      }
      deadline.clear()
    } else {
      outBody = relayBody(response.body, { onEnd: deadline.clear, onError: request.onBodyError ?? ignore })
    }
  }
  return new Response(outBody, { status: response.status, headers: outHeaders })
}
