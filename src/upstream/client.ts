/**
 * The fetch-based base client: one Bun.FetchSession (its own keep-alive pool) per
 * upstream. Bytes pass through untouched: no decompression (Bun would decode the body but
 * keep Content-Encoding) and no redirect following. Failures become UpstreamErrors.
 */
import { classifyFetchError, isRequestBodyTooLarge, UpstreamError } from './errors.ts'
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from './types.ts'

export interface FetchClientOptions {
  /** Idle pooled connections kept; 0 disables keep-alive. */
  maxIdleSockets: number
  /** Seconds an idle connection stays pooled (Bun rounds up to its 4 s timer). */
  idleTimeoutSeconds: number
}

/** Creates a client with its own connection pool; requests need a `target` (see withBalancer). */
export function createFetchClient(options: FetchClientOptions): UpstreamClient {
  const session = new Bun.FetchSession({
    keepAlive:
      options.maxIdleSockets === 0
        ? false
        : { maxIdleSockets: options.maxIdleSockets, idleTimeout: options.idleTimeoutSeconds },
  })
  return {
    async send(request: UpstreamRequest): Promise<UpstreamResponse> {
      try {
        return await session.fetch(request.target!.base + request.path, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal: request.signal,
          redirect: 'manual',
          decompress: false,
          // Upstreams are addressed directly; HTTP_PROXY in a container must not reroute them.
          proxy: false,
          // Whole-response deadlines come from the signal; no socket idle timer on top.
          timeout: false,
          ...(request.body ? { duplex: 'half' } : {}),
        } as BunFetchRequestInit)
      } catch (err) {
        if (request.deadline?.timedOut) throw new UpstreamError('headers_timeout', { cause: err })
        // The client left, or sent too much: not an upstream failure (499, 413).
        if (request.signal.aborted || isRequestBodyTooLarge(err)) throw err
        throw classifyFetchError(err, { timedOut: false, clientGone: false })
      }
    },
    closeIdle() {
      session.close()
    },
  }
}
