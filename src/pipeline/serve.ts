/**
 * Turns a route's chain into its handler (a RouteServer, which the app's dispatch calls): the edge makes the
 * Exchange, the chain answers (refusals too are answers), the answer gets its X-Request-Id
 * (made once, by the edge; set here only), and the request is recorded in the route's own
 * metric slot, the refusals counted, and, when on, the request's span ended (tracing/) and the
 * access log written. Only a bug gets
 * here as an exception: it is rendered as the one 500 (app.ts). The route table chose the
 * route (host routes included), so a handler serves whatever it is given.
 */
import type { AccessLog } from '../access-log/index.ts'
import type { Route } from '../config/routes.ts'
import type { Admit } from '../edge/index.ts'
import { overloaded, refusal, refusalOf } from '../kernel/errors.ts'
import type { Exchange } from '../kernel/exchange.ts'
import type { Handler } from '../kernel/stage.ts'
import type { ServerBindings } from '../kernel/types.ts'
import { declaredLength, type RequestRecorder } from '../metrics/http.ts'
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

/** What every route's handler shares: the edge, and what sees every answered request. */
interface Shared {
  admit: Admit
  renderError: ServeDeps['renderError']
  rejected: ((code: string) => void) | undefined
  tracer: Tracer | undefined
  accessLog: AccessLog | undefined
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

/** Makes each route's handler; what they share (the edge, the observers) is made once, here. */
export function routeServers(deps: ServeDeps): (route: Route, pipeline: Handler, load?: Load) => RouteServer {
  const { tracer } = deps
  const shared: Shared = {
    admit: deps.admit,
    renderError: deps.renderError,
    rejected: deps.rejected,
    tracer,
    accessLog: deps.accessLog,
  }
  return (route, pipeline, load) => new RouteServer(route, pipeline, deps.recorderFor?.(route.name), shared, load)
}

/** One route's handler: a class, not closures, as a worker holds one per route (10,000 routes, 10,000 of these). */
export class RouteServer {
  /** No stage of this route changes an answer's fields in place but for its own (CORS): the forwarder's stamp holds. */
  private readonly keepsStamped: boolean

  constructor(
    private readonly route: Route,
    private readonly pipeline: Handler,
    /** The route's metrics (the health probe records in the health route's). */
    readonly recorder: RequestRecorder | undefined,
    private readonly shared: Shared,
    private readonly load: Load | undefined
  ) {
    const config = route.config
    this.keepsStamped = config !== undefined && config.responseHeaders === undefined && config.plugins.length === 0
  }

  /** `url` is `raw.url` read once; `path` its normalised path, which the route table matched; `host` the Host field as received. */
  handle(raw: Request, server: ServerBindings | undefined, url: string, path: string, host: string | null): Response | Promise<Response> {
    const started = performance.now()
    const { shared, load } = this
    const exchange = shared.admit(raw, server, url, path, this.route, host)
    // With tracing, the span starts as the Exchange is made: a refusal (even overloaded) has one too.
    if (shared.tracer !== undefined) shared.tracer.start(exchange, started)
    if (load && load.inflight >= load.max) {
      const refused = refusal(exchange.requestId, OVERLOADED)
      this.observe(exchange, refused, started)
      return refused
    }
    let answer: Response | Promise<Response>
    try {
      answer = this.pipeline(exchange)
    } catch (err) {
      answer = shared.renderError(err, exchange)
    }
    if (answer instanceof Promise) {
      if (!load) return this.settle(answer, exchange, started)
      if (load.countAfterOneTurn) return this.countAfterOneTurn(answer, exchange, started, load)
      // Counted until the response head: what waits on an upstream is the queue being bounded.
      load.inflight++
      return this.settle(answer, exchange, started, load)
    }
    this.observe(exchange, answer, started)
    return answer
  }

  /**
   * The end of every answer: the one place X-Request-Id is set (where the forwarder did not put
   * it in already: Exchange.stamped), then metrics and the access log.
   */
  private observe(exchange: Exchange, response: Response, started: number): void {
    // A stage that may change an answer's fields in place (header rules, plugins) may have changed that one.
    const stamped = exchange.stamped === response && this.keepsStamped
    if (!stamped) response.headers.set('x-request-id', exchange.requestId)
    const ended = performance.now()
    const ms = ended - started
    const raw = exchange.raw
    this.recorder?.record(raw.method, response.status, ms / 1000, declaredLength(exchange.requestFields), stamped ? exchange.responseBytes! : declaredLength(response.headers))
    const { tracer, rejected, accessLog } = this.shared
    tracer?.end(exchange, response, ended)
    if (!rejected && !accessLog) return
    const refused = refusalOf(response)
    // The client's refusals and the overload's; an upstream's failure is counted as such.
    if (rejected && refused && ((refused.status < 500 && refused.code !== 'client_closed') || refused.code === 'overloaded')) rejected(refused.code)
    accessLog?.(exchange, response, ms, refused)
  }

  /** The asynchronous end of a request: one await, then the same rendering and recording; `counted` in flight until then. */
  private async settle(answer: Promise<Response>, exchange: Exchange, started: number, counted?: Load): Promise<Response> {
    let response: Response
    try {
      response = await answer
    } catch (err) {
      response = this.shared.renderError(err, exchange)
    }
    if (counted !== undefined) counted.inflight--
    this.observe(exchange, response, started)
    return response
  }

  /** `settle`, counted in `load` from one turn on, and not at all when the client left by then. */
  private async countAfterOneTurn(answer: Promise<Response>, exchange: Exchange, started: number, load: Load): Promise<Response> {
    // Settled from now on (a rejection always has its handler); only the counting waits.
    const settled = this.settle(answer, exchange, started)
    await nextTurn()
    if (exchange.raw.signal.aborted) return settled
    load.inflight++
    try {
      return await settled
    } finally {
      load.inflight--
    }
  }
}
