/**
 * Access logs: one JSON line per request (or a sampled share), written through a batching
 * writer so logging never blocks the event loop. JSON escapes control characters, so a
 * crafted path cannot forge a line; secrets are never written (see redact.ts).
 */
import type { MiddlewareHandler } from 'hono'
import { exchangeOf } from '../../pipeline/serve.ts'
import type { GatewayEnv } from '../../types.ts'
import { redactQuery } from './redact.ts'

export interface AccessLogOptions {
  /** Fraction of requests logged, 0-1. */
  sampleRate: number
  /** Receives one complete line (with its newline). */
  write: (line: string) => void
  random?: () => number
}

/**
 * @example app.use('*', accessLog({ sampleRate: 1, write: createLineWriter() }))
 */
export function accessLog(options: AccessLogOptions): MiddlewareHandler<GatewayEnv> {
  const { sampleRate, write } = options
  const random = options.random ?? Math.random
  return async function accessLog(c, next) {
    if (sampleRate < 1 && random() >= sampleRate) return next()
    const started = performance.now()
    await next()
    const res = c.res
    // The pipeline's exchange: every field below was decided once, there.
    const exchange = exchangeOf(c)
    const length = res.headers.get('content-length')
    write(
      `${JSON.stringify({
        time: new Date().toISOString(),
        requestId: exchange?.requestId ?? res.headers.get('x-request-id'),
        method: c.req.raw.method,
        route: exchange?.route.name ?? null,
        path: exchange ? exchange.path + redactQuery(exchange.query) : null,
        status: res.status,
        durationMs: round(performance.now() - started),
        upstream: exchange?.route.config?.upstream ?? null,
        upstreamMs: exchange?.upstreamMs === undefined ? null : round(exchange.upstreamMs),
        cache: res.headers.get('x-cache-status'),
        bytes: length === null ? null : Number(length),
        client: exchange?.peer.address ?? null,
      })}\n`
    )
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100
