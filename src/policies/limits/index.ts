/**
 * The request limits, on every route (the gateway's own too): the hardening checks of
 * guard.ts (sizes, framing, Host, the path), then the route's methods: 405 with Allow (a CORS
 * route lets its preflights on to the cors stage, outside this one). TRACE and CONNECT are
 * never in a route's methods, so they always get 405. No config of its own: it reads
 * `server.*` limits and the route's `methods` and `maxBodyBytes`.
 */
import { GatewayError, refusal } from '../../kernel/errors.ts'
import { targetLength } from '../../kernel/target.ts'
import { defineBuiltin } from '../builtin.ts'
import type { FieldSnapshot } from '../../kernel/fields.ts'
import { guardRequest, type GuardLimits } from './guard.ts'

export const limitsPolicy = defineBuiltin({
  name: 'limits',
  phase: 'edge',
  build(_config, context) {
    const { methods, allow } = context.route
    const route = context.route.config
    const server = context.settings.server
    const guardLimits = guardLimitsOf(server, route?.maxBodyBytes)
    const notAllowed = methodNotAllowed(allow)
    // A CORS route answers preflights itself, whatever its methods.
    const preflights = route?.cors !== undefined
    return function limits(exchange, next) {
      const raw = exchange.raw
      // The snapshot is the forwarder's too, unless a plugin runs in between (it may change the fields).
      const fields = (exchange.fields = raw.headers.toJSON() as FieldSnapshot)
      const refused = guardRequest(raw, fields, exchange.path, targetLength(exchange.url), guardLimits)
      if (refused) return refusal(exchange.requestId, refused)
      if (methods !== undefined && !methods.has(raw.method) && !(preflights && isPreflight(raw))) return refusal(exchange.requestId, notAllowed)
      return next(exchange)
    }
  },
})

/**
 * The guard's limits from `server.*` (a route's own maxBodyBytes, when it has one): one object
 * per distinct set of values, shared by the routes that have it (most have the server's).
 */
const limitsBy = new Map<string, GuardLimits>()
export function guardLimitsOf(server: GuardLimits, maxBodyBytes = server.maxBodyBytes): GuardLimits {
  const key = `${server.maxUrlBytes} ${server.maxHeaderBytes} ${maxBodyBytes} ${server.underscoresInHeaders}`
  let known = limitsBy.get(key)
  if (!known) limitsBy.set(key, (known = { maxUrlBytes: server.maxUrlBytes, maxHeaderBytes: server.maxHeaderBytes, maxBodyBytes, underscoresInHeaders: server.underscoresInHeaders }))
  return known
}

/** One 405 per Allow value, shared by the routes that have it: 10,000 routes are not 10,000 Errors. */
const notAllowedBy = new Map<string, GatewayError>()
function methodNotAllowed(allow: string): GatewayError {
  let refused = notAllowedBy.get(allow)
  if (!refused) notAllowedBy.set(allow, (refused = new GatewayError('method_not_allowed', { headers: { allow } })))
  return refused
}

/** A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method (Fetch standard). */
function isPreflight(raw: Request): boolean {
  return raw.method === 'OPTIONS' && raw.headers.has('origin') && raw.headers.has('access-control-request-method')
}
