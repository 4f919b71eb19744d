/**
 * Access logs: one JSON line per request (or a sampled share), written through a batching
 * writer so logging never blocks the event loop. It observes the pipeline's end (see
 * pipeline/serve.ts) rather than wrapping it: a Hono layer around every request would make
 * every answer asynchronous, and measured +18% CPU per proxied request. JSON escapes
 * control characters, so a crafted path cannot forge a line; secrets are never written
 * (see redact.ts).
 */
import type { Exchange } from '../kernel/exchange.ts'
import { queryRedactor } from './redact.ts'

export interface AccessLogOptions {
  /** Fraction of requests logged, 0-1. */
  sampleRate: number
  /** Receives one complete line (with its newline). */
  write: (line: string) => void
  /** Query parameters the config uses for credentials (every route's `auth.apiKey.query`), redacted too. */
  secretQueryNames?: Iterable<string>
  random?: () => number
}

/** Called once per answered request, with its time in the gateway. */
export type AccessLog = (exchange: Exchange, response: Response, durationMs: number) => void

/** @example const log = accessLog({ sampleRate: 1, write: createLineWriter() }) */
export function accessLog(options: AccessLogOptions): AccessLog {
  const { sampleRate, write } = options
  const random = options.random ?? Math.random
  const time = createClock()
  const redactQuery = queryRedactor(options.secretQueryNames)
  return function accessLog(exchange, response, durationMs) {
    if (sampleRate < 1 && random() >= sampleRate) return
    const headers = response.headers
    const length = headers.get('content-length')
    const upstreamMs = exchange.upstreamMs
    const upstream = exchange.route.config?.upstream
    const client = exchange.peer.address
    const cache = headers.get('x-cache-status')
    // Built by hand: the path, the route name and the cache status (an upstream may send its
    // own X-Cache-Status) go through JSON.stringify; every other field is a number, null, or
    // a value the gateway validated (request id, method token, upstream name, IP).
    write(
      `{"time":"${time()}","requestId":"${exchange.requestId}","method":"${exchange.raw.method}",` +
        `"route":${JSON.stringify(exchange.route.name)},"path":${JSON.stringify(exchange.path + redactQuery(exchange.query))},` +
        `"status":${response.status},"durationMs":${round(durationMs)},` +
        `"upstream":${upstream === undefined ? 'null' : `"${upstream}"`},"upstreamMs":${upstreamMs === undefined ? 'null' : round(upstreamMs)},` +
        `"cache":${cache === null ? 'null' : JSON.stringify(cache)},"bytes":${length === null ? 'null' : Number(length)},` +
        `"client":${client === undefined ? 'null' : `"${client}"`}}\n`
    )
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

const round = (ms: number) => Math.round(ms * 100) / 100
