/**
 * Retries (docs/upstreams.md): only idempotent methods (RFC 9110 §9.2.2) without a streamed
 * body, only on the configured failures, each try to a target not tried yet (as nginx's
 * proxy_next_upstream: with no other target, no retry), after a jittered backoff, within the retry budget, and never once the client or the
 * deadline has gone. A try's answer that is to be retried is drained before the next try.
 * The native client's own stale-connection retry is below this and not counted here.
 */
import type { RETRY_ON } from '../../config/schema.ts'
import { AbortPoint } from '../deadline.ts'
import { UpstreamError, type UpstreamErrorCode } from '../errors.ts'
import type { RetryBudget } from '../retry-budget.ts'
import type { ClientWrapper, UpstreamRequest, UpstreamResponse } from '../types.ts'

export interface RetryOptions {
  attempts: number
  on: readonly (typeof RETRY_ON)[number][]
  perTryTimeoutMs?: number
}

export type RetryOutcome = 'success' | 'failure' | 'budget_exhausted'

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
const ERROR_CLASS: Partial<Record<UpstreamErrorCode, (typeof RETRY_ON)[number]>> = {
  connect_refused: 'connect-failure',
  connect_timeout: 'connect-failure',
  dns: 'connect-failure',
  reset: 'reset',
  headers_timeout: 'timeout',
}
const BACKOFF_MS = 25
const ignore = () => {}

export function withRetries(options: RetryOptions, targetCount: number, budget: RetryBudget, onRetry?: (outcome: RetryOutcome) => void): ClientWrapper {
  const attempts = Math.min(options.attempts, targetCount)
  const statuses = new Set(options.on.filter((o) => /^\d+$/.test(o)).map(Number))
  const errors = new Set(options.on.filter((o) => !/^\d+$/.test(o)))
  const retryableError = (err: unknown) => err instanceof UpstreamError && errors.has(ERROR_CLASS[err.code]!)
  return (next) => ({
    async send(request) {
      if (attempts <= 1 || request.body !== null || !IDEMPOTENT.has(request.method)) return next.send(request)
      budget.deposit()
      const outer = request.deadline
      let retried = false
      for (let attempt = 1; ; attempt++) {
        const last = attempt === attempts
        const tryDeadline = options.perTryTimeoutMs && outer ? new TryDeadline(outer, options.perTryTimeoutMs) : undefined
        const sent = tryDeadline ? withDeadline(request, tryDeadline) : request
        let response: UpstreamResponse
        try {
          response = await next.send(sent)
        } catch (err) {
          tryDeadline?.end()
          const failure = tryDeadline?.timedOut && !outer?.aborted ? new UpstreamError('headers_timeout', { cause: err }) : err
          if (last || outer?.aborted || !retryableError(failure)) {
            if (retried) onRetry?.('failure')
            throw failure
          }
          if (!budget.withdraw()) {
            onRetry?.('budget_exhausted')
            throw failure
          }
          retried = true
          await pause(attempt, request)
          continue
        } finally {
          ;(request.tried ??= []).push(sent.target!)
          request.target = sent.target
        }
        tryDeadline?.end()
        if (last || !statuses.has(response.status) || outer?.aborted) {
          if (retried) onRetry?.(statuses.has(response.status) ? 'failure' : 'success')
          return response
        }
        if (!budget.withdraw()) {
          onRetry?.('budget_exhausted')
          return response
        }
        retried = true
        response.body?.cancel().catch(ignore)
        await pause(attempt, request)
      }
    },
    closeIdle: () => next.closeIdle(),
  })
}

/** Jittered exponential backoff: 25 ms, 50 ms, ... each × 0.5-1.5. */
function pause(attempt: number, request: UpstreamRequest): Promise<void> {
  const ms = BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random())
  if (request.deadline?.aborted) return Promise.resolve()
  return Bun.sleep(ms)
}

/** The request as one try sends it: the same fields, the try's deadline. */
function withDeadline(request: UpstreamRequest, deadline: TryDeadline): UpstreamRequest {
  return {
    method: request.method,
    path: request.path,
    headers: request.headers,
    body: request.body,
    get signal() {
      return deadline.signal
    },
    deadline,
    tried: request.tried,
    hashKey: request.hashKey,
    exchange: request.exchange,
  }
}

/**
 * One try's deadline: the request's own, plus perTryTimeoutMs until the head arrives.
 * The request's deadline keeps one listener, this try's; what it hears is passed on.
 */
class TryDeadline extends AbortPoint {
  private readonly timer: ReturnType<typeof setTimeout>

  constructor(outer: NonNullable<UpstreamRequest['deadline']>, ms: number) {
    super()
    outer.onAbort({ abortedBy: (reason) => this.abort(reason, outer.timedOut) })
    if (outer.aborted) this.abort(outer.reason, outer.timedOut)
    this.timer = setTimeout(() => this.abort(new DOMException('per-try deadline passed', 'TimeoutError'), true), ms)
  }

  /** The head arrived (or the try failed): only the request's own deadline goes on. */
  end(): void {
    clearTimeout(this.timer)
  }
}
