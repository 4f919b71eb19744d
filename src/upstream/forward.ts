/**
 * Forwards one request to an upstream and relays the answer. Request bodies stream;
 * response bodies stream too, except small ones of known length, which are read whole
 * first (see `bufferResponseBytes`). Headers follow the hop-by-hop and forwarding rules.
 * Every failure becomes a GatewayError (502/504/413/499) before the response head is sent,
 * or an aborted client connection (never a short body presented as complete) after it.
 */
import { GatewayError, type UpstreamFailure } from '../errors.ts'
import { limitBody, relayBody } from './body.ts'
import { toGatewayError } from './errors.ts'
import { startDeadline } from './deadline.ts'
import { clientResponseHeaders, upstreamRequestHeaders, type ForwardingContext } from './headers.ts'
import type { Upstream } from './pool.ts'

/** Sets a per-request idle timeout on the client connection (Bun's `server.timeout`). */
export type ExtendIdleTimeout = (seconds: number) => void

export interface ForwardRequest extends ForwardingContext {
  /** The client's request, as Bun.serve gave it. */
  raw: Request
  upstream: Upstream
  /** Path to send (already stripped of the route prefix when configured), starting with "/". */
  path: string
  /** Query including its "?", or "". */
  query: string
  /** Largest request body; only streamed bodies without Content-Length need counting. */
  maxBodyBytes: number
  /** Bun's idle timeout in seconds; a longer upstream deadline extends it for this request. */
  idleTimeoutSeconds: number
  extendIdleTimeout: ExtendIdleTimeout | undefined
  /** Adjusts the upstream request headers (the cache adds validators, drops client conditionals). */
  adjustHeaders?: (headers: Headers) => void
  /** Replaces the client's abort signal (background revalidation outlives its client). */
  signal?: AbortSignal
  /** Told about each exchange's latency or failure (metrics). */
  observer?: UpstreamObserver
  /** Filled with the time to the response head, for the access log. */
  timing?: { upstreamMs?: number }
}

/** What the forwarder reports about upstream exchanges; implemented by metrics. */
export interface UpstreamObserver {
  /** A response head arrived `seconds` after the request was sent. */
  response(upstream: string, status: number, seconds: number): void
  error(upstream: string, reason: UpstreamFailure): void
}

/** An upstream answer whose head passed the checks; its body is still to be consumed. */
export interface UpstreamExchange {
  readonly status: number
  /** Client-facing headers: hop-by-hop fields already removed. */
  readonly headers: Headers
  /** Reads the whole body; a failure (reset, truncation, deadline) rejects with a GatewayError. */
  bytes(): Promise<Uint8Array>
  /** The client response: small bodies buffered, others streamed (see `bufferResponseBytes`). */
  relay(): Promise<Response>
  /**
   * Reads the body if it is at most `limit` bytes (the cache's maxObjectBytes), without ever
   * holding more than that: resolves with the bytes, or, once the body proves larger, with a
   * client response that streams what was read and then the rest.
   */
  collect(limit: number): Promise<Uint8Array | Response>
  /** Drops the body and ends the deadline. */
  discard(): void
}

const NO_BODY_STATUS: ReadonlySet<number> = new Set([204, 304])
const ignore = () => {}

/** Forwards `request`; resolves with the client response or rejects with a GatewayError. */
export async function forward(request: ForwardRequest): Promise<Response> {
  return (await exchange(request)).relay()
}

