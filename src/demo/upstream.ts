/**
 * The demo upstream started by the embedded default config: a tiny JSON service on
 * loopback whose answers are cacheable (Cache-Control: max-age), so a first run shows
 * real proxying with nothing else installed.
 */
import type { Server } from 'bun'

export const DEMO_MAX_AGE_SECONDS = 30

export function startDemoUpstream(): Server<undefined> {
  return Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    development: false,
    fetch(req) {
      const url = new URL(req.url)
      const body = JSON.stringify({
        message: `hello from the demo upstream`,
        path: url.pathname,
        query: url.search,
        requestId: req.headers.get('x-request-id'),
        forwardedFor: req.headers.get('x-forwarded-for'),
        servedAt: new Date().toISOString(),
      })
      return new Response(`${body}\n`, {
        headers: {
          'content-type': 'application/json',
          'cache-control': `public, max-age=${DEMO_MAX_AGE_SECONDS}`,
        },
      })
    },
  })
}
