/** Liveness on the public port, for load-balancer checks; answered by the gateway itself. */
import type { Handler } from '../kernel/stage.ts'

/** Readiness as seen by this process; false while draining so balancers stop sending. */
export type IsHealthy = () => boolean

const BODY_OK = '{"status":"ok"}'
const BODY_DRAINING = '{"status":"draining"}'

/** The terminal of the health route; its limits stage allows GET and HEAD only. */
export function healthHandler(isHealthy: IsHealthy): Handler {
  // Built once: Bun copies a Headers object faster than it parses an init literal. The
  // length is declared so metrics know the body's size.
  const headersOf = (body: string) => new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(body.length) })
  const okHeaders = headersOf(BODY_OK)
  const drainingHeaders = headersOf(BODY_DRAINING)
  return function health(exchange) {
    const ok = isHealthy()
    const body = ok ? BODY_OK : BODY_DRAINING
    // The access log counts the body here.
    exchange.responseBytes = body.length
    return new Response(body, { status: ok ? 200 : 503, headers: ok ? okHeaders : drainingHeaders })
  }
}
