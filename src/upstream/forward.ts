/**
 * Forwards one request to an upstream and relays the answer: the chain's terminal.
 * Request bodies stream; response bodies stream too, except small ones of known length,
 * which are read whole first (see `bufferResponseBytes`). Headers follow the hop-by-hop and
 * forwarding rules (kernel/forwarding.ts), then what a stage asked for
 * (`exchange.adjustUpstreamHeaders`: the cache's validators). Every failure becomes the
 * gateway's answer (502/504/413/499, kernel/errors.ts) before the response head is sent, or
 * an aborted client connection (never a short body presented as complete) after it; body
 * failures are counted like head failures.
 */
import type { HeaderRules } from '../kernel/header-rules.ts'
import { asGatewayError, GatewayError, refusal } from '../kernel/errors.ts'
import type { Exchange } from '../kernel/exchange.ts'
import type { Fields } from '../kernel/fields.ts'
import { limitBody, relayBody, type RelayHooks } from './body.ts'
import type { ClientLink, Deadline, DeadlineWheel } from './deadline.ts'
import { toGatewayError, UpstreamError } from './errors.ts'
import { upstreamRequestHeaders, type ForwardingContext } from '../kernel/forwarding.ts'
import type { Upstream } from './upstream.ts'
import type { Target, UpstreamRequest, UpstreamResponse } from './types.ts'
import { proxyWebSocket, type WebSockets } from './websocket/index.ts'
import { isWebSocketUpgrade } from '../kernel/forwarding.ts'

/**
 * What a forwarder is built from, once, at boot. Nothing here is a route's own: routes that
 * send to the same upstream with the same settings share one forwarder (app.ts), and the
 * prefix to strip is read from the exchange's route.
 */
export interface ForwarderOptions {
  upstream: Upstream
  /** Largest request body; only streamed bodies without Content-Length need counting. */
  maxBodyBytes: number
  /** Bun's idle timeout in seconds; a longer upstream deadline extends it for each request. */
  idleTimeoutSeconds: number
  dropUnderscores: boolean
  /** Every route's consumer header name (never taken from a client). */
  identityFields: ReadonlySet<string>
  /** The route's requestHeaders rules. */
  requestHeaders?: HeaderRules
  /** A route that compresses: the Accept-Encoding sent upstream for the client's (ForwardingContext.acceptEncoding). */
  acceptEncoding?: (received: string | null) => string
  /** The worker's WebSocket registry, when the route proxies upgrades. */
  websockets?: WebSockets
  /** How clients reach the gateway (https with server.tls). */
  scheme?: 'http' | 'https'
  deadlines: DeadlineWheel
  /** The port speaks HTTP/2: wait one turn of the event loop before sending (CLIENT_GONE_AFTER_ONE_TURN). */
  http2?: boolean
}

export interface RouteForwarder {
  /** The header rules for `exchange`: what the cache keys variants on, too. */
  context(exchange: Exchange): ForwardingContext
  /** Forwards `exchange`: the upstream's answer, or the gateway's refusal when it failed. */
  forward(exchange: Exchange): Promise<Response>
}

const NO_BODY_STATUS: ReadonlySet<number> = new Set([204, 304])
/**
 * HTTP/2 rapid reset (CVE-2023-44487): Bun runs the handler of each HEADERS frame before it
 * reads the RST_STREAM that follows in the same read, and a microtask later the stream still
 * looks alive; one turn of the event loop later the reset is known. Waiting that turn means a
 * stream the client cancelled at once costs no upstream connection or request, and leaves the
 * in-flight count (server.maxInflightPerWorker) at once.
 */
const CLIENT_GONE_AFTER_ONE_TURN = new GatewayError('client_closed', { reason: 'client_closed' })
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

const GRPC_UNIMPLEMENTED = new GatewayError('grpc_unimplemented')
/**
 * gRPC proper: application/grpc, alone or with "+proto", "+json" or parameters. gRPC-Web
 * (application/grpc-web*) carries its trailers in the body, so it is plain HTTP and passes.
 */
