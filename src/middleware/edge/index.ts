/**
 * The edge of every request: the one place an Exchange is made. It takes the normalised
 * path Hono's router matched (the app's `getPath` is `routingPath`), the query, and the
 * request id: a trusted proxy's (which needs the peer, looked up only then), else a new one.
 * The checks that can refuse a request are the pipeline's first stage (middleware/limits).
 */
import type { Context } from 'hono'
import type { IpMatcher } from '../../net/ip-matcher.ts'
import { Exchange } from '../../pipeline/exchange.ts'
import type { Route } from '../../pipeline/route.ts'
import type { GatewayEnv } from '../../types.ts'
import { requestIdFor } from './request-id.ts'
import { queryOf } from './target.ts'

export interface EdgeOptions {
  isTrusted: IpMatcher
  /** Whether any proxy is trusted: otherwise no request needs its peer to get its id. */
  trustsProxies: boolean
  generateId?: () => string
}

/** Makes the Exchange of a request `route` matched. */
export type Admit = (c: Context<GatewayEnv>, route: Route) => Exchange

/** @example const admit = createEdge({ isTrusted: createIpMatcher([]), trustsProxies: false }) */
export function createEdge(options: EdgeOptions): Admit {
  const { isTrusted, trustsProxies } = options
  const generateId = options.generateId ?? (() => crypto.randomUUID())
  return function admit(c, route) {
    const raw = c.req.raw
    const server = c.env
    let peer
    if (trustsProxies) {
      const address = server?.requestIP?.(raw)?.address
      peer = { address, trusted: isTrusted(address) }
    }
    const id = requestIdFor(raw.headers, peer?.trusted ?? false, generateId)
    return new Exchange(raw, server, route, c.req.path, queryOf(raw.url), id, isTrusted, peer)
  }
}
