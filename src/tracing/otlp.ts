/**
 * The OTLP/HTTP request body: an ExportTraceServiceRequest in binary protobuf
 * (opentelemetry-proto, collector/trace/v1/trace_service.proto), encoded by hand. The few
 * messages the gateway sends (resource, scope, span, key-value, status) are written
 * straight from the span classes' fields into one reused buffer: no intermediate objects,
 * no protobuf library. Protobuf rather than OTLP/JSON because it is the encoding every OTLP
 * receiver must take, and it is the smaller body. Attribute names follow OpenTelemetry's
 * HTTP semantic conventions (docs/monitoring.md lists them).
 */
import type { ClientSpan, ServerSpan, Span } from './spans.ts'

const LEN = 2
const VARINT = 0
const FIXED64 = 1
const FIXED32 = 5

const KIND_SERVER = 2
const KIND_CLIENT = 3
const STATUS_ERROR = 2

const utf8 = new TextEncoder()

/** A growable protobuf writer; nested messages reserve their length bytes and move only when they must. */
class Writer {
  buf = new Uint8Array(64 * 1024)
  pos = 0

  /** Room for `n` more bytes; small enough to be inlined where it is called (every field). */
  reserve(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n)
  }

  private grow(n: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  /** A non-negative integer below 2^53. */
  varint(value: number): void {
    this.reserve(10)
    const buf = this.buf
    while (value > 127) {
      buf[this.pos++] = (value & 127) | 128
      value = Math.floor(value / 128)
    }
    buf[this.pos++] = value
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire)
  }

  fixed32(field: number, value: number): void {
    this.tag(field, FIXED32)
    this.reserve(4)
    this.little(value)
  }

  private little(value: number): void {
    const buf = this.buf
    buf[this.pos++] = value & 255
    buf[this.pos++] = (value >>> 8) & 255
    buf[this.pos++] = (value >>> 16) & 255
    buf[this.pos++] = (value >>> 24) & 255
  }

  /**
   * A Unix time in nanoseconds from milliseconds since the epoch, as fixed64: ~1.7e18 is past
   * a double's exact range, so the low and high words are computed from parts that are not.
   */
  time(field: number, epochMs: number): void {
    this.tag(field, FIXED64)
    this.reserve(8)
    const whole = Math.floor(epochMs)
    const nanos = Math.round((epochMs - whole) * 1e6)
    const high20 = Math.floor(whole / 1048576)
    // ns = (high20 * 1e6) * 2^20 + (low20 * 1e6 + nanos)
    const a = high20 * 1e6
    const b = (whole - high20 * 1048576) * 1e6 + nanos
    const low = (a % 4096) * 1048576 + b
    this.little(low % 4294967296)
    this.little(Math.floor(a / 4096) + Math.floor(low / 4294967296))
  }

  /** A lowercase hex id as bytes. */
  hexBytes(field: number, hex: string): void {
    const n = hex.length >> 1
    this.reserve(n + 2)
    const buf = this.buf
    let pos = this.pos
    // Ids are 8 or 16 bytes: the tag and the length are one byte each.
    buf[pos++] = field * 8 + LEN
    buf[pos++] = n
    for (let i = 0; i < 2 * n; i += 2) buf[pos++] = HEX_PAIR[(hex.charCodeAt(i) << 7) | hex.charCodeAt(i + 1)]!
    this.pos = pos
  }

  /** Starts a length-delimited field of likely 128 bytes or more (two length bytes kept); `end` with what it returns. */
  begin(field: number): number {
    this.tag(field, LEN)
    this.reserve(2)
    const at = this.pos
    this.pos += 2
    return at
  }

  end(at: number): void {
    const length = this.pos - at - 2
    const buf = this.buf
    if (length >= 128 && length < 16384) {
      buf[at] = (length & 127) | 128
      buf[at + 1] = length >> 7
      return
    }
    // Shorter: one length byte, the body moves left by one; longer: it moves right.
    const size = varintSize(length)
    if (size !== 2) {
      this.reserve(size - 2)
      buf.copyWithin(at + size, at + 2, this.pos)
      this.pos += size - 2
    }
    const end = this.pos
    this.pos = at
    this.varint(length)
    this.pos = end
  }

  string(field: number, value: string): void {
    this.tag(field, LEN)
    const n = value.length
    if (n < 43) {
      // At most 126 bytes of UTF-8: one length byte.
      this.reserve(1 + 3 * n)
      const at = this.pos++
      this.pos = writeAscii(this.buf, this.pos, value)
      if (this.pos === -1) this.pos = at + 1 + utf8.encodeInto(value, this.buf.subarray(at + 1)).written
      this.buf[at] = this.pos - at - 1
      return
    }
    const bytes = utf8.encode(value)
    this.varint(bytes.length)
    this.raw(bytes)
  }

  /** Bytes as they are (a block encoded before). */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    const buf = this.buf
    const n = bytes.length
    // A loop beats set() for the short blocks written here (on locals: not this.pos per byte).
    let pos = this.pos
    if (n < 64) for (let i = 0; i < n; i++) buf[pos++] = bytes[i]!
    else {
      buf.set(bytes, pos)
      pos += n
    }
    this.pos = pos
  }

  /**
   * A span attribute (KeyValue, field 9 of Span) with a string value; `key` is the key's field,
   * encoded once (keyField). An ASCII value whose KeyValue fits in 127 bytes, the common case
   * (a request id, a path, an address), has one-byte lengths written as it goes; a longer or
   * non-ASCII one takes the general path.
   */
  stringAttribute(key: Uint8Array, value: string, tag = ATTRIBUTE_TAG): void {
    const n = value.length
    if (n + key.length < 124) {
      this.reserve(4 + key.length + 3 * n)
      const buf = this.buf
      const start = this.pos
      buf[this.pos++] = tag
      const kv = this.pos++
      this.raw(key)
      buf[this.pos++] = 0x12 // value: AnyValue
      const any = this.pos++
      buf[this.pos++] = 0x0a // string_value
      const text = this.pos++
      const end = writeAscii(buf, this.pos, value)
      if (end !== -1) {
        this.pos = end
        const length = end - text - 1
        buf[text] = length
        buf[any] = length + 2
        buf[kv] = end - kv - 1
        return
      }
      this.pos = start
    }
    const at = this.begin(tag >> 3)
    this.raw(key)
    const inner = this.begin(2)
    this.string(1, value)
    this.end(inner)
    this.end(at)
  }

  /** A span attribute with an int value (non-negative). */
  intAttribute(key: Uint8Array, value: number, tag = ATTRIBUTE_TAG): void {
    this.reserve(4 + key.length)
    const buf = this.buf
    buf[this.pos++] = tag
    const kv = this.pos++
    this.raw(key)
    buf[this.pos++] = 0x12
    const any = this.pos++
    this.tag(3, VARINT)
    this.varint(value)
    this.buf[any] = this.pos - any - 1
    this.buf[kv] = this.pos - kv - 1
  }

  /** The bytes written since `reset`, copied (the buffer is reused). */
  take(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }

  reset(): void {
    this.pos = 0
  }
}

