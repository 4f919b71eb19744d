/**
 * Interfaces of the upstream layer: targets, how one is chosen, and the client that talks
 * to them. A client is a base (native or fetch) inside wrappers, each one concern (undici's
 * Dispatcher.compose): head checks → breaker → retries → balancer (each try, and its span) → base
 * (pool.ts).
 */
import type { Exchange } from '../kernel/exchange.ts'
import type { Fields } from '../kernel/fields.ts'
import type { Deadline } from './deadline.ts'
import type { UpstreamErrorCode } from '../kernel/errors.ts'

/** One origin of an upstream: its base URL and mutable runtime state. */
export interface Target {
  /** Origin plus base path without a trailing slash, e.g. `http://10.0.0.5:3000/api`. */
  readonly base: string
  /** `host:port` (the port always written), for logs: which target answered or failed. */
  readonly address: string
  /** Share of the traffic, relative to the other targets' weights. */
  readonly weight: number
  /**
   * For an address resolved from a name (upstream/dns.ts): the name (with a non-default
   * port), sent as Host unless preserveHost and used as the TLS server name.
   */
  readonly host?: string
  /** Removed from its upstream by DNS: its in-flight requests finish, its idle connections close. */
  retired?: boolean
  /** Requests currently in flight to this target (least-inflight, /upstreams). */
  inflight: number
  /** Active health (the primary's checker); true until a check says otherwise. */
  healthy: boolean
  /** An active check has given its verdict: without one, `healthy` is an assumption, shown as unknown. */
  checked: boolean
  /** Passive health: ejected until this time (performance.now ms), 0 when not. */
  ejectedUntil: number
  /** Times ejected so far (each ejection lasts longer). */
  ejections: number
  /** Failures in a row (connect failures, resets, 5xx). */
  failures: number
  /** Tries sent to this target, retries included (read by metrics at scrape time). */
  sent: number
  /** Tries that failed, by reason (read by metrics); made on the first failure. */
  failedBy: Map<UpstreamErrorCode, number> | undefined
}

/** Chooses the target for the next request among `targets` (the available ones). Implementations live in `selection/`, one per file. */
export interface SelectionPolicy {
  pick(targets: readonly Target[], request: Pick<UpstreamRequest, 'hashKey'>): Target
}

/** The request a client sends; bodies stream, nothing is buffered. */
export interface UpstreamRequest {
  method: string
  /** Path and query, appended to the target's base. */
  path: string
  /** The fields sent (kernel/fields.ts): forwarding and header rules applied, hop-by-hop removed. */
  headers: Fields
  body: ReadableStream<Uint8Array> | null
  signal: AbortSignal
  /**
   * The exchange's deadline (upstream/deadline.ts): whether the signal fired for it (a
   * timeout) rather than the client leaving, and a direct abort listener that costs less
   * than one on the signal.
   */
  deadline?: Pick<Deadline, 'timedOut' | 'aborted' | 'reason' | 'onAbort'>
  /** The target, once the balancer chose it. */
  target?: Target
  /** Targets already tried for this request (retries go elsewhere when they can). */
  tried?: Target[]
  /** What `hash` balancing hashes (the client address, a header or a cookie), when it applies. */
  hashKey?: string
  /**
   * The client's exchange: each try records its target on it, a failed try names its route
   * and request id, and with tracing each try is a span of its `trace` (wrappers/balancer.ts).
   */
  exchange?: Exchange
  /**
   * The W3C trace fields of this try (the balancer sets them when tracing is on): the
   * base client sends them after `headers`.
   */
  traceparent?: string | undefined
  tracestate?: string | undefined
}

/**
 * An upstream's answer: what the forwarder reads of it. fetch's Response is one; the native
 * client makes a lighter one (the forwarder builds the client's Response itself).
 */
export interface UpstreamResponse {
  readonly status: number
  readonly headers: Headers
  /** The body stream; null when there is none. */
  readonly body: ReadableStream<Uint8Array> | null
  /** True when there is no body, known without making a stream (the native client sets it). */
  readonly empty?: boolean
  /** The whole body, when the client read it before handing the answer over (the native client's small bodies). */
  readonly whole?: Uint8Array
  /** The fields as a Response init, cheaper for the client's Response than `headers` (the native client's). */
  readonly init?: Headers | Record<string, string> | [string, string][]
  /** The whole body. */
  bytes(): Promise<Uint8Array>
}

/**
 * Reports a failed try of `target`, of its head or of its body after the head: counted on the
 * target (per-target metrics) and said in the failure lines (upstream/failure-log.ts).
 */
export type TryFailed = (target: Target, code: UpstreamErrorCode, exchange: Exchange | undefined) => void

/**
 * Sends one request and resolves with the response head; the body streams. Rejects with an
 * UpstreamError (upstream/errors.ts) on connection or protocol failure.
 */
export interface UpstreamClient {
  send(request: UpstreamRequest): Promise<UpstreamResponse>
  /** Closes idle pooled connections (e.g. after a response with unreliable framing). */
  closeIdle(): void
  /**
   * True when every response head it resolves with already passed what the head checks
   * (wrappers/head-checks.ts) enforce and lost its hop-by-hop fields: the native parser
   * does both while it reads the head, so its upstreams skip that wrapper.
   */
  readonly checksHeads?: boolean
  /** A target left its upstream (DNS): close its idle connections now and the others once their request ends. */
  retire?(target: Target): void
}

/**
 * What is reported about one upstream's exchanges (metrics). The forwarder, which sends every
 * request and reads every answer, reports a request's time to its response head and its
 * failure by code, of the head or of the body; the wrappers report their own events.
 */
export interface UpstreamObserver {
  /** A response head arrived `seconds` after the request was sent. */
  response(status: number, seconds: number): void
  error(code: UpstreamErrorCode): void
  /** A request that was retried ended: with a success, a failure, or out of budget. */
  retry?(outcome: 'success' | 'failure' | 'budget_exhausted'): void
  /** Passive health ejected the target with this base URL. */
  ejected?(target: string): void
  /** The circuit breaker changed state. */
  breaker?(state: 'closed' | 'open' | 'half-open'): void
}

/** A layer around a client. */
export type ClientWrapper = (next: UpstreamClient) => UpstreamClient

/** Wraps `base` in `wrappers`, the first one outermost. */
export function composeClient(base: UpstreamClient, ...wrappers: ClientWrapper[]): UpstreamClient {
  return wrappers.reduceRight((client, wrap) => wrap(client), base)
}

/**
 * `next.send(request)` for a wrapper that chains a `then` on it instead of being an async
 * function: a send that throws still answers with a rejection, as an async one would.
 */
export function sendFrom(next: UpstreamClient, request: UpstreamRequest): Promise<UpstreamResponse> {
  try {
    return next.send(request)
  } catch (err) {
    return Promise.reject(err)
  }
}
