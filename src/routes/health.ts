/** Liveness on the public port, for load-balancer checks; answered by the gateway itself. */
import type { Handler } from 'hono'
import { GatewayError } from '../errors.ts'
import type { GatewayEnv } from '../types.ts'

/** Readiness as seen by this process; false while draining so balancers stop sending. */
export type IsHealthy = () => boolean

export function healthHandler(isHealthy: IsHealthy, tagRoute?: (request: Request, route: string) => void): Handler<GatewayEnv> {
  return function health(c) {
    c.set('routeName', 'health')
    tagRoute?.(c.req.raw, 'health')
    const method = c.req.raw.method
    if (method !== 'GET' && method !== 'HEAD') {
      throw new GatewayError('method_not_allowed', { headers: { allow: 'GET, HEAD' } })
    }
    const ok = isHealthy()
    return new Response(ok ? '{"status":"ok"}' : '{"status":"draining"}', {
      status: ok ? 200 : 503,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-request-id': c.get('requestId') },
    })
  }
}
