/**
 * The edge of every request: the one place an Exchange is made. It takes the normalised
 * path the route table matched (`routingPath`, app.ts), the query, and the request id: a
 * trusted proxy's (which needs the peer, looked up only then), else a new one. The checks
 * that can refuse a request are the pipeline's first stage (policies/limits).
 */
import { Exchange, peerOf, type TrustPolicy } from '../kernel/exchange.ts'
import type { Route } from '../config/routes.ts'
import type { ServerBindings } from '../kernel/types.ts'
import { requestIdFor } from './request-id.ts'
import { normaliseHost, queryOf } from '../kernel/target.ts'

export interface EdgeOptions extends TrustPolicy {
  generateId?: () => string
  /** The listener's scheme: its default port is dropped from Host. */
  scheme?: 'http' | 'https'
}

/** Makes the Exchange of a request `route` matched: `url` is `raw.url` read once, `path` its normalised path, `host` its Host field as received. */
export type Admit = (raw: Request, server: ServerBindings | undefined, url: string, path: string, route: Route, host: string | null) => Exchange

/** Who is trusted and how new ids are made: the edge's and the probe's, from one rule. */
function idRule(options: EdgeOptions): { trust: TrustPolicy; generateId: () => string } {
  return {
    trust: { isTrusted: options.isTrusted, trustsProxies: options.trustsProxies },
    generateId: options.generateId ?? (() => crypto.randomUUID()),
  }
}

/** The id of a request that needs no Exchange (the health probe), by admit's rule. */
export function createRequestIds(options: EdgeOptions): (raw: Request, server: ServerBindings | undefined) => string {
  const { trust, generateId } = idRule(options)
  return (raw, server) => requestIdFor(raw.headers, trust.trustsProxies && peerOf(server, raw, trust).trusted, generateId)
}

/** @example const admit = createEdge({ isTrusted: createIpMatcher([]), trustsProxies: false }) */
export function createEdge(options: EdgeOptions): Admit {
  const { trust, generateId } = idRule(options)
  const defaultPort = options.scheme === 'https' ? '443' : '80'
  return function admit(raw, server, url, path, route, host) {
    // One Host from here on (Exchange.host): the cache key, the upstream's Host and X-Forwarded-Host read it.
    const normal = host === null ? null : normaliseHost(host, defaultPort)
    if (normal !== host) raw.headers.set('host', normal!)
    // Only a trusted proxy's id is believed: look the peer up only when one could be.
    const peer = trust.trustsProxies ? peerOf(server, raw, trust) : undefined
    const id = requestIdFor(raw.headers, peer?.trusted ?? false, generateId)
    return new Exchange(raw, url, server, route, path, queryOf(url), id, trust, peer, normal)
  }
}
