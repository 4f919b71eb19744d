/** One upstream origin: frozen base URL plus mutable state (Caddy's Upstream/Host split). */
import type { UpstreamErrorCode } from '../kernel/errors.ts'
import type { Target } from './types.ts'

/** Builds a target from a validated http(s) URL; the base keeps any path, minus a trailing slash. */
export function createTarget(url: string, weight = 1): Target {
  const parsed = new URL(url)
  const path = parsed.pathname === '/' ? '' : parsed.pathname.replace(/\/+$/, '')
  const address = `${parsed.hostname}:${parsed.port || (parsed.protocol === 'https:' ? '443' : '80')}`
  return { base: `${parsed.origin}${path}`, address, weight, inflight: 0, healthy: true, checked: false, ejectedUntil: 0, ejections: 0, failures: 0, sent: 0, failedBy: undefined }
}

/** Counts a failed try of `target` (its head, or its body after the head), for metrics. */
export function countFailure(target: Target, code: UpstreamErrorCode): void {
  target.failedBy ??= new Map()
  target.failedBy.set(code, (target.failedBy.get(code) ?? 0) + 1)
}

/** An active health verdict for one target, from the primary's checker to every worker. */
export interface TargetHealth {
  upstream: string
  /** The target's base URL, as the workers' Target.base. */
  target: string
  healthy: boolean
}
