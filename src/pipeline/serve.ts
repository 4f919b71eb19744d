/**
 * Turns a route's pipeline into the Hono handler registered for it: the edge makes the
 * Exchange, the pipeline answers, a failure is rendered into the one JSON error, the answer
 * gets its X-Request-Id (made once, by the edge; set here only), and the request is recorded
 * in the route's own metric slot and, when on, the access log. Host-specific routes hand a request
 * for another host to the next matching route (Hono tries them in registration order).
 */
import type { Handler as HonoHandler } from 'hono'
import type { AccessLog } from '../access-log/index.ts'
import type { Admit } from '../edge/index.ts'
import { hostForRouting } from '../edge/target.ts'
import type { RequestRecorder } from '../metrics/http.ts'
import type { GatewayEnv } from '../kernel/types.ts'
import { overloaded } from '../kernel/errors.ts'
import type { Exchange, Handler } from '../kernel/exchange.ts'
import type { Route } from './route.ts'

export interface ServeDeps {
  admit: Admit
  /** The one error renderer (app.ts). */
  renderError(err: unknown, exchange: Exchange): Response
  recorderFor?(route: string): RequestRecorder
  accessLog?: AccessLog
}

/** What sees every answered request of a route. */
interface Observers {
  recorder: RequestRecorder | undefined
  accessLog: AccessLog | undefined
}

/** The end of every answer: the one place X-Request-Id is set, then metrics and the access log. */
function observe(observers: Observers, exchange: Exchange, response: Response, started: number): void {
  response.headers.set('x-request-id', exchange.requestId)
  const ms = performance.now() - started
  observers.recorder?.record(exchange.raw.method, response.status, ms / 1000)
  observers.accessLog?.(exchange, response, ms)
}

/** Requests in flight on the routes that share it, and how many may be (server.maxInflightPerWorker). */
export interface Load {
  inflight: number
  readonly max: number
}

export function serveRoute(route: Route, pipeline: Handler, deps: ServeDeps, load?: Load): HonoHandler<GatewayEnv> {
  const { admit, renderError } = deps
  const observers: Observers = { recorder: deps.recorderFor?.(route.name), accessLog: deps.accessLog }
  const host = route.host
  return function handleRoute(c, next) {
    if (host !== undefined && hostForRouting(c.req.raw.headers.get('host')) !== host) return next()
    const started = performance.now()
    const exchange = admit(c, route)
    if (load && load.inflight >= load.max) {
      const refused = renderError(overloaded(), exchange)
      observe(observers, exchange, refused, started)
      return refused
    }
    let answer: Response | Promise<Response>
    try {
      answer = pipeline(exchange)
    } catch (err) {
      answer = renderError(err, exchange)
    }
    if (answer instanceof Promise) {
      if (!load) return settle(answer, exchange, started, observers, renderError)
      // Counted until the response head: what waits on an upstream is the queue being bounded.
      load.inflight++
      return settle(answer, exchange, started, observers, renderError).then((response) => {
        load.inflight--
        return response
      })
    }
    observe(observers, exchange, answer, started)
    return answer
  }
}

/** The asynchronous end of a request: one await, then the same rendering and recording. */
async function settle(
  answer: Promise<Response>,
  exchange: Exchange,
  started: number,
  observers: Observers,
  renderError: ServeDeps['renderError']
): Promise<Response> {
  let response: Response
  try {
    response = await answer
  } catch (err) {
    response = renderError(err, exchange)
  }
  observe(observers, exchange, response, started)
  return response
}
