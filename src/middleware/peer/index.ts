/** Records the TCP peer's address and whether it is a trusted proxy, once per request. */
import type { MiddlewareHandler } from 'hono'
import type { IpMatcher } from '../../net/ip-matcher.ts'
import type { GatewayEnv } from '../../types.ts'

/**
 * @example app.use('*', peer(createIpMatcher(['10.0.0.0/8'])))
 */
export function peer(isTrusted: IpMatcher): MiddlewareHandler<GatewayEnv> {
  return async function peer(c, next) {
    const address = c.env?.requestIP?.(c.req.raw)?.address
    c.set('peer', { address, trusted: isTrusted(address) })
    await next()
  }
}
