import { afterEach, describe, expect, test } from 'bun:test'
import { startOtlpReceiver, type OtlpReceiver } from '../../test/fixtures/otlp-receiver.ts'
import { freePort } from '../../test/fixtures/services.ts'
import { waitFor } from '../../test/fixtures/process.ts'
import { createSpanExporter, type ExporterOptions } from './exporter.ts'
import { createOtlpEncoder } from './otlp.ts'
import { ServerSpan, type SpanSink } from './spans.ts'
import { randomHex } from './trace-context.ts'

const encode = createOtlpEncoder({ resource: { 'service.name': 't' }, scope: { name: 's', version: '1' } })
let receiver: OtlpReceiver | undefined

afterEach(() => {
  receiver?.stop()
  receiver = undefined
})

function exporter(endpoint: string, options: Partial<ExporterOptions> = {}) {
  const warnings: Record<string, unknown>[] = []
  const made = createSpanExporter({
    endpoint,
    headers: { authorization: 'Bearer abc' },
    queueSize: 100,
    batchSize: 10,
    intervalMs: 60_000,
    timeoutMs: 2000,
    encode,
    log: { warn: (_event, fields) => void warnings.push(fields ?? {}) },
    ...options,
  })
  return Object.assign(made, { warnings })
}

/** Ends `count` sampled server spans into `sink`. */
function endSpans(sink: SpanSink, count: number) {
  for (let i = 0; i < count; i++) {
    const span = new ServerSpan(sink, randomHex(32), -1, undefined, undefined, performance.now(), 'GET', 'http', '/', '/', 'r', `id-${i}`)
    span.status = 200
    span.finish()
  }
}

describe('createSpanExporter', () => {
  test('a full queue drops new spans and counts them; what was queued is exported with the headers', async () => {
    receiver = startOtlpReceiver()
    const spans = exporter(receiver.url, { queueSize: 3, batchSize: 3 })
    endSpans(spans, 5)
    expect(spans.stats().queueFull).toBe(2)
    await spans.flush()
    expect(receiver.spans.map((s) => s.attributes['gateway.request_id'])).toEqual(['id-0', 'id-1', 'id-2'])
    expect(receiver.requests[0]).toMatchObject({ contentType: 'application/x-protobuf', headers: { authorization: 'Bearer abc' } })
    expect(spans.stats()).toEqual({ queueFull: 2, exportFailed: 0, exported: 3 })
    await spans.close()
  })

  test('a full batch leaves without waiting for the interval, in batches of batchSize', async () => {
    receiver = startOtlpReceiver()
    const spans = exporter(receiver.url, { batchSize: 4 })
    endSpans(spans, 9)
    await waitFor(() => receiver!.spans.length >= 8, 5000, 'the full batches')
    expect(receiver.requests.length).toBeGreaterThanOrEqual(2)
    await spans.close()
    expect(receiver.spans).toHaveLength(9)
    expect(spans.stats().exported).toBe(9)
  })

  test('between intervals only full batches leave: what came during an export waits for the batch to fill', async () => {
    receiver = startOtlpReceiver()
    const spans = exporter(receiver.url, { batchSize: 4 })
    // 6 queued when the export starts: one batch of 4 leaves, the 2 left wait (they used to follow at once).
    endSpans(spans, 6)
    await waitFor(() => receiver!.spans.length >= 4, 5000, 'the first batch')
    endSpans(spans, 2)
    await waitFor(() => receiver!.spans.length >= 8, 5000, 'the second full batch')
    expect(receiver.batches).toEqual([4, 4])
    endSpans(spans, 1)
    await spans.flush()
    expect(receiver.batches).toEqual([4, 4, 1])
    await spans.close()
  })

  test('a collector that is down or refuses: spans counted as failed, one warning per interval', async () => {
    const spans = exporter(`http://127.0.0.1:${freePort()}/v1/traces`, { batchSize: 2 })
    for (let i = 0; i < 3; i++) {
      endSpans(spans, 2)
      await spans.flush()
    }
    expect(spans.stats()).toEqual({ queueFull: 0, exportFailed: 6, exported: 0 })
    expect(spans.warnings).toHaveLength(1)
    expect(spans.warnings[0]).toMatchObject({ droppedSpans: 2 })

    receiver = startOtlpReceiver()
    receiver.status = 503
    const refused = exporter(receiver.url, { intervalMs: 1 })
    endSpans(refused, 2)
    await refused.flush()
    const after = performance.now()
    await waitFor(() => performance.now() - after > 1, 1000, 'the 1 ms interval to pass')
    endSpans(refused, 1)
    await refused.flush()
    expect(refused.stats().exportFailed).toBe(3)
    expect(refused.warnings.map((w) => w.status)).toEqual([503, 503])
    await spans.close()
    await refused.close()
  })

  test('an https:// collector goes through fetch, not the http:// poster: a plain-HTTP port fails its TLS handshake', async () => {
    receiver = startOtlpReceiver()
    const spans = exporter(receiver.url.replace('http:', 'https:'), { batchSize: 2 })
    endSpans(spans, 2)
    await spans.flush()
    expect(spans.stats()).toEqual({ queueFull: 0, exportFailed: 2, exported: 0 })
    // No export request was read by the receiver, and the failure is fetch's, not the poster's framing.
    expect(receiver.requests).toHaveLength(0)
    expect(spans.warnings[0]!.error).not.toBe('malformed_head')
    await spans.close()
  })

  test('close exports what is left', async () => {
    receiver = startOtlpReceiver()
    const spans = exporter(receiver.url)
    endSpans(spans, 3)
    expect(receiver.spans).toHaveLength(0)
    await spans.close()
    expect(receiver.spans).toHaveLength(3)
  })
})
