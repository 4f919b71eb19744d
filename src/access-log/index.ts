/**
 * Access logs: one JSON line per request (or a sampled share), `"event":"access"`, with the
 * fields of fields.ts (all, or those `log.access.fields` lists), written through a batching
 * writer (log.ts on stdout, file.ts to a file) so logging never blocks the event loop. It
 * observes the pipeline's end (see pipeline/serve.ts) rather than wrapping it: a Hono layer
 * around every request would make every answer asynchronous, and measured +18% CPU per
 * proxied request. The line is built once, when the answer is known; for a streamed body of
 * unknown length, once that body ended (its bytes are counted as it goes). JSON escapes
 * control characters, so a crafted path cannot forge a line; secrets are never written
 * (see redact.ts).
 */
import type { GatewayError } from '../kernel/errors.ts'
import type { Exchange } from '../kernel/exchange.ts'
import { awaitsBytes, lineBuilder, type AccessLogField, type LineInput, type LineSetup } from './fields.ts'
import { queryRedactor } from './redact.ts'

export { ACCESS_LOG_FIELDS, type AccessLogField } from './fields.ts'

export interface AccessLogOptions {
  /** Fraction of requests logged, 0-1. */
  sampleRate: number
  /** Receives one complete line (with its newline). */
  write: (line: string) => void
  /** Query parameters the config uses for credentials (every route's `auth.apiKey.query`), redacted too. */
  secretQueryNames?: Iterable<string>
  /** The fields a line has (`log.access.fields`); all when absent. */
  fields?: readonly AccessLogField[]
  /** The listener's TLS, for the `tls` field: its version when only one is accepted, else `https`; absent on plain HTTP. */
  tls?: string
  random?: () => number
}

/** Called once per answered request, with its time in the gateway and the refusal it is, if the gateway made it. */
export type AccessLog = (exchange: Exchange, response: Response, durationMs: number, refused: GatewayError | undefined) => void

/** @example const log = accessLog({ sampleRate: 1, write: createLineWriter() }) */
export function accessLog(options: AccessLogOptions): AccessLog {
  const { sampleRate, write } = options
  const random = options.random ?? Math.random
  const setup: LineSetup = { time: createClock(), redactQuery: queryRedactor(options.secretQueryNames), tls: options.tls }
  const build = lineBuilder(options.fields)
  const counts = options.fields === undefined || options.fields.includes('bytes')
  // Reused for every line: lines are built synchronously, one at a time.
  const input: LineInput = { exchange: undefined!, response: undefined!, durationMs: 0, refused: undefined }
  const writeLine = (exchange: Exchange, response: Response, durationMs: number, refused: GatewayError | undefined) => {
    input.exchange = exchange
    input.response = response
    input.durationMs = durationMs
    input.refused = refused
    write(build(input, setup))
  }
  return function accessLog(exchange, response, durationMs, refused) {
    if (sampleRate < 1 && random() >= sampleRate) return
    input.exchange = exchange
    input.response = response
    input.refused = refused
    // A streamed body of unknown length: its relay calls back when it ended (cancelled or cut too).
    if (counts && awaitsBytes(input)) exchange.afterRelay = () => writeLine(exchange, response, durationMs, refused)
    else writeLine(exchange, response, durationMs, refused)
  }
}

/** ISO timestamps, made at most once per millisecond (at 10k requests/s most lines share one). */
function createClock(): () => string {
  let last = 0
  let text = ''
  return () => {
    const now = Date.now()
    if (now !== last) {
      last = now
      text = new Date(now).toISOString()
    }
    return text
  }
}
