/**
 * Chooses the target of each request among the usable ones (active health, not ejected,
 * not already tried by this request), counts it in flight until its head arrives and among
 * its tries (and failures, for metrics), and reports the outcome to passive health. When no target is usable, the untried ones are
 * used anyway (and then any): better a likely failure than a certain one.
 */
import { asGatewayError } from '../../kernel/errors.ts'
import { UpstreamError } from '../errors.ts'
import type { OutlierDetector } from '../outlier.ts'
import { sendFrom, type ClientWrapper, type SelectionPolicy, type Target, type TryFailed, type UpstreamRequest } from '../types.ts'

/** The target for `request` by `policy`, among the usable ones not yet tried (also for WebSockets, which bypass the client). */
export function chooseTarget(targets: readonly Target[], policy: SelectionPolicy, outliers: OutlierDetector, request: Pick<UpstreamRequest, 'tried' | 'hashKey'>): Target {
  if (targets.length === 1) return targets[0]!
  const at = performance.now()
  const tried = request.tried
  // The common case, every target usable and none tried: no array made.
  if (!tried && targets.every((t) => outliers.usable(t, at))) return policy.pick(targets, request)
  let pool = targets.filter((t) => outliers.usable(t, at) && !tried?.includes(t))
  if (pool.length === 0 && tried) pool = targets.filter((t) => !tried.includes(t))
  if (pool.length === 0) return policy.pick(targets, request)
  return pool.length === 1 ? pool[0]! : policy.pick(pool, request)
}

/**
 * Every try passes here once, so this is where a try is recorded on the client's exchange
 * (its count and target, for the access log) and a failed one reported (`tryFailed`: the
 * target's failure count and the failure lines).
 */
export function withBalancer(targets: readonly Target[], policy: SelectionPolicy, outliers: OutlierDetector, tryFailed: TryFailed): ClientWrapper {
  return (next) => ({
    // A plain function and a `then`, not an async frame: this runs on every try.
    send(request) {
      const target = chooseTarget(targets, policy, outliers, request)
      request.target = target
      const exchange = request.exchange
      if (exchange) {
        exchange.upstreamTries++
        exchange.upstreamAddress = target.address
      }
      target.inflight++
      target.sent++
      const failed = (err: unknown): never => {
        target.inflight--
        if (err instanceof UpstreamError) {
          outliers.record(target, err.code)
          tryFailed(target, err.code, exchange)
        } else if (asGatewayError(err)?.code === 'overloaded') {
          // Refused by the target's full connection queue: this try never left the gateway.
          target.sent--
          if (exchange) {
            exchange.upstreamTries--
            if (exchange.upstreamTries === 0) exchange.upstreamAddress = undefined
          }
        }
        throw err
      }
      return sendFrom(next, request).then((response) => {
        target.inflight--
        outliers.record(target, response.status)
        return response
      }, failed)
    },
    closeIdle: () => next.closeIdle(),
  })
}
