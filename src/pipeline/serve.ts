/**
 * Turns a route's pipeline into the Hono handler registered for it: the edge makes the
 * Exchange, the pipeline answers, a failure is rendered into the one JSON error, and the
 * request is recorded in the route's own metric slot. Host-specific routes hand a request
 * for another host to the next matching route (Hono tries them in registration order).
 */
import type { Context, Handler as HonoHandler } from 'hono'
import type { Admit } from '../middleware/edge/index.ts'
import { hostForRouting } from '../middleware/edge/target.ts'
import type { RequestRecorder } from '../metrics/http.ts'
import type { GatewayEnv } from '../types.ts'
import type { Exchange, Handler } from './exchange.ts'
import type { Route } from './route.ts'

export interface ServeDeps {
  admit: Admit
  /** The one error renderer (app.ts). */
  renderError(err: unknown, exchange: Exchange): Response
  recorderFor?(route: string): RequestRecorder
  /** The access log reads the exchange from the context; otherwise it is not stored there. */
  exposeExchange: boolean
}

export function serveRoute(route: Route, pipeline: Handler, deps: ServeDeps): HonoHandler<GatewayEnv> {
  const { admit, renderError, exposeExchange } = deps
  const recorder = deps.recorderFor?.(route.name)
  const host = route.host
  return function route_(c, next) {
    if (host !== undefined && hostForRouting(c.req.raw.headers.get('host')) !== host) return next()
    const started = performance.now()
    const exchange = admit(c, route)
    if (exposeExchange) c.set('exchange', exchange)
    let answer: Response | Promise<Response>
    try {
      answer = pipeline(exchange)
    } catch (err) {
      answer = renderError(err, exchange)
    }
    if (answer instanceof Promise) return settle(answer, exchange, started, recorder, renderError)
    recorder?.record(exchange.raw.method, answer.status, (performance.now() - started) / 1000)
    return answer
  }
}

/** The asynchronous end of a request: one await, then the same rendering and recording. */
async function settle(
  answer: Promise<Response>,
  exchange: Exchange,
  started: number,
  recorder: RequestRecorder | undefined,
  renderError: ServeDeps['renderError']
): Promise<Response> {
  let response: Response
  try {
    response = await answer
  } catch (err) {
    response = renderError(err, exchange)
  }
  recorder?.record(exchange.raw.method, response.status, (performance.now() - started) / 1000)
  return response
}

/** The exchange of the current request, when the access log asked for it. */
export const exchangeOf = (c: Context<GatewayEnv>): Exchange | undefined => c.get('exchange')