/** Writes `value` as ASCII at `pos`; the position after it, or -1 at the first non-ASCII character. */
function writeAscii(buf: Uint8Array, pos: number, value: string): number {
  const n = value.length
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c >= 128) return -1
    buf[pos++] = c
  }
  return pos
}

const ATTRIBUTE_FIELD = 9
const ATTRIBUTE_TAG = ATTRIBUTE_FIELD * 8 + LEN
/** A byte by its two lowercase hex digits' char codes (first << 7 | second): one lookup a byte. */
const HEX_PAIR = new Uint8Array(128 * 128)
const HEX_DIGITS = '0123456789abcdef'
for (let high = 0; high < 16; high++) {
  for (let low = 0; low < 16; low++) HEX_PAIR[(HEX_DIGITS.charCodeAt(high) << 7) | HEX_DIGITS.charCodeAt(low)] = (high << 4) | low
}

/** A KeyValue's key field, encoded once. */
function keyField(key: string): Uint8Array {
  const bytes = utf8.encode(key)
  return Uint8Array.of(0x0a, bytes.length, ...bytes)
}

const MAX_HOSTS = 64

const varintSize = (n: number) => (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : n < 268435456 ? 4 : 5)

// RFC 9110 §9 and RFC 5789: the methods semconv names; any other is "_OTHER".
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY'])

// The attribute keys (OpenTelemetry HTTP semantic conventions, and the gateway's own), encoded once.
const K = {
  method: keyField('http.request.method'),
  methodOriginal: keyField('http.request.method_original'),
  scheme: keyField('url.scheme'),
  path: keyField('url.path'),
  route: keyField('http.route'),
  status: keyField('http.response.status_code'),
  protocol: keyField('network.protocol.version'),
  serverAddress: keyField('server.address'),
  serverPort: keyField('server.port'),
  clientAddress: keyField('client.address'),
  userAgent: keyField('user_agent.original'),
  errorType: keyField('error.type'),
  urlFull: keyField('url.full'),
  resendCount: keyField('http.request.resend_count'),
  gatewayRoute: keyField('gateway.route'),
  requestId: keyField('gateway.request_id'),
  cache: keyField('gateway.cache.status'),
  consumer: keyField('gateway.consumer'),
  errorCode: keyField('gateway.error.code'),
}

/** What identifies the gateway's spans: resource attributes and the instrumentation scope. */
export interface EncoderOptions {
  /** Resource attributes: service.name and the like. */
  resource: Readonly<Record<string, string | number>>
  scope: { name: string; version: string }
}

