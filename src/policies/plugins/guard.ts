/**
 * A plugin's stage, guarded: one that throws, rejects, or answers with something other than
 * a Response gives the client a 500 `plugin_error` JSON with the request id (never its
 * message or stack), and the log one line per plugin and route per 10 s, with the error's
 * class (a plugin that wants its messages logged catches and logs them with context.log).
 */
import { refuse } from '../../kernel/errors.ts'
import type { Exchange } from '../../kernel/exchange.ts'
import type { Stage } from '../../kernel/stage.ts'

/** How often a failing plugin is logged. */
const LOG_EVERY_MS = 10_000

interface Log {
  error(event: string, fields?: Record<string, unknown>): void
}

export function guardPlugin(name: string, route: string, stage: Stage, log: Log, now: () => number = Date.now): Stage {
  let loggedAt = -Infinity
  let unlogged = 0
  const failed = (exchange: Exchange, err: unknown): Response => {
    const at = now()
    if (at - loggedAt >= LOG_EVERY_MS) {
      log.error('plugin_error', { plugin: name, route, requestId: exchange.requestId, error: err instanceof Error ? err.name : typeof err, suppressed: unlogged })
      loggedAt = at
      unlogged = 0
    } else unlogged++
    return refuse(exchange.requestId, 'plugin_error')
  }
  const checked = (exchange: Exchange, value: unknown): Response => (value instanceof Response ? value : failed(exchange, new TypeError('not a Response')))
  return function plugin(exchange, next) {
    // The plugin may change the request's headers: the forwarder takes its own snapshot then.
    exchange.fields = undefined
    let answer: unknown
    try {
      answer = stage(exchange, next)
    } catch (err) {
      return failed(exchange, err)
    }
    if (answer instanceof Response) return answer
    if (answer instanceof Promise) return answer.then((value) => checked(exchange, value), (err) => failed(exchange, err))
    return failed(exchange, new TypeError('not a Response'))
  }
}
