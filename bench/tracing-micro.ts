/**
 * `bun bench/tracing-micro.ts`: CPU per request of the gateway's tracing against
 * OpenTelemetry's SDK (@opentelemetry/sdk-trace's BatchSpanProcessor with
 * @opentelemetry/exporter-trace-otlp-proto), each making what a proxied request makes: a
 * SERVER span with the gateway's attributes, one CLIENT span under it, the upstream's
 * traceparent, and the OTLP/HTTP protobuf export of both (to bench/otlp-sink.ts, a process of
 * its own). CPU is this process's user + system time (process.cpuUsage) over N requests and
 * the final flush, less a baseline that makes the same Exchange and headers without tracing.
 * Variants alternate over the rounds; the report is each one's median.
 *
 *   bun bench/tracing-micro.ts [--requests 20000] [--rounds 3]
 */
import { parseArgs } from 'node:util'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer as OtelTracer } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace'
import { testExchange } from '../test/fixtures/exchange.ts'
import { createTracer, type Tracer } from '../src/tracing/index.ts'
import { startListening } from './listening.ts'
import { median } from './paired.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { requests: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } },
})
const N = Number(values.requests)
const ROUNDS = Number(values.rounds)
const QUEUE = { queueSize: 2048, batchSize: 512 }
const TARGET = 'http://127.0.0.1:3000'

const sink = await startListening(['bench/otlp-sink.ts'])
const endpoint = `http://127.0.0.1:${sink.port}/v1/traces`
const warnings: string[] = []

/** What every variant makes per request anyway: the Exchange, the upstream headers, the answer. */
function request() {
  const exchange = testExchange('/api/users?id=7', { headers: { host: 'gw.example', 'user-agent': 'bench/1' }, route: { path: '/api' }, peer: '127.0.0.1' })
  const headers = new Headers({ host: '127.0.0.1:3000', 'x-forwarded-for': '127.0.0.1' })
  return { exchange, headers }
}
const response = new Response('ok', { headers: { 'content-type': 'text/plain' } })

type Variant = { name: string; run(): void; flush(): Promise<void> }

function lean(name: string, sampleRatio: number): Variant {
  const tracer: Tracer = createTracer(
    { endpoint, sampleRatio, trustIncoming: false, serviceName: 'bench', headers: {}, resourceAttributes: {}, ...QUEUE, intervalMs: 5000, exportTimeoutMs: 10_000 },
    { log: { warn: (event) => void warnings.push(event) }, scheme: 'http' }
  )
  return {
    name,
    run() {
      const { exchange, headers } = request()
      tracer.start(exchange, performance.now())
      const span = exchange.trace!.startTry({}, 'GET', '/users?id=7', 0)
      span?.end(TARGET, 200, undefined)
      tracer.end(exchange, response, performance.now())
    },
    flush: () => tracer.flush(),
  }
}

function sdk(name: string, ratio: number): Variant {
  const provider = new TracerProvider({
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint }), maxQueueSize: QUEUE.queueSize, maxExportBatchSize: QUEUE.batchSize, scheduledDelayMillis: 5000 })],
  })
  const tracer: OtelTracer = provider.getTracer('bun-gateway', '0.2.0')
  const propagator = new W3CTraceContextPropagator()
  const setter = { set: (carrier: Headers, key: string, value: string) => carrier.set(key, value) }
  return {
    name,
    run() {
      const { exchange, headers } = request()
      const raw = exchange.raw
      const server = tracer.startSpan('GET /api', {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': raw.method, 'url.scheme': 'http', 'url.path': exchange.path, 'http.route': '/api', 'network.protocol.version': '1.1', 'gateway.route': exchange.route.name, 'gateway.request_id': exchange.requestId },
      })
      const parent = trace.setSpan(ROOT_CONTEXT, server)
      const client = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'http.request.resend_count': 0 } }, parent)
      propagator.inject(trace.setSpan(ROOT_CONTEXT, client), headers, setter)
      client.setAttributes({ 'server.address': '127.0.0.1', 'server.port': 3000, 'url.full': `${TARGET}/users`, 'http.response.status_code': 200 })
      client.end()
      server.setAttributes({
        'http.response.status_code': response.status,
        'client.address': exchange.clientAddress ?? '',
        'user_agent.original': raw.headers.get('user-agent') ?? '',
        'server.address': 'gw.example',
        'server.port': 80,
      })
      if (response.status >= 500) server.setStatus({ code: SpanStatusCode.ERROR })
      server.end()
    },
    flush: () => provider.forceFlush(),
  }
}

const baseline: Variant = { name: 'baseline (no tracing)', run: () => void request(), flush: async () => {} }
const variants = [baseline, lean('gateway: unsampled', 0), lean('gateway: sampled', 1), sdk('OTel SDK: unsampled', 0), sdk('OTel SDK: sampled', 1)]
const results = new Map<string, number[]>(variants.map((v) => [v.name, []]))

async function measure(variant: Variant): Promise<number> {
  const before = process.cpuUsage()
  for (let i = 0; i < N; i++) {
    variant.run()
    // Let the exporter run now and then, as it would between requests.
    if ((i & 255) === 255) await Bun.sleep(0)
  }
  await variant.flush()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / N
}

try {
  for (const variant of variants) await measure(variant) // warm the JIT
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length]!
      results.get(variant.name)!.push(await measure(variant))
    }
  }
  const base = median(results.get(baseline.name)!)
  const received = (await (await fetch(`http://127.0.0.1:${sink.port}/`)).json()) as { requests: number; bytes: number }
  console.log(`${N} requests × ${ROUNDS} rounds; CPU µs per request (server span + client span + export), median, less the baseline (${base.toFixed(2)} µs)`)
  for (const variant of variants.slice(1)) console.log(`${variant.name.padEnd(22)} ${(median(results.get(variant.name)!) - base).toFixed(2).padStart(7)} µs`)
  console.log(`sink: ${received.requests} export requests, ${(received.bytes / 1024).toFixed(0)} KiB; exporter warnings: ${warnings.length}`)
} finally {
  sink.proc.kill()
}
process.exit(0)
