/**
 * The state of one request as it goes through its route's chain, and only that: made once
 * at the edge, read by every stage, so nothing is passed down and back up. What few fields
 * a stage fills in (the identity, the upstream latency for the access log, the cache's
 * validators for the upstream) live here too. Costly facts are looked up on first use: the
 * peer address (Bun's requestIP measured 1.4 µs) is needed to forward, not to answer
 * /health or a cache hit.
 */
import type { RouteView } from './policy.ts'
import type { Peer, ServerBindings } from './types.ts'
import { RecordReader, type FieldReader, type Fields, type FieldSnapshot } from './fields.ts'

/** Whether an address is a trusted proxy (net/ip-matcher.ts makes one from CIDRs). */
export type IpMatcher = (address: string | undefined) => boolean

/** Who is trusted, fixed at boot. */
export interface TrustPolicy {
  isTrusted: IpMatcher
  /** False when no proxy is trusted: then no request needs its peer to know it is untrusted. */
  trustsProxies: boolean
}

/** Looks up the TCP peer of `raw` and whether it is a trusted proxy. */
export function peerOf(server: ServerBindings | undefined, raw: Request, trust: TrustPolicy): Peer {
  const address = server?.requestIP?.(raw)?.address
  return { address, trusted: trust.trustsProxies && trust.isTrusted(address) }
}

/**
 * A request's trace (tracing/ makes it, when `tracing` is configured), as the upstream side
 * sees it: each try is a span of its own, and the upstream is told its id.
 */
export interface RequestTrace {
  readonly traceId: string
  /**
   * Starts the span of one upstream try (the first is resend 0): sets the `traceparent`
   * naming it, and the `tracestate` passed on, on the try's `fields`, which the base client
   * writes after the headers (the client's own were not copied: kernel/forwarding.ts).
   * Undefined when the trace is not sampled: the try is sent, and nothing is recorded.
   */
  startTry(fields: TraceFields, method: string, path: string, resendCount: number): TryTrace | undefined
  /** Sets the `traceparent`/`tracestate` of a request sent without a try span (a WebSocket handshake). */
  inject(headers: Fields): void
}

/**
 * The W3C trace fields an upstream try sends: set as strings on the request, not on its
 * Headers (a new field and a delete on every request cost more than the span they name).
 */
export interface TraceFields {
  traceparent?: string | undefined
  tracestate?: string | undefined
}

/** One upstream try's span: ended with the target tried and what came of it. */
export interface TryTrace {
  end(target: string | undefined, status: number | undefined, error: string | undefined): void
}

/** Who an auth stage found the caller to be, and what of the request must not go upstream. */
export interface Identity {
  /** The consumer's name, sent upstream in `header`. */
  readonly consumer: string
  readonly header: string
  /** The request field that carried the credential, removed before forwarding (unless configured). */
  readonly credentialField: string | undefined
}

export class Exchange {
  /** ms from sending upstream to the response head, once known (access log). */
  upstreamMs: number | undefined = undefined
  /** Tries sent to upstream targets (the balancer counts them); 0: the request never reached one. */
  upstreamTries = 0
  /** `host:port` of the target the last try went to: the one that answered, when one did. */
  upstreamAddress: string | undefined = undefined
  /** The upstream's status (the client's may differ: a revalidated cache entry's 304 is its 200). */
  upstreamStatus: number | undefined = undefined
  /** Request body bytes read, for a body without Content-Length (counted as it is forwarded). */
  requestBytes: number | undefined = undefined
  /** Response body bytes, where Content-Length does not say: a stage that made the body, or a streamed relay once it ended. */
  responseBytes: number | undefined = undefined
  /**
   * The Response the forwarder made with this request's X-Request-Id among the fields it was
   * made from, and `responseBytes` its Content-Length: where the request ends, its Headers need
   * not be made (~0.5 µs) unless a stage of the route may have changed them (pipeline/serve.ts).
   */
  stamped: Response | undefined = undefined
  /** A streamed relay of unknown length is under way; `afterRelay` is called once it ended (the access log waits for its bytes). */
  relaying = false
  afterRelay: (() => void) | undefined = undefined
  /** A stage re-encodes the relayed body (compression): it reports the end of what the client got, not the upstream relay. */
  relayEncoded = false
  /** Set by the route's auth stage. */
  identity: Identity | undefined = undefined
  /**
   * The request's fields as the limits stage read them (Bun's toJSON snapshot), which the
   * forwarder reuses. Whatever changes the request's headers after it clears this: the plugin
   * guard does, before any plugin runs.
   */
  fields: FieldSnapshot | undefined = undefined
  /** A last say over the upstream request's headers, set by a stage for the request it sends on (the cache's validators). */
  adjustUpstreamHeaders: ((headers: Fields) => void) | undefined = undefined
  /** This request's W3C trace id when tracing is on (the access log's). */
  traceId: string | undefined = undefined
  /** This request's trace when tracing is on: the upstream tries are its children. */
  trace: RequestTrace | undefined = undefined
  /** The upstream request outlives the client (a background revalidation): the client leaving does not abort it. */
  background = false
  /** The upstream this request goes to when its route splits (`routes[].split`): chosen before the cache, so variants stay apart. */
  upstream: string | undefined = undefined
  #peer: Peer | undefined
  #state: Map<unknown, unknown> | undefined
  #reader: RecordReader | undefined

