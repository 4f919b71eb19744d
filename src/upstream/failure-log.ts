/**
 * Failure lines: one `warn` line per upstream try that fails (a retried one too, which the
 * client never sees), naming the target, the error code, the route and the request id. A
 * dead target fails every request sent to it, so the lines are rate-limited per target and
 * code: at most one per interval, and the next one after a quiet spell says how many were
 * left out (`suppressed`). The count is per worker (each keeps its own), as the lines are.
 */
import type { Logger } from '../log.ts'
import type { UpstreamErrorCode } from './errors.ts'
import type { Target } from './types.ts'

/** Reports one failed try of a request (`route`, `requestId` when the try came from one). */
export type FailureLog = (target: Target, code: UpstreamErrorCode, route: string | undefined, requestId: string | undefined) => void

export interface FailureLogOptions {
  /** At most one line per target and code in this many ms; 0 writes every failure. */
  intervalMs: number
  /** ms on a monotonic clock (tests pass their own). */
  now?: () => number
}

interface Slot {
  /** When the last line for this target and code was written. */
  at: number
  /** Failures left out since then. */
  suppressed: number
}

/** @example const failed = createFailureLog('users', log, { intervalMs: 10_000 }); failed(target, 'connect_refused', 'api', id) */
export function createFailureLog(upstream: string, log: Pick<Logger, 'warn'>, options: FailureLogOptions): FailureLog {
  const { intervalMs } = options
  const now = options.now ?? performance.now.bind(performance)
  // Keyed by target, then code: bounded by targets × codes, and no key string made per failure.
  const slots = new Map<Target, Map<UpstreamErrorCode, Slot>>()
  return function failureLog(target, code, route, requestId) {
    const at = now()
    let byCode = slots.get(target)
    if (!byCode) slots.set(target, (byCode = new Map()))
    const slot = byCode.get(code)
    if (slot && at - slot.at < intervalMs) {
      slot.suppressed++
      return
    }
    const suppressed = slot?.suppressed ?? 0
    if (slot) {
      slot.at = at
      slot.suppressed = 0
    } else byCode.set(code, { at, suppressed: 0 })
    log.warn('upstream_failure', { upstream, target: target.address, error: code, route, requestId, suppressed: suppressed > 0 ? suppressed : undefined })
  }
}
