/**
 * One CLIENT span per upstream try (tracing/), between the retries and the balancer: each
 * try, retried or not, is its own span, a child of the request's, and its request carries a
 * `traceparent` naming that span (the client's own, if any, was not copied), which the base
 * client writes from `request.traceparent`. The span ends at
 * the response head, or with the try's error code. Present only when tracing is on.
 */
import { UpstreamError } from '../errors.ts'
import { sendFrom, type ClientWrapper } from '../types.ts'

export const withTracing: ClientWrapper = (next) => ({
  // A plain function, not an async one: an unsampled try (no span) is passed through as it
  // is, and a sampled one costs a `then`, not one more async frame per request.
  send(request) {
    const trace = request.exchange?.trace
    if (trace === undefined) return next.send(request)
    // The retry wrapper records each try's target in `tried` after it: this try's number.
    const span = trace.startTry(request, request.method, request.path, request.tried?.length ?? 0)
    if (span === undefined) return next.send(request)
    const failed = (err: unknown): never => {
      span.end(request.target?.base, undefined, err instanceof UpstreamError ? err.code : err instanceof Error ? err.name : 'error')
      throw err
    }
    return sendFrom(next, request).then((response) => {
      span.end(request.target?.base, response.status, undefined)
      return response
    }, failed)
  },
  closeIdle: () => next.closeIdle(),
})
