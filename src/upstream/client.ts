/**
 * The fetch-based upstream client: one Bun.FetchSession (its own keep-alive pool) per
 * upstream. Bytes pass through untouched: no decompression (Bun would decode the body but
 * keep Content-Encoding) and no redirect following.
 */
import type { UpstreamClient, UpstreamRequest } from './types.ts'

export interface FetchClientOptions {
  /** Idle pooled connections kept; 0 disables keep-alive. */
  maxIdleSockets: number
  /** Seconds an idle connection stays pooled (Bun rounds up to its 4 s timer). */
  idleTimeoutSeconds: number
}

/** Creates a client with its own connection pool. */
export function createFetchClient(options: FetchClientOptions): UpstreamClient {
  const session = new Bun.FetchSession({
    keepAlive:
      options.maxIdleSockets === 0
        ? false
        : { maxIdleSockets: options.maxIdleSockets, idleTimeout: options.idleTimeoutSeconds },
  })
  return {
    send(url: string, request: UpstreamRequest): Promise<Response> {
      return session.fetch(url, {
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
    },
    closeIdle() {
      session.close()
    },
  }
}