/**
 * Encodes a batch: each span is written after room left for the request's envelope, which
 * is filled in last, so a batch is written once and never moved. The body returned is a view
 * of the encoder's buffer, valid until its next call: the poster writes it as it is and Bun's
 * fetch copies it, so no copy is made here (a 170 KB allocation and copy a batch). One user
 * per encoder.
 */
export type OtlpEncoder = (spans: readonly Span[]) => Uint8Array

/** Makes the encoder: resource and scope are encoded once, here. */
export function createOtlpEncoder(options: EncoderOptions): OtlpEncoder {
  const w = new Writer()
  const RESOURCE_ATTRIBUTE = 1 * 8 + LEN
  for (const [key, value] of Object.entries(options.resource)) {
    if (typeof value === 'number') w.intAttribute(keyField(key), value, RESOURCE_ATTRIBUTE)
    else w.stringAttribute(keyField(key), value, RESOURCE_ATTRIBUTE)
  }
  const resource = w.take()
  w.reset()
  w.string(1, options.scope.name)
  w.string(2, options.scope.version)
  const scope = w.take()
  w.reset()
  const timeOrigin = performance.timeOrigin

  /**
   * What repeats from span to span, encoded once: a server span's name, kind, method and
   * route attributes by route and method; a client span's by target and method. Bounded by
   * the config (routes, targets) and the known methods; another method is encoded each time.
   */
  const serverBlocks = new Map<string, Map<string, Uint8Array>>()
  const clientBlocks = new Map<string | undefined, Map<string, Uint8Array>>()
  const block = <K>(blocks: Map<K, Map<string, Uint8Array>>, owner: K, method: string, make: (known: boolean) => void): Uint8Array | undefined => {
    let byMethod = blocks.get(owner)
    let bytes = byMethod?.get(method)
    if (bytes !== undefined) return bytes
    const known = KNOWN_METHODS.has(method)
    const at = w.pos
    make(known)
    // Another method stays written where it is, and is not kept.
    if (!known) return undefined
    bytes = w.buf.slice(at, w.pos)
    w.pos = at
    if (!byMethod) blocks.set(owner, (byMethod = new Map()))
    byMethod.set(method, bytes)
    return bytes
  }
  /**
   * server.address and server.port by Host field, encoded once: a gateway is reached under a
   * few names. The client sets the field, so the maps stop growing at MAX_HOSTS.
   */
  const httpHosts = new Map<string, Uint8Array>()
  const httpsHosts = new Map<string, Uint8Array>()
  const methodAttributes = (method: string, known: boolean) => {
    w.stringAttribute(K.method, known ? method : '_OTHER')
    if (!known) w.stringAttribute(K.methodOriginal, method)
  }

  /** The fields both kinds share, before the attributes. */
  const head = (span: Span) => {
    w.hexBytes(1, span.traceId)
    w.hexBytes(2, span.spanId)
    if (span.traceState !== undefined) w.string(3, span.traceState)
    if (span.parentSpanId !== undefined) w.hexBytes(4, span.parentSpanId)
    w.time(7, timeOrigin + span.startMs)
    w.time(8, timeOrigin + span.endMs)
  }
  const tail = (span: Span, error: boolean) => {
    if (error) {
      // Status { code: STATUS_CODE_ERROR }
      w.tag(15, LEN)
      w.varint(2)
      w.tag(3, VARINT)
      w.varint(STATUS_ERROR)
    }
    w.fixed32(16, span.flags)
  }

  const server = (span: ServerSpan) => {
    head(span)
    const cached = block(serverBlocks, span.routeName, span.method, (known) => {
      const verb = known ? span.method : 'HTTP'
      w.string(5, span.route === undefined ? verb : `${verb} ${span.route}`)
      w.tag(6, VARINT)
      w.varint(KIND_SERVER)
      methodAttributes(span.method, known)
      w.stringAttribute(K.scheme, span.scheme)
      if (span.route !== undefined) w.stringAttribute(K.route, span.route)
      // Bun.serve does not say which HTTP/1.x a request used; the gateway serves HTTP/1.1.
      w.stringAttribute(K.protocol, '1.1')
      w.stringAttribute(K.gatewayRoute, span.routeName)
    })
    if (cached !== undefined) w.raw(cached)
    w.stringAttribute(K.path, span.path)
    w.intAttribute(K.status, span.status)
    if (span.host !== null) {
      const host = span.host
      const hosts = span.scheme === 'https' ? httpsHosts : httpHosts
      const cachedHost = hosts.get(host)
      if (cachedHost !== undefined) w.raw(cachedHost)
      else {
        const at = w.pos
        const colon = host.lastIndexOf(':')
        const hasPort = colon > host.lastIndexOf(']')
        const name = hasPort ? host.slice(0, colon) : host
        w.stringAttribute(K.serverAddress, name.charCodeAt(0) === 91 ? name.slice(1, -1) : name)
        const port = hasPort ? Number(host.slice(colon + 1)) : span.scheme === 'https' ? 443 : 80
        if (Number.isInteger(port) && port >= 0 && port <= 65535) w.intAttribute(K.serverPort, port)
        if (hosts.size < MAX_HOSTS) hosts.set(host, w.buf.slice(at, w.pos))
      }
    }
    if (span.clientAddress !== undefined) w.stringAttribute(K.clientAddress, span.clientAddress)
    if (span.userAgent !== null) w.stringAttribute(K.userAgent, span.userAgent)
    const error = span.status >= 500
    if (error) w.stringAttribute(K.errorType, span.errorCode ?? String(span.status))
    w.stringAttribute(K.requestId, span.requestId)
    if (span.cache !== null) w.stringAttribute(K.cache, span.cache)
    if (span.consumer !== undefined) w.stringAttribute(K.consumer, span.consumer)
    if (span.errorCode !== undefined) w.stringAttribute(K.errorCode, span.errorCode)
    // Server spans: only 5xx is an error; a 4xx is the client's (semconv, HTTP spans' status).
    tail(span, error)
  }

  const client = (span: ClientSpan) => {
    head(span)
    const target = span.target
    const cached = block(clientBlocks, target, span.method, (known) => {
      w.string(5, known ? span.method : 'HTTP')
      w.tag(6, VARINT)
      w.varint(KIND_CLIENT)
      methodAttributes(span.method, known)
      if (target !== undefined) {
        const url = new URL(target)
        w.stringAttribute(K.serverAddress, url.hostname.charCodeAt(0) === 91 ? url.hostname.slice(1, -1) : url.hostname)
        w.intAttribute(K.serverPort, url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80)
      }
    })
    if (cached !== undefined) w.raw(cached)
    if (target !== undefined) {
      // Without the query: it can carry what the operator would not want in a trace store.
      const query = span.path.indexOf('?')
      w.stringAttribute(K.urlFull, target + (query === -1 ? span.path : span.path.slice(0, query)))
    }
    w.intAttribute(K.resendCount, span.resendCount)
    if (span.status !== undefined) w.intAttribute(K.status, span.status)
    const errorType = span.error ?? (span.status !== undefined && span.status >= 400 ? String(span.status) : undefined)
    if (errorType !== undefined) w.stringAttribute(K.errorType, errorType)
    // Client spans: 4xx and 5xx are errors too (semconv).
    tail(span, errorType !== undefined)
  }

  const add = (span: Span) => {
    const at = w.begin(2)
    if (span.kind === 'server') server(span)
    else client(span)
    w.end(at)
  }
  // ExportTraceServiceRequest { resource_spans(1): ResourceSpans { resource(1), scope_spans(2): ScopeSpans { scope(1), spans(2)... } } }:
  // the spans are written after room for the rest, which `cut` fills in, so a batch is never moved.
  const headroom = 2 + 5 + varintSize(resource.length) + resource.length + 1 + 5 + 1 + varintSize(scope.length) + scope.length
  w.pos = headroom
  const cut = () => {
    const spans = w.pos - headroom
    const scopeSpans = 1 + varintSize(scope.length) + scope.length + spans
    const resourceSpans = 1 + varintSize(resource.length) + resource.length + 1 + varintSize(scopeSpans) + scopeSpans
    const start = headroom - (1 + varintSize(resourceSpans) + resourceSpans - spans)
    const buf = w.buf
    let pos = putVarint(buf, start, 1 * 8 + LEN, resourceSpans)
    pos = putVarint(buf, pos, 1 * 8 + LEN, resource.length)
    buf.set(resource, pos)
    pos = putVarint(buf, pos + resource.length, 2 * 8 + LEN, scopeSpans)
    pos = putVarint(buf, pos, 1 * 8 + LEN, scope.length)
    buf.set(scope, pos)
    // A view, not a copy (OtlpEncoder).
    const body = buf.subarray(start, w.pos)
    w.pos = headroom
    return body
  }
  const encode = (spans: readonly Span[]) => {
    try {
      for (const span of spans) add(span)
    } catch (err) {
      // The batch is dropped (exporter.ts): none of it may lead the next one.
      w.pos = headroom
      throw err
    }
    return cut()
  }
  return encode
}

/** Writes a one-byte tag and a varint at `pos`; the position after them. */
function putVarint(buf: Uint8Array, pos: number, tag: number, value: number): number {
  buf[pos++] = tag
  while (value > 127) {
    buf[pos++] = (value & 127) | 128
    value = Math.floor(value / 128)
  }
  buf[pos++] = value
  return pos
}
