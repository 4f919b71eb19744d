/**
 * The export queue: ended spans wait in a bounded array and leave in batches over OTLP/HTTP,
 * off the request path. A full queue drops the span and counts it (never waits, never grows);
 * a failed export drops its batch and counts it (OTLP's retryable answers are not retried:
 * the next batch is already waiting). One export is in flight at a time. A failure is logged
 * at most once per interval, with what was dropped since the last line.
 */
import type { Logger } from '../log.ts'
import { createPoster } from './poster.ts'
import type { Span, SpanSink } from './spans.ts'

export interface ExporterOptions {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  endpoint: string
  /** Extra request headers (an API key), resolved at load. */
  headers: Readonly<Record<string, string>>
  queueSize: number
  batchSize: number
  intervalMs: number
  timeoutMs: number
  encode(spans: readonly Span[]): Uint8Array
  log: Pick<Logger, 'warn'>
}

/** Spans dropped, by why, and exported. */
export interface ExportStats {
  queueFull: number
  exportFailed: number
  exported: number
}

export interface SpanExporter extends SpanSink {
  stats(): ExportStats
  /** Exports what is queued now (tests, and close). */
  flush(): Promise<void>
  /** Stops the timer and exports what is left, for at most `timeoutMs`. */
  close(): Promise<void>
}

export function createSpanExporter(options: ExporterOptions): SpanExporter {
  const { endpoint, queueSize, batchSize, intervalMs, timeoutMs, encode, log } = options
  const headers = { ...options.headers, 'content-type': 'application/x-protobuf' }
  // http:// on a connection of the worker's own (poster.ts); https:// with fetch.
  const poster = endpoint.startsWith('http:') ? createPoster(endpoint, headers, timeoutMs) : undefined
  const stats: ExportStats = { queueFull: 0, exportFailed: 0, exported: 0 }
  let queue: Span[] = []
  let inFlight: Promise<void> | undefined
  let soon: ReturnType<typeof setTimeout> | undefined
  let lastLogged = -Infinity
  let droppedSinceLog = 0

  const failed = (count: number, reason: Record<string, string | number>) => {
    stats.exportFailed += count
    droppedSinceLog += count
    const now = performance.now()
    if (now - lastLogged < intervalMs) return
    lastLogged = now
    log.warn('tracing_export_failed', { endpoint, ...reason, droppedSpans: droppedSinceLog })
    droppedSinceLog = 0
  }

  async function send(batch: Span[]): Promise<void> {
    let body: Uint8Array
    try {
      body = encode(batch)
    } catch (err) {
      // A bug in the encoder must not take the worker down: the batch is lost, and said so.
      return failed(batch.length, { error: err instanceof Error ? err.name : 'encode' })
    }
    try {
      // The body is a view of the encoder's buffer, unchanged until this export settles: the
      // next batch is encoded only after it (one export at a time).
      let status: number
      if (poster) status = await poster.post(body)
      else {
        const response = await fetch(endpoint, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) })
        // Read to the end, so the connection can be kept.
        await response.arrayBuffer()
        status = response.status
      }
      if (status >= 200 && status < 300) stats.exported += batch.length
      else failed(batch.length, { status })
    } catch (err) {
      const code = (err as { code?: unknown }).code
      failed(batch.length, { error: typeof code === 'string' ? code : err instanceof Error ? err.name : 'fetch' })
    }
  }

  /**
   * Sends batches one at a time: while a full batch is queued, and with `all` (the interval,
   * flush, close) until the queue is empty. Only full batches leave between intervals: under
   * load, sending whatever came during the last export's round trip made an export every few
   * dozen requests, and each export costs ~100 µs of CPU whatever its size.
   */
  function drain(all: boolean): Promise<void> {
    if (inFlight) return all ? inFlight.then(() => drain(true)) : inFlight
    inFlight = (async () => {
      while (queue.length >= batchSize || (all && queue.length > 0)) {
        const batch = queue.length <= batchSize ? queue : queue.slice(0, batchSize)
        queue = batch === queue ? [] : queue.slice(batchSize)
        await send(batch)
      }
    })().finally(() => (inFlight = undefined))
    return inFlight
  }
  const drainAll = () => drain(true)

  const timer = setInterval(() => void drain(true), intervalMs)
  timer.unref()

  return {
    push(span) {
      if (queue.length >= queueSize) {
        stats.queueFull++
        return
      }
      queue.push(span)
      // A full batch leaves now (on a later turn of the loop, not in this request's).
      if (queue.length >= batchSize && !inFlight && soon === undefined) {
        soon = setTimeout(() => {
          soon = undefined
          void drain(false)
        }, 0)
      }
    },
    stats: () => ({ ...stats }),
    flush: drainAll,
    async close() {
      clearInterval(timer)
      if (soon !== undefined) clearTimeout(soon)
      let timeout: ReturnType<typeof setTimeout> | undefined
      await Promise.race([drain(true), new Promise<void>((resolve) => (timeout = setTimeout(resolve, timeoutMs)))])
      clearTimeout(timeout)
      poster?.close()
    },
  }
}
