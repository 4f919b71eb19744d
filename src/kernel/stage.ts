/**
 * A route's chain: stages composed around a terminal at boot, so a request pays one plain
 * call per stage, no async frame per layer and no closure made per request. Every stage
 * answers with a Response (a refusal too: kernel/errors.ts), so each stage outside another
 * sees every answer it gives.
 */
import type { Exchange } from './exchange.ts'

/** What comes after a stage: the rest of the chain. */
export type Handler = (exchange: Exchange) => Response | Promise<Response>

/** One stage: answers itself, or hands the exchange to `next` (and may change what comes back). */
export type Stage = (exchange: Exchange, next: Handler) => Response | Promise<Response>

/** `stages`, outermost first, around `terminal`. */
export function compose(stages: readonly Stage[], terminal: Handler): Handler {
  let handler = terminal
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i]!
    const next = handler
    handler = (exchange) => stage(exchange, next)
  }
  return handler
}