function isGrpc(contentType: string | null): boolean {
  if (contentType === null || !contentType.startsWith('application/grpc')) return false
  const next = contentType.charCodeAt(16)
  return Number.isNaN(next) || next === 43 /* "+" */ || next === 59 /* ";" */
}
/** A background exchange's client: none, never gone. */
const NO_CLIENT: ClientLink = { signal: new AbortController().signal }
const ignore = () => {}

export function createForwarder(options: ForwarderOptions): RouteForwarder {
  const { upstream, maxBodyBytes, deadlines, dropUnderscores } = options
  const { timeoutMs, preserveHost, bufferResponseBytes } = upstream.config
  const { client, direct } = upstream
  // Metrics are reported here, where every request is sent and every answer read, not by a
  // wrapper of the client: that cost each request a `then`, a closure, a promise and two clock reads.
  const observer = upstream.observer
  // Bun's idleTimeout also cuts requests whose response has not started: keep it above
  // the upstream deadline so a slow upstream ends in a 504, not a reset.
  const idleSeconds = Math.ceil(timeoutMs / 1000) + 2
  const extendIdleTo = timeoutMs + 1000 > options.idleTimeoutSeconds * 1000 ? (idleSeconds > 255 ? 0 : idleSeconds) : undefined

  const hashKeyOf = upstream.config.balancing === 'hash' ? hashKeyFunction(upstream.config.hashOn) : undefined
  const { identityFields, requestHeaders: rules, scheme, acceptEncoding } = options
  const context = (exchange: Exchange): ForwardingContext => new ExchangeContext(exchange, preserveHost, dropUnderscores, identityFields, rules, scheme, acceptEncoding)

  const websockets = options.websockets
  const upgrade = (exchange: Exchange) => {
    const target = upstream.pick(hashKeyOf?.(exchange))
    const headers = upstreamRequestHeaders(exchange.fields ?? exchange.raw.headers, context(exchange), false)
    // No try span for a handshake: the upstream is told the request's own span.
    exchange.trace?.inject(headers)
    const path = upstreamPath(exchange.route, exchange.path) + exchange.query
    return proxyWebSocket(exchange, websockets!, { base: target.base, path, headers, timeoutMs, maxHeaderBytes: upstream.config.maxResponseHeaderBytes, tls: upstream.tls })
  }

  return {
    context,
    // One async frame from here to the base client's promise: the request is made, sent and
    // relayed in it (the wrappers below are plain functions and thens).
    async forward(exchange) {
      const raw = exchange.raw
      // Not sent: a gRPC client gets a status it understands instead (docs/proxying.md, "gRPC").
      if (isGrpc(exchange.requestFields.get('content-type'))) return refusal(exchange.requestId, GRPC_UNIMPLEMENTED)
      try {
        if (websockets && isWebSocketUpgrade(raw.method, exchange.requestFields)) return await upgrade(exchange)
        if (options.http2 && !exchange.background) {
          await nextTurn()
          if (raw.signal.aborted) throw CLIENT_GONE_AFTER_ONE_TURN
        }
        const method = raw.method
        let body: ReadableStream<Uint8Array> | null = method === 'GET' || method === 'HEAD' ? null : raw.body
        if (body && !raw.headers.has('content-length')) body = limitBody(body, maxBodyBytes, exchange)
        const headers = upstreamRequestHeaders(exchange.fields ?? raw.headers, context(exchange), body !== null)
        exchange.adjustUpstreamHeaders?.(headers)
        if (extendIdleTo !== undefined && !exchange.background) exchange.server?.timeout?.(raw, extendIdleTo)
        // The Request, not its signal: the signal is made only if the exchange outlives a tick.
        const requester = exchange.background ? NO_CLIENT : raw
        const deadline = deadlines.start(timeoutMs, requester)
        const sentAt = performance.now()
        let request: OutgoingRequest
        let response: UpstreamResponse
        try {
          request = new OutgoingRequest(method, upstreamPath(exchange.route, exchange.path) + exchange.query, headers, body, deadline, exchange)
          if (hashKeyOf) request.hashKey = hashKeyOf(exchange)
          if (direct === undefined) response = await client.send(request)
          else {
            // The balancer's try around the base client, here: one `then` less than `client`.
            const span = direct.balancer.begin(request)
            try {
              response = await direct.base.send(request)
            } catch (err) {
              direct.balancer.failed(request, span, err)
              throw err
            }
            direct.balancer.answered(request, span, response)
          }
        } catch (err) {
          deadline.clear()
          // After any retries: the request's failure (gateway_upstream_errors_total).
          if (err instanceof UpstreamError) observer?.error(err.code)
          throw toGatewayError(err, { timedOut: deadline.timedOut, clientGone: requester.signal.aborted })
        }
        const upstreamMs = performance.now() - sentAt
        exchange.upstreamMs = upstreamMs
        exchange.upstreamStatus = response.status
        observer?.response(response.status, upstreamMs / 1000)
        const answer = new ResponseHandle(response, request, requester, upstream, bufferResponseBytes).relay()
        // Most answers are at hand (a small body the native client read whole): no await.
        return answer instanceof Promise ? await answer : answer
      } catch (err) {
        const refused = asGatewayError(err)
        if (!refused) throw err
        return refusal(exchange.requestId, refused)
      }
    },
  }
}

