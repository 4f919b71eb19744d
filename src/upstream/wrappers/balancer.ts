/**
 * Chooses the target of each request among the usable ones (active health, not ejected,
 * not already tried by this request), counts it in flight until its head arrives and among
 * its tries (and failures, for metrics), and reports the outcome to passive health. When no target is usable, the untried ones are
 * used anyway (and then any): better a likely failure than a certain one.
 */
import { asGatewayError } from '../../kernel/errors.ts'
import type { TryTrace } from '../../kernel/exchange.ts'
import { UpstreamError } from '../errors.ts'
import type { OutlierDetector } from '../outlier.ts'
import { sendFrom, type ClientWrapper, type SelectionPolicy, type Target, type TryFailed, type UpstreamRequest, type UpstreamResponse } from '../types.ts'

/** The target for `request` by `policy`, among the usable ones not yet tried (also for WebSockets, which bypass the client). */
export function chooseTarget(targets: readonly Target[], policy: SelectionPolicy, outliers: OutlierDetector, request: Pick<UpstreamRequest, 'tried' | 'hashKey'>): Target {
  if (targets.length === 1) return targets[0]!
  const at = performance.now()
  // The common case, every target usable and none tried: no array, and no closure (whose
  // captured variables would make this function a scope object on every call).
  if (request.tried === undefined && allUsable(targets, outliers, at)) return policy.pick(targets, request)
  return chooseAmongUsable(targets, policy, outliers, request, at)
}

function allUsable(targets: readonly Target[], outliers: OutlierDetector, at: number): boolean {
  for (const target of targets) if (!outliers.usable(target, at)) return false
  return true
}

/** Some target is ejected or already tried: the usable untried ones, else the untried ones, else any. */
function chooseAmongUsable(targets: readonly Target[], policy: SelectionPolicy, outliers: OutlierDetector, request: Pick<UpstreamRequest, 'tried' | 'hashKey'>, at: number): Target {
  const tried = request.tried
  let pool = targets.filter((t) => outliers.usable(t, at) && !tried?.includes(t))
  if (pool.length === 0 && tried) pool = targets.filter((t) => !tried.includes(t))
  if (pool.length === 0) return policy.pick(targets, request)
  return pool.length === 1 ? pool[0]! : policy.pick(pool, request)
}

/**
 * Every try passes here once, so this is where a try is recorded on the client's exchange
 * (its count and target, for the access log), a failed one reported (`tryFailed`: the
 * target's failure count and the failure lines), and, with tracing, each try gets a CLIENT
 * span of the request's trace (tracing/spans.ts), ended at the response head or with the
 * try's error code. Here rather than in a wrapper of its own: a sampled try then costs no
 * second `then`, two closures and a promise (bench:builds --sampled, docs/monitoring.md).
 *
 * A try is `begin`, then `answered` or `failed`: the wrapper below chains them on the client
 * it wraps, and the forwarder calls them itself around the base client when the balancer is
 * the upstream's only layer (Upstream.direct), which saves a proxied request that `then`.
 */
export class Balancer {
  constructor(
    private readonly targets: readonly Target[],
    private readonly policy: SelectionPolicy,
    private readonly outliers: OutlierDetector,
    private readonly tryFailed: TryFailed
  ) {}

  /** Chooses the try's target (`request.target`) and counts it; its span, when traced. */
  begin(request: UpstreamRequest): TryTrace | undefined {
    const target = chooseTarget(this.targets, this.policy, this.outliers, request)
    request.target = target
    const exchange = request.exchange
    let span: TryTrace | undefined
    if (exchange) {
      exchange.upstreamTries++
      exchange.upstreamAddress = target.address
      // Its request carries a traceparent naming this try's span (the base client writes
      // `request.traceparent`); the retry wrapper records each try's target in `tried` after it.
      span = exchange.trace?.startTry(request, request.method, request.path, request.tried?.length ?? 0)
    }
    target.inflight++
    target.sent++
    return span
  }

  /** The try's response head arrived. */
  answered(request: UpstreamRequest, span: TryTrace | undefined, response: UpstreamResponse): void {
    const target = request.target!
    target.inflight--
    span?.end(target.base, response.status, undefined)
    this.outliers.record(target, response.status)
  }

  /** The try failed with `err` (the caller rethrows it). */
  failed(request: UpstreamRequest, span: TryTrace | undefined, err: unknown): void {
    const target = request.target!
    const exchange = request.exchange
    target.inflight--
    span?.end(target.base, undefined, err instanceof UpstreamError ? err.code : err instanceof Error ? err.name : 'error')
    if (err instanceof UpstreamError) {
      this.outliers.record(target, err.code)
      this.tryFailed(target, err.code, exchange)
    } else if (asGatewayError(err)?.code === 'overloaded') {
      // Refused by the target's full connection queue: this try never left the gateway.
      target.sent--
      if (exchange) {
        exchange.upstreamTries--
        if (exchange.upstreamTries === 0) exchange.upstreamAddress = undefined
      }
    }
  }
}

/** The balancer as a layer around `next`: a plain function and a `then`, not an async frame. */
export function withBalancer(balancer: Balancer): ClientWrapper {
  return (next) => ({
    send(request) {
      const span = balancer.begin(request)
      return sendFrom(next, request).then(
        (response) => {
          balancer.answered(request, span, response)
          return response
        },
        (err: unknown): never => {
          balancer.failed(request, span, err)
          throw err
        }
      )
    },
    closeIdle: () => next.closeIdle(),
  })
}
