/** Interfaces of the upstream layer: targets, how one is chosen, and the client that talks to it. */

/** One origin of an upstream: its base URL and mutable runtime state. */
export interface Target {
  /** Origin plus base path without a trailing slash, e.g. `http://10.0.0.5:3000/api`. */
  readonly base: string
  /** Requests currently in flight to this target (for smarter policies and stats). */
  inflight: number
}

/** Chooses the target for the next request. Implementations live in `selection/`, one per file. */
export interface SelectionPolicy {
  pick(targets: readonly Target[]): Target
}

/** The request an upstream client sends; bodies stream, nothing is buffered. */
export interface UpstreamRequest {
  method: string
  headers: Headers
  body: ReadableStream<Uint8Array> | null
  signal: AbortSignal
}

/**
 * Sends one request to an absolute URL and resolves with the response head; the body streams.
 * Rejects on connection or protocol failure. Kept behind this interface so that a faster
 * client than fetch can replace it without touching routing, cache or metrics.
 */
export interface UpstreamClient {
  send(url: string, request: UpstreamRequest): Promise<Response>
  /** Closes idle pooled connections (e.g. after a response with unreliable framing). */
  closeIdle(): void
}