/** Sends `request` upstream and resolves once a valid response head arrived. */
export async function exchange(request: ForwardRequest): Promise<UpstreamExchange> {
  const { raw, upstream } = request
  const { timeoutMs, maxResponseHeaderBytes, bufferResponseBytes } = upstream.config
  const method = raw.method
  const bodyless = method === 'GET' || method === 'HEAD'
  let body: ReadableStream<Uint8Array> | null = bodyless ? null : raw.body
  if (body && !raw.headers.has('content-length')) body = limitBody(body, request.maxBodyBytes)

  const headers = upstreamRequestHeaders(raw.headers, request, body !== null)
  request.adjustHeaders?.(headers)

  // Bun's idleTimeout also cuts requests whose response has not started: keep it above
  // the upstream deadline so a slow upstream ends in a 504, not a reset.
  if (request.extendIdleTimeout && timeoutMs + 1000 > request.idleTimeoutSeconds * 1000) {
    const seconds = Math.ceil(timeoutMs / 1000) + 2
    request.extendIdleTimeout(seconds > 255 ? 0 : seconds)
  }

  const clientSignal = request.signal ?? raw.signal
  const deadline = startDeadline(timeoutMs, clientSignal)
  const observer = request.observer
  const failure = (err: unknown) => {
    deadline.clear()
    const mapped = toGatewayError(err, { timedOut: deadline.timedOut, clientGone: clientSignal.aborted })
    if (mapped.reason && mapped.reason !== 'client_closed' && mapped.reason !== 'body_too_large') {
      observer?.error(upstream.name, mapped.reason)
    }
    return mapped
  }
  const target = upstream.pick()
  target.inflight++
  const sentAt = performance.now()
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

  const elapsedMs = performance.now() - sentAt
  if (request.timing) request.timing.upstreamMs = elapsedMs
  const outHeaders = clientResponseHeaders(response.status, response.headers, maxResponseHeaderBytes)
  if (typeof outHeaders === 'string') {
    deadline.clear()
    observer?.error(upstream.name, 'malformed')
    // Bytes left on a connection after a malformed head could be read as the next
    // response: drop the idle pool rather than risk a desync.
    response.body?.cancel().catch(ignore)
    upstream.client.closeIdle()
    throw new GatewayError('bad_gateway', { reason: 'malformed' })
  }

  outHeaders.set('x-request-id', request.requestId)
  const status = response.status
  observer?.response(upstream.name, status, elapsedMs / 1000)
  const hasBody = method !== 'HEAD' && !NO_BODY_STATUS.has(status) && response.body !== null
  const discard = () => {
    deadline.clear()
    response.body?.cancel().catch(ignore)
  }
  const bytes = async (): Promise<Uint8Array> => {
    if (!hasBody) {
      discard()
      return new Uint8Array(0)
    }
    try {
      return await response.bytes()
    } catch (err) {
      throw failure(err)
    } finally {
      deadline.clear()
    }
  }
  const relayHooks = { onEnd: deadline.clear, onError: ignore }
  const collect = async (limit: number): Promise<Uint8Array | Response> => {
    const declared = outHeaders.get('content-length')
    if (!hasBody || (declared !== null && Number(declared) <= limit)) return bytes()
    if (declared !== null) return new Response(relayBody(response.body!, relayHooks), { status, headers: outHeaders })
    const reader = response.body!.getReader()
    const chunks: Uint8Array[] = []
    let size = 0
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) {
          deadline.clear()
          return concat(chunks, size)
        }
        chunks.push(value)
        size += value.byteLength
        if (size > limit) break
      }
    } catch (err) {
      throw failure(err)
    }
    return new Response(relayBody(replay(chunks, reader), relayHooks), { status, headers: outHeaders })
  }
  return {
    status,
    headers: outHeaders,
    bytes,
    collect,
    discard,
    async relay() {
      if (!hasBody) {
        discard()
        return new Response(null, { status, headers: outHeaders })
      }
      const length = outHeaders.get('content-length')
      if (length !== null && Number(length) <= bufferResponseBytes) {
        // Small bodies of known length are read whole, like nginx's proxy buffers: the client
        // gets an exact Content-Length, a truncated body becomes a 502 instead of a short 200,
        // and Bun sends it natively (a JS relay halves proxied throughput on small bodies).
        return new Response(await bytes(), { status, headers: outHeaders })
      }
      const relayed = relayBody(response.body!, relayHooks)
      return new Response(relayed, { status, headers: outHeaders })
    },
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}

/** A stream of `prefix` followed by what `reader` still has. */
interface ChunkReader {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>
  cancel(reason?: unknown): Promise<void>
}

function replay(prefix: Uint8Array[], reader: ChunkReader): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = prefix.shift()
      if (next) return controller.enqueue(next)
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
}