/** What `balancing: hash` hashes for an exchange (upstreams.*.hashOn); undefined spreads it round-robin. */
function hashKeyFunction(hashOn: string): (exchange: Exchange) => string | undefined {
  if (hashOn === 'ip') return (exchange) => exchange.clientAddress
  const name = hashOn.slice(hashOn.indexOf(':') + 1).toLowerCase()
  if (hashOn.startsWith('header:')) return (exchange) => exchange.raw.headers.get(name) ?? undefined
  const prefix = `${hashOn.slice('cookie:'.length)}=`
  return (exchange) => {
    const cookies = exchange.raw.headers.get('cookie')
    if (!cookies) return undefined
    for (const part of cookies.split(';')) {
      const pair = part.trim()
      if (pair.startsWith(prefix)) return pair.slice(prefix.length)
    }
    return undefined
  }
}

/** A request to send: its signal is made only if a client reads it (fetch does, the native client does not). */
class OutgoingRequest implements UpstreamRequest {
  target: Target | undefined = undefined
  hashKey: string | undefined = undefined
  traceparent: string | undefined = undefined
  tracestate: string | undefined = undefined
  constructor(
    readonly method: string,
    readonly path: string,
    readonly headers: Fields,
    readonly body: ReadableStream<Uint8Array> | null,
    readonly deadline: Deadline,
    readonly exchange: Exchange
  ) {}
  get signal(): AbortSignal {
    return this.deadline.signal
  }
}

/** The header rules' view of an exchange: the peer address is looked up only if a rule reads it. */
class ExchangeContext implements ForwardingContext {
  constructor(
    private readonly exchange: Exchange,
    readonly preserveHost: boolean,
    readonly dropUnderscores: boolean,
    readonly identityFields: ReadonlySet<string>,
    readonly rules: HeaderRules | undefined,
    readonly scheme: 'http' | 'https' | undefined,
    readonly acceptEncoding: ((received: string | null) => string) | undefined
  ) {}
  get identity() {
    return this.exchange.identity
  }
  get peerAddress(): string | undefined {
    return this.exchange.peer.address
  }
  get peerTrusted(): boolean {
    return this.exchange.trusted
  }
  get requestId(): string {
    return this.exchange.requestId
  }
  get traced(): boolean {
    return this.exchange.trace !== undefined
  }
}

/**
 * One upstream answer whose head passed the checks, its body still to be consumed: its
 * relay to the client, and the hooks the relay calls (a class: no closure per request).
 */
class ResponseHandle implements RelayHooks {
  readonly status: number
  private readonly hasBody: boolean
  private readonly deadline: Deadline

  constructor(
    private readonly response: UpstreamResponse,
    /** What was sent: its deadline, the exchange it is for, and the target that answered. */
    private readonly request: OutgoingRequest,
    private readonly requester: ClientLink,
    private readonly upstream: Upstream,
    private readonly bufferResponseBytes: number
  ) {
    const method = request.method
    this.deadline = request.deadline
    this.status = response.status
    this.hasBody = method !== 'HEAD' && !NO_BODY_STATUS.has(this.status) && !(response.empty ?? response.body === null)
  }