  constructor(
    /** The client's request, as Bun.serve gave it. */
    readonly raw: Request,
    /** `raw.url`, read once (each read makes a new string). */
    readonly url: string,
    readonly server: ServerBindings | undefined,
    readonly route: RouteView,
    /** The normalised path the router matched: the one forwarded and cached by (a stage may rewrite it). */
    public path: string,
    /** The query with its "?", as received (no fragment), or ""; a stage may change it (auth takes its credential out). */
    public query: string,
    readonly requestId: string,
    private readonly trust: TrustPolicy,
    peer?: Peer,
    /** The Host field, normalised by the edge (lower case, no default port, no root dot); null without one. */
    readonly host: string | null = raw.headers.get('host')
  ) {
    this.#peer = peer
  }

  /** The client's request (a Fetch Request; its headers are what goes upstream, by the forwarding rules). */
  get request(): Request {
    return this.raw
  }

  /**
   * The client's fields to read: from the limits stage's snapshot while there is one (a
   * property lookup a read; Headers costs a native call each), else from the request's Headers.
   */
  get requestFields(): FieldReader {
    const fields = this.fields
    if (fields === undefined) return this.raw.headers
    if (this.#reader?.record !== fields) this.#reader = new RecordReader(fields)
    return this.#reader
  }

  /** Per-request state for stages and plugins, made on first use; key it by something of yours (a Symbol). */
  get state(): Map<unknown, unknown> {
    this.#state ??= new Map()
    return this.#state
  }

  /** A copy for a request of its own sent on the same client request (a background revalidation; a mirror, with its own copy of the body in `raw`). */
  fork(raw: Request = this.raw): Exchange {
    const copy = new Exchange(raw, this.url, this.server, this.route, this.path, this.query, this.requestId, this.trust, this.#peer, this.host)
    copy.identity = this.identity
    copy.traceId = this.traceId
    copy.trace = this.trace
    copy.upstream = this.upstream
    copy.#state = this.#state
    return copy
  }

  /** The TCP peer, looked up on first use. */
  get peer(): Peer {
    this.#peer ??= peerOf(this.server, this.raw, this.trust)
    return this.#peer
  }

  /** Whether the peer is a trusted proxy, without looking it up when nobody is trusted. */
  get trusted(): boolean {
    return this.trust.trustsProxies && this.peer.trusted
  }

  /**
   * The client's address under the trusted-proxy rules: the TCP peer, unless it is a trusted
   * proxy; then the rightmost X-Forwarded-For entry that is not itself a trusted proxy (the
   * entries left of it are whatever the client chose to send: never believed).
   */
  get clientAddress(): string | undefined {
    const peer = this.peer.address
    if (!this.trusted) return peer
    const chain = this.raw.headers.get('x-forwarded-for')
    if (!chain) return peer
    const hops = chain.split(',')
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim()
      if (hop && !this.trust.isTrusted(hop)) return hop
    }
    return hops[0]?.trim() || peer
  }
}
