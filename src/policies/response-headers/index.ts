/**
 * A route's `responseHeaders` rules (upstream/header-rules.ts), on every answer of its
 * pipeline: from the upstream or the cache.
 */
import type { HeaderRules } from '../../config/schema.ts'
import type { Middleware } from '../../kernel/exchange.ts'
import { applyHeaderRules } from '../../upstream/header-rules.ts'

/** The stage of `responseHeaders`: applied to whatever the rest of the pipeline answers. */
export function responseHeaderRules(rules: HeaderRules): Middleware {
  const apply = (response: Response) => {
    applyHeaderRules(response.headers, rules)
    return response
  }
  return (exchange, next) => {
    const answer = next(exchange)
    return answer instanceof Promise ? answer.then(apply) : apply(answer)
  }
}