  /** Read on demand: a relayed answer's fields go into the client's Response as they came (`init`). */
  get headers(): Headers {
    return this.response.headers
  }

  /** RelayHooks: the relay ended (done, failed or cancelled): its bytes are known now. */
  onEnd(bytes: number): void {
    this.deadline.clear()
    const exchange = this.request.exchange
    if (exchange.relayEncoded) return
    exchange.responseBytes = bytes
    exchange.relaying = false
    exchange.afterRelay?.()
  }

  /** RelayHooks: reading the body failed after the head was sent: counted, the client connection aborted. */
  onError(err: unknown): void {
    this.failure(err)
  }

  /** Drops the body and ends the deadline. */
  private discard(): void {
    this.deadline.clear()
    this.response.body?.cancel().catch(ignore)
  }

  /** Reads the whole body; a failure (reset, truncation, deadline) rejects with a GatewayError. */
  private async bytes(): Promise<Uint8Array> {
    try {
      return await this.response.bytes()
    } catch (err) {
      throw this.failure(err)
    } finally {
      this.deadline.clear()
    }
  }

  /**
   * The client response: small bodies buffered, others streamed (see `bufferResponseBytes`);
   * at once when no body is to be read first (none, read whole already, or streamed).
   */
  relay(): Response | Promise<Response> {
    const { status, response } = this
    if (!this.hasBody) {
      this.discard()
      return new Response(null, { status, headers: response.init ?? response.headers })
    }
    // The native client read a small body whole already: no promise to wait on.
    const whole = response.whole
    if (whole !== undefined) {
      this.deadline.clear()
      const init = response.init
      // A record of the fields (no name repeated): the request id goes in with them (Exchange.stamped).
      if (init !== undefined && !(init instanceof Headers) && !Array.isArray(init)) {
        const exchange = this.request.exchange
        init['x-request-id'] = exchange.requestId
        const answer = new Response(whole, { status, headers: init })
        exchange.stamped = answer
        exchange.responseBytes = whole.byteLength
        return answer
      }
      return new Response(whole, { status, headers: init ?? response.headers })
    }
    const headers = response.headers
    const length = headers.get('content-length')
    if (length !== null && Number(length) <= this.bufferResponseBytes) {
      // Small bodies of known length are read whole, like nginx's proxy buffers: the client
      // gets an exact Content-Length, a truncated body becomes a 502 instead of a short 200,
      // and Bun sends it natively (a JS relay halves proxied throughput on small bodies).
      return this.bytes().then((bytes) => new Response(bytes, { status, headers }))
    }
    // Its length known only at the end: the access log waits for it (Exchange.afterRelay).
    if (length === null) this.request.exchange.relaying = true
    return new Response(relayBody(this.response.body!, this), { status, headers })
  }

  /** Maps a body failure to the client's answer, and counts it (gateway_upstream_errors_total). */
  private failure(err: unknown) {
    this.deadline.clear()
    const mapped = toGatewayError(err, {
      timedOut: this.deadline.timedOut,
      clientGone: this.requester.signal.aborted,
      inBody: true,
      declaredLength: this.headers.has('content-length'),
    })
    const cause = mapped.cause
    if (cause instanceof UpstreamError) {
      this.upstream.observer?.error(cause.code)
      const { target, exchange } = this.request
      if (target) this.upstream.tryFailed(target, cause.code, exchange)
    }
    return mapped
  }
}

/** The path sent upstream: the route prefix removed when `stripPrefix`, always starting with "/". */
export function upstreamPath(route: { prefix: string; stripPrefix: boolean }, path: string): string {
  if (!route.stripPrefix || route.prefix === '/') return path
  // A stage may have rewritten the path (a plugin): only a path still under the prefix loses it.
  if (!path.startsWith(route.prefix) || (path.length > route.prefix.length && path.charCodeAt(route.prefix.length) !== 47)) return path
  const rest = path.slice(route.prefix.length)
  return rest === '' ? '/' : rest
}
