/**
 * One keep-alive HTTP/1.1 connection of the native client, on Bun.connect, carrying one
 * exchange at a time: it writes the request (head, then the body with backpressure), feeds
 * what arrives to the parser, and hands the response over: a small body of known length
 * whole, anything else as a stream that pauses the socket while the reader is slow. The
 * connection goes back to the pool only when the response was read to its end and the
 * request written whole; bytes that arrive while it is idle close it.
 */
import type { Socket } from 'bun'
import { UpstreamError } from '../errors.ts'
import type { AbortListener } from '../deadline.ts'
import type { UpstreamRequest, UpstreamResponse } from '../types.ts'
import { ResponseParser, type ParserEvents, type ResponseHead } from './parser.ts'

export interface ConnectionOwner {
  /** The exchange ended and the connection may carry another. */
  release(connection: Connection): void
  /** The connection closed (by either side): its place is free. */
  closed(connection: Connection): void
}

export interface ExchangeOptions {
  maxHeaderBytes: number
  /** Bodies with a Content-Length up to this are read whole before the response is handed over. */
  bufferBytes: number
  /** The Host field when the request has none (the target's authority). */
  authority: string
  /** The target's base path, before the request's path ('' for none). */
  basePath: string
}

/** What a stale connection's exchange resolves with instead (the native client's one retry). */
export type RetryStale = (request: UpstreamRequest) => Promise<UpstreamResponse>

/** A reused connection closed before any byte of the response: the request may be sent again. */
export class StaleConnectionError extends Error {
  constructor() {
    super('stale keep-alive connection')
    this.name = 'StaleConnectionError'
  }
}

const CRLF = '\r\n'
/** Field values are byte strings (RFC 9110 §5.5): one character, one byte. */
const latin1 = (text: string): Uint8Array => Buffer.from(text, 'latin1')
const NOT_ASCII = /[^\x00-\x7f]/
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH'])
/** Request bodies up to this many bytes, when declared, go out in one write with the head. */
const SMALL_BODY = 64 * 1024

export class Connection {
  /** Requests this connection has carried. */
  uses = 0
  idleSince = 0
  /** From the upstream's Keep-Alive: timeout=, in ms. */
  keepAliveMs: number | undefined
  isClosed = false
  /** One parser per connection, reset for each exchange. */
  readonly parser = new ResponseParser()
  private current: ActiveExchange | undefined
  private unwritten: Uint8Array | undefined
  private drained: (() => void) | undefined

  constructor(
    readonly socket: Socket<Connection>,
    private readonly owner: ConnectionOwner
  ) {}

  /**
   * Sends `request`; resolves with the response (its body possibly still streaming). When the
   * connection proves stale (closed before any byte of the response), the promise follows
   * `retryStale(request)` instead if given, else rejects with a StaleConnectionError.
   */
  exchange(request: UpstreamRequest, options: ExchangeOptions, retryStale?: RetryStale): Promise<UpstreamResponse> {
    this.uses++
    const active = new ActiveExchange(this, request, options, retryStale)
    this.current = active
    return active.start()
  }

  // Socket events, routed here by the client's handler.
  onData(chunk: Uint8Array): void {
    if (!this.current) {
      // Bytes while idle: never read them as the next response.
      this.destroy()
      return
    }
    this.current.data(chunk)
  }

  onDrain(): void {
    const rest = this.unwritten
    if (rest && !this.writeOrKeep(rest)) return
    const drained = this.drained
    this.drained = undefined
    drained?.()
  }

  onClose(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.current?.closed()
    this.current = undefined
    this.owner.closed(this)
  }

