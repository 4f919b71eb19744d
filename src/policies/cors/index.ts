/**
 * `routes[].cors`: the Fetch standard's CORS protocol, with hono/cors's option names. A
 * preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by the
 * gateway with 204 and never forwarded; other requests from an allowed origin get
 * Access-Control-Allow-Origin (and -Credentials, -Expose-Headers) on their answer, the
 * gateway's refusals included (they are answers like any other), so a browser can read a
 * 401 or a 429. Answers always carry `Vary: Origin` when the origin list is not "*".
 * Outside the request limits and auth: a preflight carries no credential.
 */
import { defineBuiltin } from '../builtin.ts'

export const corsPolicy = defineBuiltin({
  name: 'cors',
  phase: 'edge',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).corsSchema.optional(),
  build(config, context) {
    if (!config) return undefined
    const any = config.origin.includes('*')
    const origins = new Set(config.origin)
    const allowMethods = config.allowMethods?.join(', ') ?? context.route.allow
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

    return function cors(exchange, next) {
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
      const answer = next(exchange)
      return answer instanceof Promise ? answer.then((response) => decorate(response, fields)) : decorate(answer, fields)
    }
  },
})
