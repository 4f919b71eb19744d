/**
 * Turns a route's chain into the Hono handler registered for it: the edge makes the
 * Exchange, the chain answers (refusals too are answers), the answer gets its X-Request-Id
 * (made once, by the edge; set here only), and the request is recorded in the route's own
 * metric slot, the refusals counted, and, when on, the request's span ended (tracing/) and the
 * access log written. Only a bug gets
 * here as an exception: it is rendered as the one 500 (app.ts). The route table chose the
 * route (host routes included), so a handler serves whatever it is given.
 */
import type { Handler as HonoHandler } from 'hono'
import type { AccessLog } from '../access-log/index.ts'
import type { Route } from '../config/routes.ts'
import type { Admit } from '../edge/index.ts'
import { overloaded, refusal, refusalOf } from '../kernel/errors.ts'
import type { Exchange } from '../kernel/exchange.ts'
import type { Handler } from '../kernel/stage.ts'
import type { GatewayEnv } from '../kernel/types.ts'
import type { RequestRecorder } from '../metrics/http.ts'
import type { Tracer } from '../tracing/index.ts'

export interface ServeDeps {
  admit: Admit
  /** The answer to an exception that escaped a chain: a bug (app.ts logs it, answers 500). */
  renderError(err: unknown, exchange: Exchange): Response
  recorderFor?(route: string): RequestRecorder
  /** Counts a refusal the gateway answered (its code). */
  rejected?(code: string): void
  accessLog?: AccessLog
  /** Starts a span for each request and ends it with the answer; absent when tracing is off. */
  tracer?: Tracer
}

/** What sees every answered request of a route. */
interface Observers {
  recorder: RequestRecorder | undefined
  rejected: ((code: string) => void) | undefined
  tracer: Tracer | undefined
  accessLog: AccessLog | undefined
}

/** The end of every answer: the one place X-Request-Id is set, then metrics and the access log. */
function observe(observers: Observers, exchange: Exchange, response: Response, started: number): void {
  response.headers.set('x-request-id', exchange.requestId)
  const ms = performance.now() - started
  observers.recorder?.record(exchange.raw.method, response.status, ms / 1000, exchange.raw.headers, response.headers)
  observers.tracer?.end(exchange, response)
  const { rejected, accessLog } = observers
  if (!rejected && !accessLog) return
  const refused = refusalOf(response)
  // The client's refusals and the overload's; an upstream's failure is counted as such.
  if (rejected && refused && ((refused.status < 500 && refused.code !== 'client_closed') || refused.code === 'overloaded')) rejected(refused.code)
  accessLog?.(exchange, response, ms, refused)
}

const OVERLOADED = overloaded()

/** Requests in flight on the routes that share it, and how many may be (server.maxInflightPerWorker). */
export interface Load {
  inflight: number
  readonly max: number
  /**
   * HTTP/2 ports: count a request only once it is still there one event-loop turn later. A
   * rapid reset (CVE-2023-44487) has Bun run ~1,000 handlers in one read before it reads their
   * RST_STREAMs; counted at once, they would fill `max` and refuse other clients meanwhile.
   */
  readonly countAfterOneTurn?: boolean
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

export function serveRoute(route: Route, pipeline: Handler, deps: ServeDeps, load?: Load): HonoHandler<GatewayEnv> {
  const { admit, renderError, tracer } = deps
  const observers: Observers = { recorder: deps.recorderFor?.(route.name), rejected: deps.rejected, tracer, accessLog: deps.accessLog }
  return function handleRoute(c) {
    const started = performance.now()
    const exchange = admit(c, route)
    // With tracing, the span starts as the Exchange is made: a refusal (even overloaded) has one too.
    if (tracer !== undefined) tracer.start(exchange, started)
    if (load && load.inflight >= load.max) {
      const refused = refusal(exchange.requestId, OVERLOADED)
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
      if (load.countAfterOneTurn) return countAfterOneTurn(answer, exchange, started, observers, renderError, load)
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

/** `settle`, counted in `load` from one turn on, and not at all when the client left by then. */
async function countAfterOneTurn(
  answer: Promise<Response>,
  exchange: Exchange,
  started: number,
  observers: Observers,
  renderError: ServeDeps['renderError'],
  load: Load
): Promise<Response> {
  // Settled from now on (a rejection always has its handler); only the counting waits.
  const settled = settle(answer, exchange, started, observers, renderError)
  await nextTurn()
  if (exchange.raw.signal.aborted) return settled
  load.inflight++
  try {
    return await settled
  } finally {
    load.inflight--
  }
}
