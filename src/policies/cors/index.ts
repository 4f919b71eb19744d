/**
 * CORS (the Fetch standard's CORS protocol) for a route, with hono/cors's option names. It
 * is written here rather than taken from hono/cors because pipeline stages run on the
 * Exchange below the router, where Hono's Context is not at hand. A preflight (OPTIONS with
 * Origin and Access-Control-Request-Method) is answered by the gateway with 204 and never
 * forwarded; other requests from an allowed origin get Access-Control-Allow-Origin (and
 * -Credentials, -Expose-Headers) on their answer, errors included, so a browser can read a
 * 401 or a 429. Answers always carry `Vary: Origin` when the origin list is not "*".
 */
import type { CorsConfig } from '../../config/schema.ts'
import { GatewayError } from '../../kernel/errors.ts'
import type { Middleware } from '../../kernel/exchange.ts'

/** `routeAllow`: the route's methods as its 405 lists them ("GET, HEAD, POST"). */
export function cors(config: CorsConfig, routeAllow: string): Middleware {
  const any = config.origin.includes('*')
  const origins = new Set(config.origin)
  const allowMethods = config.allowMethods?.join(', ') ?? routeAllow
  const allowHeaders = config.allowHeaders?.join(', ')
  const expose = config.exposeHeaders.join(', ')
  const maxAge = String(config.maxAge)

  /** The CORS fields for a request from `origin`, or undefined when it is not allowed. */
  const fieldsFor = (origin: string | null): Record<string, string> | undefined => {
    if (origin === null || (!any && !origins.has(origin))) return undefined
    const fields: Record<string, string> = { 'access-control-allow-origin': any ? '*' : origin }
    if (config.credentials) fields['access-control-allow-credentials'] = 'true'
    if (expose) fields['access-control-expose-headers'] = expose
    return fields
  }
  const decorate = (response: Response, fields: Record<string, string> | undefined) => {
    if (!any) response.headers.append('vary', 'Origin')
    if (fields) for (const name in fields) response.headers.set(name, fields[name]!)
    return response
  }
  /** A refusal keeps its code and status and gains the CORS fields. */
  const decorateError = (err: unknown, fields: Record<string, string> | undefined) => {
    if (!fields || !(err instanceof GatewayError)) return err
    return new GatewayError(err.code, { cause: err.cause, headers: { ...err.headers, ...fields }, closeConnection: err.closeConnection, reason: err.reason })
  }

  return (exchange, next) => {
    const headers = exchange.raw.headers
    const origin = headers.get('origin')
    const fields = fieldsFor(origin)
    if (exchange.raw.method === 'OPTIONS' && origin !== null && headers.has('access-control-request-method')) {
      const preflight = new Response(null, { status: 204 })
      if (fields) {
        preflight.headers.set('access-control-allow-methods', allowMethods)
        const requested = headers.get('access-control-request-headers')
        const allowed = allowHeaders ?? requested
        if (allowed) preflight.headers.set('access-control-allow-headers', allowed)
        preflight.headers.set('access-control-max-age', maxAge)
        if (!allowHeaders && requested) preflight.headers.append('vary', 'Access-Control-Request-Headers')
      }
      return decorate(preflight, fields)
    }
    let answer: Response | Promise<Response>
    try {
      answer = next(exchange)
    } catch (err) {
      throw decorateError(err, fields)
    }
    if (answer instanceof Promise) {
      return answer.then(
        (response) => decorate(response, fields),
        (err) => {
          throw decorateError(err, fields)
        }
      )
    }
    return decorate(answer, fields)
  }
}
