/**
 * The spans the gateway makes: one SERVER span per request, one CLIENT span per upstream
 * try. Each kind has its own class with plain fields (no attribute map): what is known is
 * copied in as strings and numbers, and the encoder (otlp.ts) names the attributes off the
 * request path. An unsampled request gets no span at all, only the ids to pass on.
 */
import type { RequestTrace, TraceFields, TryTrace } from '../kernel/exchange.ts'
import { formatTraceparent, randomHex } from './trace-context.ts'
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

  constructor(
    private readonly sink: SpanSink,
    readonly traceId: string,
    readonly spanId: string,
    /** The remote parent's span id (a trusted caller's traceparent), if any. */
    readonly parentSpanId: string | undefined,
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
  }

  startTry(fields: TraceFields, method: string, path: string, resendCount: number): TryTrace {
    const span = new ClientSpan(this.sink, this.traceId, randomHex(16), this.spanId, this.traceState, performance.now(), method, path, resendCount)
    fields.traceparent = formatTraceparent(this.traceId, span.spanId, true)
    fields.tracestate = this.traceState
    return span
  }

  inject(headers: Fields): void {
    propagate(headers, formatTraceparent(this.traceId, this.spanId, true), this.traceState)
  }

  /** Ends the span; what the answer says was filled in by the caller. */
  finish(): void {
    this.endMs = performance.now()
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

  constructor(
    private readonly sink: SpanSink,
    readonly traceId: string,
    readonly spanId: string,
    readonly parentSpanId: string,
    readonly traceState: string | undefined,
    readonly startMs: number,
    readonly method: string,
    /** Path (no query) sent upstream, for url.full. */
    readonly path: string,
    readonly resendCount: number
  ) {}

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
