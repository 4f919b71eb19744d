/**
 * `routes[].rewrite`: when the route's path pattern matches the request's normalised path,
 * the path becomes `to` with the captures filled in, before anything after it sees the path
 * (the cache keys on it, the forwarder sends it). A path the pattern does not match goes on
 * unchanged. It runs after auth and the rate limit (which see the client's path) and before
 * the cache. `stripPrefix` applies after it, to a rewritten path only while it is still under
 * the route's prefix (upstream/forward.ts upstreamPath). The result is normalised again: a
 * capture cannot bring a "." or ".." segment or an empty one.
 */
import { resolveSegments } from '../../kernel/path.ts'
import { defineBuiltin } from '../builtin.ts'
import { compilePattern, compileTemplate, patternProblem, templateProblem } from './pattern.ts'

/** Where a matched rewrite leaves its captures for the route's redirect (exchange.state). */
export const REWRITE_CAPTURES = Symbol('rewrite captures')

/** Control characters, space, "?", "#", "%" and "\\" are not for a rewritten path's literal part. */
const TO_REFUSED = /[\x00-\x20\x7f?#%\\]/

export const rewritePolicy = defineBuiltin({
  name: 'rewrite',
  phase: 'beforeCache',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).rewriteSchema.optional(),
  check(config) {
    if (!config) return []
    const problems: string[] = []
    const pattern = patternProblem(config.pattern)
    if (pattern) problems.push(`pattern: ${pattern}`)
    if (!config.to.startsWith('/')) problems.push('to: must start with "/"')
    else if (TO_REFUSED.test(config.to)) problems.push('to: must be a plain path ("?", "#", "%", "\\", spaces and controls are refused)')
    else {
      const template = templateProblem(config.to, pattern ? 9 : compilePattern(config.pattern).captures, false)
      if (template) problems.push(`to: ${template.replace('rewrite.pattern', 'pattern')}`)
    }
    return problems
  },
  build(config, context) {
    if (!config) return undefined
    const { regex } = compilePattern(config.pattern)
    const to = compileTemplate(config.to)
    // The route's redirect reads the captures (policies/redirect/): kept only when there is one.
    const keep = (context.route.config as { redirect?: unknown } | undefined)?.redirect !== undefined
    return function rewrite(exchange, next) {
      const captures = regex.exec(exchange.path)
      if (captures !== null) {
        const path = to.render(captures, exchange.path, exchange.query)
        // A "." or ".." capture, or an empty one between slashes, must not reach the upstream as such.
        exchange.path = path.includes('/.') || path.includes('//') ? resolveSegments(path) : path
        if (keep) exchange.state.set(REWRITE_CAPTURES, captures)
      }
      return next(exchange)
    }
  },
})
