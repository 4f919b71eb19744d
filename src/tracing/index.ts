/**
 * Tracing (`tracing:` in the config; off without an endpoint): W3C Trace Context continued
 * from trusted callers or started here, parent-based ratio sampling, one SERVER span per
 * request and one CLIENT span per upstream try (spans.ts), exported as OTLP/HTTP protobuf in
 * batches off the request path (otlp.ts, exporter.ts). The SDK was measured against this and
 * not taken (bench/tracing-micro.ts, docs/monitoring.md): it costs several times more CPU
 * per span.
 *
 * When tracing is off nothing here runs: the pipeline holds no tracer, so an exchange has
 * no trace and the upstream balancer (upstream/wrappers/balancer.ts) makes no try span.
 */
import { refusalOf } from '../kernel/errors.ts'
import type { Exchange } from '../kernel/exchange.ts'
import type { Logger } from '../log.ts'
import { createIpMatcher } from '../net/ip-matcher.ts'
import { VERSION } from '../version.ts'
import { createSpanExporter, type ExportStats } from './exporter.ts'
import { createOtlpEncoder } from './otlp.ts'
import { ServerSpan, UnsampledTrace } from './spans.ts'
import { drawId, idHex, parseTraceparent, parseTracestate, ratioSampler } from './trace-context.ts'

/** The `tracing` settings (config/schema.ts), with secrets resolved. */
export interface TracingOptions {
  endpoint: string
  sampleRatio: number
  trustIncoming: boolean | readonly string[]
  serviceName: string
  headers: Readonly<Record<string, string>>
  resourceAttributes: Readonly<Record<string, string>>
  queueSize: number
  batchSize: number
  intervalMs: number
  exportTimeoutMs: number
}

export interface Tracer {
  /** Starts the trace of a request the edge admitted at `startedMs` (performance.now()). */
  start(exchange: Exchange, startedMs: number): void
  /**
   * Ends the request's span with its answer at `endMs` (performance.now(), the caller's own
   * reading for its metrics: a clock read costs ~45 ns here); nothing to do when it is not sampled.
   */
  end(exchange: Exchange, response: Response, endMs: number): void
  stats(): ExportStats
  /** Exports what is queued now. */
  flush(): Promise<void>
  /** Stops the export timer and exports what is left (graceful shutdown). */
  close(): Promise<void>
}

export interface TracerOptions {
  log: Pick<Logger, 'warn'>
  /** How clients reach the gateway (url.scheme). */
  scheme: 'http' | 'https'
}

export function createTracer(settings: TracingOptions, options: TracerOptions): Tracer {
  const exporter = createSpanExporter({
    endpoint: settings.endpoint,
    headers: settings.headers,
    queueSize: settings.queueSize,
    batchSize: settings.batchSize,
    intervalMs: settings.intervalMs,
    timeoutMs: settings.exportTimeoutMs,
    log: options.log,
    encode: createOtlpEncoder({
      resource: {
        ...settings.resourceAttributes,
        'service.name': settings.serviceName,
        'service.version': VERSION,
        'process.pid': process.pid,
        'process.runtime.name': 'bun',
        'process.runtime.version': Bun.version,
      },
      scope: { name: 'bun-gateway', version: VERSION },
    }),
  })
  const sample = ratioSampler(settings.sampleRatio)
  const trust = settings.trustIncoming
  // Whose traceparent is believed: nobody's (the header is not even read), anybody's, or by TCP peer.
  const trusts: ((exchange: Exchange) => boolean) | undefined =
    trust === true ? () => true : trust === false || trust.length === 0 ? undefined : ((matcher) => (exchange: Exchange) => matcher(exchange.peer.address))(createIpMatcher(trust))
  const scheme = options.scheme

  return {
    start(exchange, startedMs) {
      const headers = exchange.raw.headers
      // The peer is looked up only for a request that carries a traceparent.
      const parent = trusts === undefined ? undefined : parseTraceparent(headers.get('traceparent'))
      let traceId: string
      // Where a trace id drawn here has its words (idWords); -1 for a caller's.
      let traceAt = -1
      let parentSpanId: string | undefined
      let traceState: string | undefined
      let sampled: boolean
      if (parent !== undefined && trusts!(exchange)) {
        traceId = parent.traceId
        parentSpanId = parent.spanId
        // §3.3: tracestate is read only with a valid traceparent.
        traceState = parseTracestate(headers.get('tracestate'))
        // Parent-based: a trusted caller's decision stands.
        sampled = parent.sampled
      } else {
        traceAt = drawId(4)
        traceId = idHex(traceAt, 4)
        sampled = sample(traceId)
      }
      exchange.traceId = traceId
      const route = exchange.route
      exchange.trace = sampled
        ? new ServerSpan(exporter, traceId, traceAt, parentSpanId, traceState, startedMs, exchange.raw.method, scheme, exchange.path, route.config === undefined ? undefined : route.prefix, route.name, exchange.requestId)
        : new UnsampledTrace(traceId, traceState)
    },
    end(exchange, response, endMs) {
      const span = exchange.trace
      if (!(span instanceof ServerSpan)) return
      span.status = response.status
      span.clientAddress = exchange.clientAddress
      span.userAgent = exchange.requestFields.get('user-agent')
      span.host = exchange.host
      // Only a cache-enabled route's X-Cache-Status is the gateway's (an upstream may send its own).
      span.cache = exchange.route.config?.cache?.enabled ? response.headers.get('x-cache-status') : null
      span.consumer = exchange.identity?.consumer
      span.errorCode = refusalOf(response)?.code
      span.finish(endMs)
    },
    stats: exporter.stats,
    flush: exporter.flush,
    close: exporter.close,
  }
}
