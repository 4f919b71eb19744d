/**
 * The fetch-based base client: one Bun.FetchSession (its own keep-alive pool) per
 * upstream. Bytes pass through untouched: no decompression (Bun would decode the body but
 * keep Content-Encoding) and no redirect following. Failures become UpstreamErrors. It is
 * the client of https:// targets: certificate verification and SNI are fetch's, and so is
 * HTTP/2 (`http2`, experimental in Bun 1.4, TLS only).
 */
import { classifyFetchError, isRequestBodyTooLarge, UpstreamError } from './errors.ts'
import type { Target, UpstreamClient, UpstreamRequest, UpstreamResponse } from './types.ts'
import { namedTls } from './dns.ts'

export interface FetchClientOptions {
  /** Idle pooled connections kept; 0 disables keep-alive. */
  maxIdleSockets: number
  /** Seconds an idle connection stays pooled (Bun rounds up to its 4 s timer). */
  idleTimeoutSeconds: number
  /** How https:// targets are verified: fetch's `tls` option. */
  tls?: { ca?: string; serverName?: string; rejectUnauthorized: boolean }
  /** Ask https:// targets for HTTP/2 (Bun's experimental client); one that refuses it is asked HTTP/1.1 from then on. */
  http2?: boolean
  /** A target's certificate did not verify: the reason code (for one log line, not per request). */
  onTlsError?: (target: string, reason: string) => void
}

/** Creates a client with its own connection pool; requests need a `target` (see withBalancer). */
export function createFetchClient(options: FetchClientOptions): UpstreamClient {
  const session = new Bun.FetchSession({
    keepAlive:
      options.maxIdleSockets === 0
        ? false
        : { maxIdleSockets: options.maxIdleSockets, idleTimeout: options.idleTimeoutSeconds },
  })
  /** Targets found not to speak HTTP/2 (fetch failed with HTTP2Unsupported), and those that did. */
  const http1Only = new Set<string>()
  const http2Seen = new Set<string>()
  /** Each name-resolved target's TLS settings, made on its first try, not on every one. */
  const namedTlsOf = new WeakMap<Target, NonNullable<FetchClientOptions['tls']>>()
  const fetchOnce = (request: UpstreamRequest, http2: boolean) => {
    // An address resolved from a name (upstream/dns.ts): Host and the TLS server name are the name's.
    const target = request.target!
    const named = target.host
    let tls = options.tls
    if (named !== undefined) {
      tls = namedTlsOf.get(target)
      if (tls === undefined) namedTlsOf.set(target, (tls = namedTls(options.tls, named)))
    }
    const headers = request.headers.toHeaders()
    const { traceparent, tracestate } = request
    if (named !== undefined && !headers.has('host')) headers.set('host', named)
    if (traceparent !== undefined) headers.set('traceparent', traceparent)
    if (tracestate !== undefined) headers.set('tracestate', tracestate)
    return session.fetch(target.base + request.path, {
      method: request.method,
      headers,
      body: request.body,
      signal: request.signal,
      redirect: 'manual',
      decompress: false,
      // Upstreams are addressed directly; HTTP_PROXY in a container must not reroute them.
      proxy: false,
      // Whole-response deadlines come from the signal; no socket idle timer on top.
      timeout: false,
      ...(tls ? { tls } : {}),
      ...(http2 ? { protocol: 'http2' } : {}),
      ...(request.body ? { duplex: 'half' } : {}),
    } as BunFetchRequestInit)
  }
  return {
    async send(request: UpstreamRequest): Promise<UpstreamResponse> {
      const base = request.target!.base
      // A streamed body cannot be sent twice, so only bodiless requests find out about h2.
      const http2 = options.http2 === true && base.startsWith('https:') && !http1Only.has(base) && (request.body === null || http2Seen.has(base))
      try {
        try {
          const response = await fetchOnce(request, http2)
          if (http2) http2Seen.add(base)
          return response
        } catch (err) {
          if (!http2 || (err as { code?: string }).code !== 'HTTP2Unsupported') throw err
          http2Seen.delete(base)
          http1Only.add(base)
          if (request.body !== null) throw err
          return await fetchOnce(request, false)
        }
      } catch (err) {
        if (request.deadline?.timedOut) throw new UpstreamError('headers_timeout', { cause: err })
        // The client left, or sent too much: not an upstream failure (499, 413).
        if (request.signal.aborted || isRequestBodyTooLarge(err)) throw err
        const failure = classifyFetchError(err, { timedOut: false, clientGone: false })
        if (failure.code === 'tls') options.onTlsError?.(base, String((err as { code?: string }).code))
        throw failure
      }
    },
    closeIdle() {
      session.close()
    },
  }
}
