/**
 * `routes[].redirect`: the route answers every request with `status` and a Location made from
 * `to` (RFC 9110 §15.4, §10.2.2), and forwards nothing. With `rewrite` on the same route, it
 * answers only the requests whose path the pattern matched, after the rewrite: `$path` is the
 * rewritten path and `$1`... the pattern's captures (nginx's `rewrite ... permanent`); the
 * others go on (to the upstream, or 404 without one). It runs after auth and the rate limit,
 * so a route's auth guards its redirect too.
 * Location is safe by construction: `to` is checked at load (no controls or spaces, a literal
 * scheme and host), the placeholders come from the normalised path and the received query
 * (neither can hold CR or LF), and a relative result never starts with "//" (which a browser
 * reads as another host).
 */
import { defineBuiltin } from '../builtin.ts'
import { compilePattern, compileTemplate, patternProblem, templateProblem } from '../rewrite/pattern.ts'
import { REWRITE_CAPTURES } from '../rewrite/index.ts'

/** Refused anywhere in `to`: what cannot be in a field value, and what would split a URL oddly. */
const TO_REFUSED = /[\x00-\x20\x7f"<>\\^`{|}]/
/** An absolute `to`: scheme and a literal host, then the path ("/", "?", "#", $path or the end): no placeholder can change the host. */
const ABSOLUTE = /^https?:\/\/[^/$?#@]+(?:[/?#]|\$path|$)/i

type WithRewrite = { rewrite?: { pattern: string } }

export const redirectPolicy = defineBuiltin({
  name: 'redirect',
  phase: 'beforeCache',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).redirectSchema.optional(),
  check(config, context) {
    if (!config) return []
    const to = config.to
    if (TO_REFUSED.test(to)) return ['to: must not contain spaces, control characters (CR, LF...), quotes, "<", ">", "\\", "^", "`", "{", "|" or "}"']
    const relative = to.startsWith('/') && !to.startsWith('//')
    if (!relative && !ABSOLUTE.test(to)) return ['to: must be a path starting with "/" (not "//") or an http:// or https:// URL with a literal host']
    const pattern = (context.route as WithRewrite | undefined)?.rewrite?.pattern
    const captures = typeof pattern === 'string' && patternProblem(pattern) === undefined ? compilePattern(pattern).captures : undefined
    // A bad pattern is named by rewrite's own check; here only the placeholders.
    const problem = templateProblem(to, typeof pattern === 'string' && captures === undefined ? 9 : captures, true)
    return problem ? [`to: ${problem}`] : []
  },
  build(config, context) {
    if (!config) return undefined
    const { status } = config
    const to = compileTemplate(config.to)
    const relative = config.to.startsWith('/')
    const withRewrite = (context.route.config as WithRewrite | undefined)?.rewrite !== undefined
    return function redirect(exchange, next) {
      let captures: ArrayLike<string | undefined> | undefined
      if (withRewrite) {
        captures = exchange.state.get(REWRITE_CAPTURES) as RegExpExecArray | undefined
        // The pattern did not match: not this redirect's request.
        if (captures === undefined) return next(exchange)
      }
      let location = to.render(captures, exchange.path, exchange.query)
      // "//host" or "/\host" is another host to a browser (an open redirect): one "/" only.
      if (relative && (location.charCodeAt(1) === 47 || location.charCodeAt(1) === 92)) location = `/${location.replace(/^[/\\]+/, '')}`
      return new Response(null, { status, headers: { location } })
    }
  },
})