  /** Writes all of `bytes`; resolves once they left (undefined when at once). */
  write(bytes: Uint8Array | string): Promise<void> | undefined {
    // Text goes to the socket as it is when it is ASCII: Bun encodes it into the socket's
    // buffer, with no Buffer made for it. Beyond ASCII (obs-text, RFC 9110 §5.5) a character
    // must stay one byte, as UTF-8 would not keep it: then the latin1 bytes.
    if (this.writeOrKeep(typeof bytes === 'string' && NOT_ASCII.test(bytes) ? latin1(bytes) : bytes)) return undefined
    return new Promise((resolve) => (this.drained = resolve))
  }

  /** Writes `data`; what the socket did not take is kept for the next drain. True when it all left. */
  private writeOrKeep(data: Uint8Array | string): boolean {
    const written = this.socket.write(data)
    if (typeof data === 'string') {
      // ASCII: a character is a byte.
      this.unwritten = written >= data.length ? undefined : latin1(data).subarray(Math.max(written, 0))
    } else {
      this.unwritten = written >= data.byteLength ? undefined : data.subarray(Math.max(written, 0))
    }
    return this.unwritten === undefined
  }

  /** The current exchange is over: the connection goes back to its owner, or closes (which tells the owner). */
  finished(active: ActiveExchange, reusable: boolean): void {
    if (this.current !== active) return
    this.current = undefined
    if (reusable && !this.isClosed) this.owner.release(this)
    else this.destroy()
  }

  destroy(): void {
    if (!this.isClosed) this.socket.terminate()
    this.onClose()
  }
}

/**
 * Field lines as a name → value record, which Bun makes a Response's headers from faster than
 * from pairs or a Headers; the pairs themselves when a name repeats (Set-Cookie), which a
 * record cannot hold.
 */
function asRecord(fields: [string, string][]): Record<string, string> | [string, string][] {
  const record: Record<string, string> = Object.create(null)
  for (const [name, value] of fields) {
    if (name in record) return fields
    record[name] = value
  }
  return record
}

/**
 * An answer of the native client: the forwarder reads it and builds the client's Response.
 * Its Headers are made only if something reads them: a proxied answer goes from the parsed
 * fields straight into the client's Response (`init`), one native object fewer.
 */
class NativeResponse implements UpstreamResponse {
  readonly empty: boolean
  readonly whole: Uint8Array | undefined
  private parsed: Headers | undefined
  private stream: ReadableStream<Uint8Array> | null | undefined

  constructor(
    readonly status: number,
    private readonly fields: [string, string][],
    private readonly content: ReadableStream<Uint8Array> | Uint8Array | null
  ) {
    this.empty = content === null
    this.whole = content instanceof Uint8Array ? content : undefined
  }

  get headers(): Headers {
    return (this.parsed ??= new Headers(this.fields))
  }

  /** The fields for the client's Response: the Headers if anything read (and so may have changed) them. */
  get init(): Headers | Record<string, string> | [string, string][] {
    return this.parsed ?? asRecord(this.fields)
  }

  /** A stream of the body; made on first use for a body that was read whole. */
  get body(): ReadableStream<Uint8Array> | null {
    if (this.stream === undefined) {
      const content = this.content
      this.stream =
        content === null || content instanceof ReadableStream
          ? content
          : new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(content)
                controller.close()
              },
            })
    }
    return this.stream
  }

  bytes(): Promise<Uint8Array> {
    const content = this.content
    if (content === null) return Promise.resolve(new Uint8Array(0))
    if (content instanceof Uint8Array) return Promise.resolve(content)
    return Promise.resolve(Bun.readableStreamToBytes(this.body!))
  }
}

/** One request and its response on a connection; it receives the parser's events itself. */
class ActiveExchange implements ParserEvents, AbortListener, EventListenerObject {
  private readonly parser: ResponseParser
  private resolveResponse!: (response: UpstreamResponse | Promise<UpstreamResponse>) => void
  private rejectResponse!: (err: unknown) => void
  private settled = false
  private responseHead: ResponseHead | undefined
  /** The whole body, for small ones of known length. */
  private buffer: Uint8Array | undefined
  private filled = 0
  private stream: ReadableStreamDefaultController<Uint8Array> | undefined
  private requestWritten = false
  private responseEnded = false
  private reusable = false

