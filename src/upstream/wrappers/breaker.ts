/**
 * A circuit breaker per upstream (and worker): after `consecutiveFailures` failed requests
 * in a row (connection failures, timeouts and 502/503/504 once retries are spent), it opens
 * for openSeconds: requests get a fast 503 `upstream_unavailable` without touching the
 * network. Then it is half-open: `halfOpenRequests` probes go through; a success closes it,
 * a failure opens it again.
 */
import { GatewayError } from '../../kernel/errors.ts'
import { UpstreamError } from '../errors.ts'
import type { ClientWrapper } from '../types.ts'

export interface BreakerOptions {
  consecutiveFailures: number
  openSeconds: number
  halfOpenRequests: number
}

export type BreakerState = 'closed' | 'open' | 'half-open'

export interface Breaker {
  readonly state: BreakerState
  readonly wrap: ClientWrapper
}

const FAILED_STATUSES: ReadonlySet<number> = new Set([502, 503, 504])

export function createBreaker(options: BreakerOptions, onChange?: (state: BreakerState) => void, now: () => number = performance.now.bind(performance)): Breaker {
  let state: BreakerState = 'closed'
  let failures = 0
  let openUntil = 0
  let probes = 0
  const become = (next: BreakerState) => {
    if (next === state) return
    state = next
    onChange?.(next)
  }
  const failed = () => {
    if (state === 'half-open' || ++failures >= options.consecutiveFailures) {
      openUntil = now() + options.openSeconds * 1000
      failures = 0
      become('open')
    }
  }
  const succeeded = () => {
    failures = 0
    become('closed')
  }
  const unavailable = () => new GatewayError('upstream_unavailable', { headers: { 'retry-after': String(Math.max(1, Math.ceil((openUntil - now()) / 1000))) } })
  return {
    get state() {
      return state
    },
    wrap: (next) => ({
      async send(request) {
        if (state === 'open') {
          if (now() < openUntil) throw unavailable()
          become('half-open')
          probes = 0
        }
        if (state === 'half-open' && probes >= options.halfOpenRequests) throw unavailable()
        const probing = state === 'half-open'
        if (probing) probes++
        try {
          const response = await next.send(request)
          if (FAILED_STATUSES.has(response.status)) failed()
          else succeeded()
          return response
        } catch (err) {
          if (err instanceof UpstreamError) failed()
          throw err
        } finally {
          if (probing) probes--
        }
      },
      closeIdle: () => next.closeIdle(),
    }),
  }
}
