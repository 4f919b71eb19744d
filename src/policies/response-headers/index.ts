/**
 * `routes[].responseHeaders`: the route's response header rules (kernel/header-rules.ts) on
 * every answer of its chain: the upstream's, the cache's, and the gateway's own refusals
 * (401, 405, 429...), so a route's Strict-Transport-Security is on all of them. The
 * outermost stage for that reason.
 */
import { applyHeaderRules } from '../../kernel/header-rules.ts'
import { defineBuiltin } from '../builtin.ts'
import { headerRuleProblems } from '../field-rules.ts'

export const responseHeadersPolicy = defineBuiltin({
  name: 'responseHeaders',
  phase: 'edge',
  schema: () => (require('../fields.ts') as typeof import('../fields.ts')).headerRulesSchema.optional(),
  check: (rules) => (rules ? headerRuleProblems(rules) : []),
  build(rules) {
    if (!rules) return undefined
    const apply = (response: Response) => {
      applyHeaderRules(response.headers, rules)
      return response
    }
    return function responseHeaders(exchange, next) {
      const answer = next(exchange)
      return answer instanceof Promise ? answer.then(apply) : apply(answer)
    }
  },
})
