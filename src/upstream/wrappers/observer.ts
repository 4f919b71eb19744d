/**
 * Tells an observer (metrics) each exchange's time to the response head, or its failure
 * by code. Body failures are reported by the forwarder, which reads the body.
 */
import { UpstreamError, type UpstreamErrorCode } from '../errors.ts'
import { sendFrom, type ClientWrapper } from '../types.ts'

/** What is reported about one upstream's exchanges. */
export interface UpstreamObserver {
  /** A response head arrived `seconds` after the request was sent. */
  response(status: number, seconds: number): void
  error(code: UpstreamErrorCode): void
  /** A request that was retried ended: with a success, a failure, or out of budget. */
  retry?(outcome: 'success' | 'failure' | 'budget_exhausted'): void
  /** Passive health ejected the target with this base URL. */
  ejected?(target: string): void
  /** The circuit breaker changed state. */
  breaker?(state: 'closed' | 'open' | 'half-open'): void
}

export function withObserver(observer: UpstreamObserver): ClientWrapper {
  const failed = (err: unknown): never => {
    if (err instanceof UpstreamError) observer.error(err.code)
    throw err
  }
  return (next) => ({
    // A plain function and a `then`, not an async frame: this runs on every request.
    send(request) {
      const sentAt = performance.now()
      return sendFrom(next, request).then((response) => {
        observer.response(response.status, (performance.now() - sentAt) / 1000)
        return response
      }, failed)
    },
    closeIdle: () => next.closeIdle(),
  })
}