  constructor(
    private readonly connection: Connection,
    private readonly request: UpstreamRequest,
    private readonly options: ExchangeOptions,
    private readonly retryStale: RetryStale | undefined
  ) {
    this.parser = connection.parser
    this.parser.reset(this, options.maxHeaderBytes, request.method)
  }

  start(): Promise<UpstreamResponse> {
    const promise = new Promise<UpstreamResponse>((resolve, reject) => {
      this.resolveResponse = resolve
      this.rejectResponse = reject
    })
    // The deadline's direct listener when there is one: no EventTarget listener pair per request.
    const { deadline } = this.request
    if (deadline ? deadline.aborted : this.request.signal.aborted) {
      // Nothing is written for a request whose client or deadline is already gone.
      this.abortedBy(deadline ? deadline.reason : this.request.signal.reason)
      return promise
    }
    // The exchange listens itself (abortedBy, handleEvent): no closure per request.
    if (deadline) deadline.onAbort(this)
    else this.request.signal.addEventListener('abort', this, { once: true })
    // A bodyless request whose head left in one write is written synchronously: no promise.
    let written: Promise<void> | undefined
    try {
      written = this.writeRequest()
    } catch (err) {
      this.fail(err)
      return promise
    }
    if (written === undefined) this.requestWritten = true
    else written.then(() => this.written(), (err) => this.fail(err))
    return promise
  }

  /** The deadline passed or the client left. */
  abortedBy(reason: unknown): void {
    this.fail(reason ?? new DOMException('aborted', 'AbortError'))
  }

  /** The request's signal aborted: only for a request without a deadline (a client used on its own). */
  handleEvent(): void {
    this.abortedBy(this.request.signal.reason)
  }

  private written(): void {
    this.requestWritten = true
    if (this.responseEnded) this.finish()
  }

  data(chunk: Uint8Array): void {
    try {
      this.parser.feed(chunk)
    } catch (err) {
      this.fail(err)
    }
  }

  closed(): void {
    if (this.responseEnded) return
    if (!this.parser.started && this.connection.uses > 1) return this.fail(new StaleConnectionError())
    try {
      this.parser.close()
    } catch (err) {
      this.fail(err)
    }
  }

  /** Writes the request; undefined when it all left at once, else a promise of the rest. */
  private writeRequest(): Promise<void> | undefined {
    const { method, path, headers, body } = this.request
    let head = `${method} ${this.options.basePath}${path} HTTP/1.1${CRLF}`
    const fields = headers.record
    if (fields.host === undefined) head += `host: ${this.options.authority}${CRLF}`
    for (const name in fields) {
      const value = fields[name]!
      if (typeof value === 'string') head += `${name}: ${value}${CRLF}`
      else for (const one of value) head += `${name}: ${one}${CRLF}`
    }
    const { traceparent, tracestate } = this.request
    if (traceparent !== undefined) head += `traceparent: ${traceparent}${CRLF}`
    if (tracestate !== undefined) head += `tracestate: ${tracestate}${CRLF}`
    const declared = fields['content-length'] === undefined ? null : String(fields['content-length'])
    const chunked = body !== null && declared === null
    if (chunked) head += `transfer-encoding: chunked${CRLF}`
    else if (body === null && BODY_METHODS.has(method)) head += `content-length: 0${CRLF}`
    head += CRLF
    if (body === null) return this.connection.write(head)
    if (declared !== null && Number(declared) <= SMALL_BODY) return this.writeSmall(head, body)
    return this.writeStreamed(head, body, chunked)
  }

