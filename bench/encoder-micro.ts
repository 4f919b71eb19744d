/**
 * `bun bench/encoder-micro.ts`: the OTLP encoder's (src/tracing/otlp.ts) CPU per span, on
 * batches of a proxied request's SERVER and CLIENT spans as the gateway makes them. The
 * encoder's buffer starts small and grows during the first batch, as it does in a worker.
 * Run it several times: a process's speed is set by how the JIT compiled the encoder, and
 * here about one run in four stays ~1.6× slower for good (BUN_JSC_useFTLJIT=0 gives the slow
 * figure every time), so compare the clusters of figures, not two single runs.
 *
 *   bun bench/encoder-micro.ts [--batches 3000] [--rounds 5] [--distinct 1]
 */
import { parseArgs } from 'node:util'
import { createOtlpEncoder } from '../src/tracing/otlp.ts'
import { ServerSpan, type Span } from '../src/tracing/spans.ts'
import { drawId, idHex } from '../src/tracing/trace-context.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { batches: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '5' }, distinct: { type: 'string', default: '1' } },
})
const encode = createOtlpEncoder({ resource: { 'service.name': 'bench', 'process.pid': process.pid }, scope: { name: 'bun-gateway', version: '0.0.0' } })

/**
 * 256 requests' spans (512, the default batch): a server span and its one try. `--distinct`
 * batches, encoded in turn: with many, each batch's spans are out of the cache when encoded,
 * as in a worker, where a span waits in the queue for a few hundred requests.
 */
const batches: Span[][] = []
for (let b = 0; b < Number(values.distinct); b++) {
  const batch: Span[] = []
  const sink = { push: (span: Span) => void batch.push(span) }
  for (let i = 0; i < 256; i++) {
    // Strings made per request, as the edge makes them (not shared literals).
    // Ids drawn as the tracer draws them (tracing/index.ts).
    const traceAt = drawId(4)
    const server = new ServerSpan(sink, idHex(traceAt, 4), traceAt, undefined, undefined, performance.now(), 'GET', 'http', `/api/small?n=${i}`.slice(0, 10), '/api', 'api', crypto.randomUUID())
    server.startTry({}, 'GET', '/small', 0)!.end('http://127.0.0.1:3000', 200, undefined)
    server.status = 200
    server.clientAddress = `127.0.0.${1 + (i & 1)}`.slice(0, 9)
    server.userAgent = `wrk/${i}`.slice(0, 3)
    server.host = `127.0.0.1:${8080 + (i & 1)}`.slice(0, 14)
    server.finish()
  }
  batches.push(batch)
}

let bytes = 0
for (let round = 0; round < Number(values.rounds); round++) {
  const started = performance.now()
  for (let i = 0; i < Number(values.batches); i++) bytes = encode(batches[i % batches.length]!).byteLength
  const ns = ((performance.now() - started) * 1e6) / Number(values.batches) / 512
  console.log(`round ${round + 1}: ${ns.toFixed(0)} ns per span (${(bytes / 512).toFixed(0)} bytes)`)
}
