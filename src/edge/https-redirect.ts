/**
 * The plain-HTTP port of a TLS gateway (`server.httpRedirectPort`): every request gets a 308
 * to the same target over https (RFC 9110 §15.4.9 keeps the method and body). The Location's
 * host is the request's, checked and normalised as the gateway's own port does it (a Host it
 * cannot parse is a 400, never a 500), and, when every route names a host, one of those: the
 * port does not send clients to hosts the gateway does not serve.
 */
import { errorResponse } from '../kernel/errors.ts'
import { isValidHost } from '../policies/limits/guard.ts'
import { hostForRouting, requestTarget } from '../kernel/target.ts'

export function createHttpsRedirect(httpsPort: number, routeHosts: readonly (string | undefined)[]): (req: Request) => Response {
  const suffix = httpsPort === 443 ? '' : `:${httpsPort}`
  // Undefined: some route answers any host.
  const hosts = routeHosts.includes(undefined) ? undefined : new Set(routeHosts.map((h) => h!.toLowerCase()))
  return function redirect(req) {
    const header = req.headers.get('host')
    if (header === null || !isValidHost(header)) return errorResponse('bad_request', crypto.randomUUID(), undefined, true)
    const host = hostForRouting(header)!
    if (hosts !== undefined && !hosts.has(host)) return errorResponse('not_found', crypto.randomUUID())
    return new Response(null, { status: 308, headers: { location: `https://${host}${suffix}${requestTarget(req.url)}` } })
  }
}
