/**
 * Liveness on the public port, for load-balancer checks; answered by the gateway itself. The
 * health route's chain answers every request to the path; `healthProbe` answers the probes
 * themselves (a plain GET or HEAD of exactly the path) before the route table, the Exchange and
 * the chain, with the same answer: a probe every second per balancer should cost what Bun.serve does.
 */
import type { Handler } from '../kernel/stage.ts'
import type { ServerBindings } from '../kernel/types.ts'
import { isTarget, targetLength } from '../kernel/target.ts'
import type { RequestRecorder } from '../metrics/http.ts'
import type { FieldSnapshot } from '../kernel/fields.ts'
import { guardRequest, type GuardLimits } from '../policies/limits/guard.ts'

/** Readiness as seen by this process; false while draining so balancers stop sending. */
export type IsHealthy = () => boolean

const BODY_OK = '{"status":"ok"}'
const BODY_DRAINING = '{"status":"draining"}'

// Built once: Bun copies a Headers object faster than it parses an init literal. The length
// is declared so metrics know the body's size.
const headersOf = (body: string) => new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(body.length) })
const OK_HEADERS = headersOf(BODY_OK)
const DRAINING_HEADERS = headersOf(BODY_DRAINING)

const answer = (ok: boolean) => new Response(ok ? BODY_OK : BODY_DRAINING, { status: ok ? 200 : 503, headers: ok ? OK_HEADERS : DRAINING_HEADERS })

/** The terminal of the health route; its limits stage allows GET and HEAD only. */
export function healthHandler(isHealthy: IsHealthy): Handler {
  // The access log and metrics read the body's size from the Content-Length it declares.
  return () => answer(isHealthy())
}

export interface HealthProbeOptions {
  path: string
  isHealthy: IsHealthy
  /** The limits stage's checks (server.* limits), so a probe is refused exactly as the route would refuse it. */
  limits: GuardLimits
  requestId(raw: Request, server: ServerBindings | undefined): string
  /** The health route's metrics (the same series as the route's chain records). */
  recorder: RequestRecorder | undefined
}

/**
 * The answer to a plain probe, or undefined for the health route's chain to answer: another
 * method (405), a query, a request the limits would refuse (the chain renders the refusal).
 * Not used with access logging on (the log line needs the Exchange).
 */
export function healthProbe(options: HealthProbeOptions): (raw: Request, server: ServerBindings | undefined, url: string) => Response | undefined {
  const { path, isHealthy, limits, requestId, recorder } = options
  // `url` is `raw.url`, read once by the caller (each read makes a new string).
  return function probe(raw, server, url) {
    if (!isTarget(url, path)) return undefined
    const method = raw.method
    if (method !== 'GET' && method !== 'HEAD') return undefined
    const started = performance.now()
    if (guardRequest(raw, raw.headers.toJSON() as FieldSnapshot, path, targetLength(url), limits) !== undefined) return undefined
    const ok = isHealthy()
    const response = answer(ok)
    response.headers.set('x-request-id', requestId(raw, server))
    // A GET or HEAD the guard let through declares no body (or Content-Length: 0), and the
    // answer's length is known: no native Headers read for either.
    recorder?.record(method, response.status, (performance.now() - started) / 1000, 0, ok ? BODY_OK.length : BODY_DRAINING.length)
    return response
  }
}