  /** A small body of known length: read natively, sent with the head in one write. */
  private async writeSmall(head: string, body: ReadableStream<Uint8Array>): Promise<void> {
    const bytes = await Bun.readableStreamToBytes(body)
    const headBytes = latin1(head)
    const message = new Uint8Array(headBytes.byteLength + bytes.byteLength)
    message.set(headBytes, 0)
    message.set(bytes, headBytes.byteLength)
    await this.connection.write(message)
  }

  private async writeStreamed(head: string, body: ReadableStream<Uint8Array>, chunked: boolean): Promise<void> {
    await this.connection.write(head)
    const reader = body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (value.byteLength === 0) continue
      if (chunked) await this.connection.write(`${value.byteLength.toString(16)}${CRLF}`)
      await this.connection.write(value)
      if (chunked) await this.connection.write(CRLF)
    }
    if (chunked) await this.connection.write(`0${CRLF}${CRLF}`)
  }

  head(head: ResponseHead): void {
    this.responseHead = head
    if (head.keepAliveTimeout !== undefined) this.connection.keepAliveMs = head.keepAliveTimeout * 1000
    if (head.bodyless) return
    if (head.contentLength !== undefined && head.contentLength <= this.options.bufferBytes) {
      this.buffer = new Uint8Array(head.contentLength)
      return
    }
    const socket = this.connection.socket
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.stream = controller
        },
        // The reader wants more: read from the socket again.
        pull: () => socket.resume(),
        cancel: () => this.fail(new DOMException('body cancelled', 'AbortError'), true),
      },
      { highWaterMark: 4 }
    )
    this.respond(body)
  }

  body(chunk: Uint8Array): void {
    if (this.buffer) {
      this.buffer.set(chunk, this.filled)
      this.filled += chunk.byteLength
      return
    }
    const stream = this.stream
    if (!stream) return
    // Copied: the socket's buffer is not ours to keep.
    stream.enqueue(chunk.slice())
    if ((stream.desiredSize ?? 1) <= 0) this.connection.socket.pause()
  }

  end(extra: boolean): void {
    this.responseEnded = true
    this.reusable = !extra && this.responseHead!.keepAlive
    if (this.stream) this.stream.close()
    else this.respond(this.buffer ?? null)
    if (this.requestWritten) this.finish()
    // A response that ends before the request was written whole: the connection cannot be reused.
    else this.reusable = false
  }

  private respond(body: ReadableStream<Uint8Array> | Uint8Array | null): void {
    if (this.settled) return
    this.settled = true
    const head = this.responseHead!
    this.resolveResponse(new NativeResponse(head.status, head.fields, body))
  }

  private finish(): void {
    this.stopListening()
    this.connection.finished(this, this.reusable)
  }

  private stopListening(): void {
    const { deadline } = this.request
    if (deadline) deadline.onAbort(undefined)
    else this.request.signal.removeEventListener('abort', this)
  }

  /** Ends the exchange with `err`: rejects the response, or errors its body; the connection closes. */
  private fail(err: unknown, cancelled = false): void {
    const { deadline } = this.request
    this.stopListening()
    // The deadline's abort is a timeout of the phase it caught; a client's abort stays an abort (499).
    let error = err
    if (!(err instanceof UpstreamError) && deadline?.timedOut) error = new UpstreamError(this.responseHead ? 'body_timeout' : 'headers_timeout', { cause: err })
    else if (!(err instanceof UpstreamError) && (deadline ? deadline.aborted : this.request.signal.aborted)) error = (deadline ? deadline.reason : this.request.signal.reason) ?? err
    if (!this.settled) {
      this.settled = true
      // Handed to the retry here rather than by a catch on every exchange's promise.
      if (error instanceof StaleConnectionError && this.retryStale) this.resolveResponse(this.retryStale(this.request))
      else this.rejectResponse(error)
    } else if (this.stream && !this.responseEnded && !cancelled) {
      try {
        this.stream.error(error)
      } catch {
        // Already closed or errored.
      }
    }
    this.responseEnded = true
    this.connection.finished(this, false)
  }
}
