/**
 * Passive health (Envoy's outlier detection): a target that fails `consecutiveFailures`
 * times in a row (connect failures, resets, timeouts, 5xx) is ejected for ejectionSeconds ×
 * the number of times it was ejected (capped at 10×). At most maxEjectedPercent of the
 * targets are out at once, and never the last healthy one. Per worker: each worker sees its
 * own failures; active health (the primary's checker) is shared.
 */
import type { UpstreamErrorCode } from '../kernel/errors.ts'
import type { Target } from './types.ts'

export interface OutlierOptions {
  consecutiveFailures: number
  ejectionSeconds: number
  maxEjectedPercent: number
}

/** Failures that say something about the target (a client leaving says nothing). */
const TARGET_FAILURES: ReadonlySet<UpstreamErrorCode> = new Set(['connect_refused', 'connect_timeout', 'dns', 'reset', 'headers_timeout', 'malformed_head'])

export interface OutlierDetector {
  /** The answer's status, or the error code of a failed exchange. */
  record(target: Target, outcome: number | UpstreamErrorCode): void
  /** Whether a target may take requests now (active health and not ejected). */
  usable(target: Target, now: number): boolean
}

export function createOutlierDetector(
  targets: readonly Target[],
  options: OutlierOptions,
  onEject?: (target: Target) => void,
  now: () => number = performance.now.bind(performance)
): OutlierDetector {
  const off = options.consecutiveFailures === 0
  const usable = (target: Target, at: number) => target.healthy && target.ejectedUntil <= at
  return {
    usable,
    record(target, outcome) {
      const failed = typeof outcome === 'number' ? outcome >= 500 : TARGET_FAILURES.has(outcome)
      if (!failed) {
        target.failures = 0
        return
      }
      if (off || ++target.failures < options.consecutiveFailures) return
      const at = now()
      const ejected = targets.filter((t) => t.ejectedUntil > at).length
      const others = targets.filter((t) => t !== target && usable(t, at)).length
      if (others === 0 || ejected + 1 > Math.floor((targets.length * options.maxEjectedPercent) / 100)) return
      target.ejections++
      target.ejectedUntil = at + options.ejectionSeconds * 1000 * Math.min(target.ejections, 10)
      target.failures = 0
      onEject?.(target)
    },
  }
}
