/**
 * The spans the gateway makes: one SERVER span per request, one CLIENT span per upstream
 * try. Each kind has its own class with plain fields (no attribute map): what is known is
 * copied in as strings and numbers, and the encoder (otlp.ts) names the attributes off the
 * request path. An unsampled request gets no span at all, only the ids to pass on.
 */
import type { RequestTrace, TraceFields, TryTrace } from '../kernel/exchange.ts'
import { drawId, formatTraceparent, hexWord, idHex, idWords, randomHex } from './trace-context.ts'
import type { Fields } from '../kernel/fields.ts'

/** Where ended spans go: the export queue (exporter.ts). */
export interface SpanSink {
  push(span: Span): void
}

// Span.flags (trace.proto SpanFlags): the W3C flags, and whether the parent is remote.
const SAMPLED = 0x01
const HAS_IS_REMOTE = 0x100
const IS_REMOTE = 0x200

/** Sets the trace fields of a WebSocket handshake (the forwarding copied neither the client's nor a rule's). */
function propagate(headers: Fields, traceparent: string, traceState: string | undefined): void {
  headers.set('traceparent', traceparent)
  if (traceState !== undefined) headers.set('tracestate', traceState)
}

/** A request's span (SpanKind SERVER). The attributes are filled in by `finish`, once the answer is known. */
export class ServerSpan implements RequestTrace {
  readonly kind = 'server'
  endMs = 0
  status = 0
  clientAddress: string | undefined = undefined
  userAgent: string | null = null
  host: string | null = null
  cache: string | null = null
  consumer: string | undefined = undefined
  errorCode: string | undefined = undefined
  readonly flags: number
  readonly spanId: string
  // The ids as words (idWords'), for the encoder: the trace id's four, the span id's two, the
  // remote parent's two (0, 0 without one: an all-zero id is invalid, W3C §3.2.2.4).
  readonly t0: number
  readonly t1: number
  readonly t2: number
  readonly t3: number
  readonly s0: number
  readonly s1: number
  readonly p0: number
  readonly p1: number

  constructor(
    private readonly sink: SpanSink,
    readonly traceId: string,
    /** Where the trace id's words are in idWords (drawn just now), or -1: a trusted caller's, read from its hex. */
    traceAt: number,
    /** The remote parent's span id (a trusted caller's traceparent), if any. */
    parentSpanId: string | undefined,
    readonly traceState: string | undefined,
    /** performance.now() ms. */
    readonly startMs: number,
    readonly method: string,
    readonly scheme: string,
    readonly path: string,
    /** The route's prefix, undefined for the unmatched route (no http.route then). */
    readonly route: string | undefined,
    readonly routeName: string,
    readonly requestId: string
  ) {
    this.flags = SAMPLED | HAS_IS_REMOTE | (parentSpanId === undefined ? 0 : IS_REMOTE)
    // The trace id's words first: drawing the span id may refill the pool.
    this.t0 = traceAt < 0 ? hexWord(traceId, 0) : idWords[traceAt]!
    this.t1 = traceAt < 0 ? hexWord(traceId, 1) : idWords[traceAt + 1]!
    this.t2 = traceAt < 0 ? hexWord(traceId, 2) : idWords[traceAt + 2]!
    this.t3 = traceAt < 0 ? hexWord(traceId, 3) : idWords[traceAt + 3]!
    const at = drawId(2)
    this.s0 = idWords[at]!
    this.s1 = idWords[at + 1]!
    this.spanId = idHex(at, 2)
    this.p0 = parentSpanId === undefined ? 0 : hexWord(parentSpanId, 0)
    this.p1 = parentSpanId === undefined ? 0 : hexWord(parentSpanId, 1)
  }

  startTry(fields: TraceFields, method: string, path: string, resendCount: number): TryTrace {
    const span = new ClientSpan(this.sink, this, performance.now(), method, path, resendCount)
    fields.traceparent = formatTraceparent(this.traceId, span.spanId, true)
    fields.tracestate = this.traceState
    return span
  }

  inject(headers: Fields): void {
    propagate(headers, formatTraceparent(this.traceId, this.spanId, true), this.traceState)
  }

  /** Ends the span at `endMs` (performance.now()); what the answer says was filled in by the caller. */
  finish(endMs = performance.now()): void {
    this.endMs = endMs
    this.sink.push(this)
  }
}

/** One upstream try's span (SpanKind CLIENT), a child of the request's. */
export class ClientSpan implements TryTrace {
  readonly kind = 'client'
  readonly flags = SAMPLED | HAS_IS_REMOTE
  endMs = 0
  /** The target's base URL, once the balancer chose it. */
  target: string | undefined = undefined
  status: number | undefined = undefined
  /** The gateway's error code for a try that failed before a response head (connect_refused...). */
  error: string | undefined = undefined

  readonly spanId: string
  // Its id as words, as ServerSpan's; the trace's and the parent's are the request span's.
  readonly s0: number
  readonly s1: number

  constructor(
    private readonly sink: SpanSink,
    /** The request's span: the trace, its state, and this span's parent. */
    readonly parent: ServerSpan,
    readonly startMs: number,
    readonly method: string,
    /** Path (no query) sent upstream, for url.full. */
    readonly path: string,
    readonly resendCount: number
  ) {
    const at = drawId(2)
    this.s0 = idWords[at]!
    this.s1 = idWords[at + 1]!
    this.spanId = idHex(at, 2)
  }

  end(target: string | undefined, status: number | undefined, error: string | undefined): void {
    this.endMs = performance.now()
    this.target = target
    this.status = status
    this.error = error
    this.sink.push(this)
  }
}

export type Span = ServerSpan | ClientSpan

/**
 * A request that is not sampled: nothing is recorded, but the upstream still learns the
 * trace (sampled flag 00), under one span id made for the request.
 */
export class UnsampledTrace implements RequestTrace {
  private readonly traceparent: string

  constructor(
    readonly traceId: string,
    private readonly traceState: string | undefined
  ) {
    this.traceparent = formatTraceparent(traceId, randomHex(16), false)
  }

  startTry(fields: TraceFields): undefined {
    fields.traceparent = this.traceparent
    fields.tracestate = this.traceState
  }

  inject(headers: Fields): void {
    propagate(headers, this.traceparent, this.traceState)
  }
}
