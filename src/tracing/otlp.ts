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
    this.pos = putBytes(this.buf, this.pos, bytes)
  }

  /**
   * A span attribute (KeyValue, field 9 of Span) with a string value; `key` is the key's field,
   * encoded once (keyField). A short ASCII value is written by putStringAttribute; a longer or
   * non-ASCII one takes the general path here.
   */
  stringAttribute(key: Uint8Array, value: string, tag = ATTRIBUTE_TAG): void {
    this.reserve(4 + key.length + value.length)
    const end = putStringAttribute(this.buf, this.pos, key, value, tag)
    if (end !== -1) {
      this.pos = end
      return
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
    this.reserve(14 + key.length)
    this.pos = putIntAttribute(this.buf, this.pos, key, value, tag)
  }

  /** The bytes written since `reset`, copied (the buffer is reused). */
  take(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }

  reset(): void {
    this.pos = 0
  }
}

/** Writes `value` (its first `n` characters) as ASCII at `pos`; the position after it, or -1 at the first non-ASCII character. */
function writeAscii(buf: Uint8Array, pos: number, value: string, n = value.length): number {
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c >= 128) return -1
    buf[pos++] = c
  }
  return pos
}

const ATTRIBUTE_FIELD = 9
const ATTRIBUTE_TAG = ATTRIBUTE_FIELD * 8 + LEN

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
  // The epoch's nanoseconds at performance.now() 0, in 32-bit halves, made once: a span's time
  // is these plus its own nanoseconds since (exact below 2^53), added with a carry.
  const originMs = Math.floor(performance.timeOrigin)
  const origin = BigInt(originMs) * 1_000_000n + BigInt(Math.round((performance.timeOrigin - originMs) * 1e6))
  const originLow = Number(origin & 0xffffffffn)
  const originHigh = Number(origin >> 32n)

  /**
   * What repeats from span to span, encoded once: a server span's name, kind, method and
   * route attributes by route and method; a client span's by target and method. Bounded by
   * the config (routes, targets) and the known methods; another method is encoded each time.
   */
  const blockCache = <K, S extends Span>(make: (span: S, known: boolean) => void) => {
    const blocks = new Map<K, Map<string, Uint8Array>>()
    // The last one asked for: spans of one route (or target) and method come in runs.
    let lastOwner: K | undefined
    let lastMethod = ''
    let lastBytes: Uint8Array | undefined
    /** A span's block, from the cache or made by `make` (a function made once: no closure a span). */
    return (owner: K, span: S): Uint8Array | undefined => {
      const method = span.method
      if (owner === lastOwner && method === lastMethod) return lastBytes
      let byMethod = blocks.get(owner)
      let bytes = byMethod?.get(method)
      if (bytes === undefined) {
        const known = KNOWN_METHODS.has(method)
        const at = w.pos
        make(span, known)
        // Another method stays written where it is, and is not kept.
        if (!known) return undefined
        bytes = w.buf.slice(at, w.pos)
        w.pos = at
        if (!byMethod) blocks.set(owner, (byMethod = new Map()))
        byMethod.set(method, bytes)
      }
      lastOwner = owner
      lastMethod = method
      lastBytes = bytes
      return bytes
    }
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

  /**
   * Room for a span, made once before it is written: its fixed fields (ids, times, flags,
   * status, at most 14 keys of under 40 bytes with their lengths) and 3 bytes a
   * character of the strings it and its cached blocks hold (UTF-8's most, as the Writer's
   * general path writes them). The put* functions below do not check.
   */
  const SPAN_ROOM = 2048
  const size = (value: string | null | undefined) => (value == null ? 0 : value.length)
  /** A string attribute: on the fast path, or the Writer's when the value is not short ASCII. */
  const attribute = (pos: number, key: Uint8Array, value: string): number => {
    const end = putStringAttribute(w.buf, pos, key, value)
    if (end !== -1) return end
    w.pos = pos
    w.stringAttribute(key, value)
    return w.pos
  }
  /**
   * The fields both kinds share, before the attributes: `trace` is the request's span (the
   * span itself, or a client span's parent), and `p0, p1` the parent's id (0, 0 for none).
   */
  const head = (pos: number, span: Span, trace: ServerSpan, p0: number, p1: number): number => {
    const buf = w.buf
    // trace_id (1), 16 bytes: the span's words (spans.ts), little-endian, are the id's bytes in order.
    buf[pos] = 1 * 8 + LEN
    buf[pos + 1] = 16
    pos = putLittle(buf, putLittle(buf, putLittle(buf, putLittle(buf, pos + 2, trace.t0), trace.t1), trace.t2), trace.t3)
    pos = putSpanId(buf, pos, 2 * 8 + LEN, span.s0, span.s1)
    if (trace.traceState !== undefined) {
      w.pos = pos
      w.string(3, trace.traceState)
      pos = w.pos
    }
    if (p0 !== 0 || p1 !== 0) pos = putSpanId(w.buf, pos, 4 * 8 + LEN, p0, p1)
    pos = putTime(w.buf, pos, 7 * 8 + FIXED64, originLow, originHigh, span.startMs)
    return putTime(w.buf, pos, 8 * 8 + FIXED64, originLow, originHigh, span.endMs)
  }
  /** Status (an error's) and flags, the last fields. */
  const tail = (pos: number, span: Span, error: boolean): number => {
    const buf = w.buf
    if (error) {
      // Status { code: STATUS_CODE_ERROR }
      buf[pos] = 15 * 8 + LEN
      buf[pos + 1] = 2
      buf[pos + 2] = 3 * 8 + VARINT
      buf[pos + 3] = STATUS_ERROR
      pos += 4
    }
    // flags (16, fixed32): a two-byte tag.
    buf[pos] = ((16 * 8 + FIXED32) & 127) | 128
    buf[pos + 1] = (16 * 8 + FIXED32) >> 7
    return putLittle(buf, pos + 2, span.flags)
  }

  const makeServerBlock = (span: ServerSpan, known: boolean) => {
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
  }
  const makeClientBlock = (span: ClientSpan, known: boolean) => {
    w.string(5, known ? span.method : 'HTTP')
    w.tag(6, VARINT)
    w.varint(KIND_CLIENT)
    methodAttributes(span.method, known)
    if (span.target !== undefined) {
      const url = new URL(span.target)
      w.stringAttribute(K.serverAddress, url.hostname.charCodeAt(0) === 91 ? url.hostname.slice(1, -1) : url.hostname)
      w.intAttribute(K.serverPort, url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80)
    }
  }
  const serverBlock = blockCache<string, ServerSpan>(makeServerBlock)
  const clientBlock = blockCache<string | undefined, ClientSpan>(makeClientBlock)
  /** server.address and server.port of a Host field, cached (httpHosts). */
  const hostBlock = (pos: number, span: ServerSpan, host: string): number => {
    const hosts = span.scheme === 'https' ? httpsHosts : httpHosts
    const cached = hosts.get(host)
    if (cached !== undefined) return putBytes(w.buf, pos, cached)
    w.pos = pos
    const colon = host.lastIndexOf(':')
    const hasPort = colon > host.lastIndexOf(']')
    const name = hasPort ? host.slice(0, colon) : host
    w.stringAttribute(K.serverAddress, name.charCodeAt(0) === 91 ? name.slice(1, -1) : name)
    const port = hasPort ? Number(host.slice(colon + 1)) : span.scheme === 'https' ? 443 : 80
    if (Number.isInteger(port) && port >= 0 && port <= 65535) w.intAttribute(K.serverPort, port)
    if (hosts.size < MAX_HOSTS) hosts.set(host, w.buf.slice(pos, w.pos))
    return w.pos
  }

  const server = (span: ServerSpan) => {
    const { path, host, clientAddress, userAgent, requestId } = span
    const strings = size(span.traceState) + 2 * span.method.length + 2 * size(span.route) + span.routeName.length + path.length + size(host) + size(clientAddress) + size(userAgent) + requestId.length + size(span.cache) + size(span.consumer) + 2 * size(span.errorCode)
    w.reserve(SPAN_ROOM + 3 * strings)
    // A server span without a remote parent has none (0, 0).
    let pos = head(w.pos, span, span, span.p0, span.p1)
    w.pos = pos
    const cached = serverBlock(span.routeName, span)
    pos = cached === undefined ? w.pos : putBytes(w.buf, pos, cached)
    pos = attribute(pos, K.path, path)
    pos = putIntAttribute(w.buf, pos, K.status, span.status)
    if (host !== null) pos = hostBlock(pos, span, host)
    if (clientAddress !== undefined) pos = attribute(pos, K.clientAddress, clientAddress)
    if (userAgent !== null) pos = attribute(pos, K.userAgent, userAgent)
    const error = span.status >= 500
    if (error) pos = attribute(pos, K.errorType, span.errorCode ?? String(span.status))
    pos = attribute(pos, K.requestId, requestId)
    if (span.cache !== null) pos = attribute(pos, K.cache, span.cache)
    if (span.consumer !== undefined) pos = attribute(pos, K.consumer, span.consumer)
    if (span.errorCode !== undefined) pos = attribute(pos, K.errorCode, span.errorCode)
    // Server spans: only 5xx is an error; a 4xx is the client's (semconv, HTTP spans' status).
    w.pos = tail(pos, span, error)
  }

  const client = (span: ClientSpan) => {
    const target = span.target
    const parent = span.parent
    w.reserve(SPAN_ROOM + 3 * (size(parent.traceState) + 2 * span.method.length + span.path.length + size(target) + size(span.error)))
    let pos = head(w.pos, span, parent, parent.s0, parent.s1)
    w.pos = pos
    const cached = clientBlock(target, span)
    pos = cached === undefined ? w.pos : putBytes(w.buf, pos, cached)
    if (target !== undefined) {
      // Without the query: it can carry what the operator would not want in a trace store.
      const path = span.path
      let query = 0
      // A loop, not indexOf: a call out of the compiled code a span.
      while (query < path.length && path.charCodeAt(query) !== 63) query++
      const end = putUrlAttribute(w.buf, pos, K.urlFull, target, path, query)
      pos = end !== -1 ? end : attribute(pos, K.urlFull, target + path.slice(0, query))
    }
    // Semconv: recommended only when the request was resent; the first try has none.
    if (span.resendCount > 0) pos = putIntAttribute(w.buf, pos, K.resendCount, span.resendCount)
    if (span.status !== undefined) pos = putIntAttribute(w.buf, pos, K.status, span.status)
    const errorType = span.error ?? (span.status !== undefined && span.status >= 400 ? String(span.status) : undefined)
    if (errorType !== undefined) pos = attribute(pos, K.errorType, errorType)
    // Client spans: 4xx and 5xx are errors too (semconv).
    w.pos = tail(pos, span, errorType !== undefined)
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

/** Writes `bytes` (a key, a block encoded before) at `pos`; the position after them. */
function putBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  const n = bytes.length
  // A loop beats set() for the short blocks written here.
  if (n >= 64) buf.set(bytes, pos)
  else for (let i = 0; i < n; i++) buf[pos + i] = bytes[i]!
  return pos + n
}

/** A little-endian 32-bit word at `pos`; the position after it. */
function putLittle(buf: Uint8Array, pos: number, value: number): number {
  buf[pos] = value & 255
  buf[pos + 1] = (value >>> 8) & 255
  buf[pos + 2] = (value >>> 16) & 255
  buf[pos + 3] = (value >>> 24) & 255
  return pos + 4
}

/** A span id (8 bytes, with its one-byte tag and length) from its two words. */
function putSpanId(buf: Uint8Array, pos: number, tag: number, first: number, second: number): number {
  buf[pos] = tag
  buf[pos + 1] = 8
  return putLittle(buf, putLittle(buf, pos + 2, first), second)
}

const TWO_16 = 65536
const TWO_32 = 4294967296

/**
 * A Unix time in nanoseconds as fixed64 with a one-byte tag: the origin's (in 32-bit halves)
 * plus `ms` (performance.now()) in nanoseconds, with a carry. Only exact divisions by powers of
 * two: a float `%` is a call into C in JSC (the old way, four a span, cost ~0.4 µs a request).
 */
function putTime(buf: Uint8Array, pos: number, tag: number, originLow: number, originHigh: number, ms: number): number {
  buf[pos] = tag
  const ns = Math.round(ms * 1e6)
  const nsHigh = Math.floor(ns / TWO_32)
  let low = originLow + (ns - nsHigh * TWO_32)
  let high = originHigh + nsHigh
  if (low >= TWO_32) {
    low -= TWO_32
    high++
  }
  // The low word in 16-bit halves: a double of 2^31 or more would take the slow way to an int.
  const lowHigh = Math.floor(low / TWO_16)
  const lowLow = low - lowHigh * TWO_16
  buf[pos + 1] = lowLow & 255
  buf[pos + 2] = lowLow >> 8
  buf[pos + 3] = lowHigh & 255
  buf[pos + 4] = lowHigh >> 8
  return putLittle(buf, pos + 5, high)
}

/**
 * A span attribute (KeyValue, field 9) with a string value, when the value is ASCII and the
 * KeyValue fits in 127 bytes (the common case: a request id, a path, an address), so every
 * length is one byte; -1 otherwise, for the Writer's general path.
 */
function putStringAttribute(buf: Uint8Array, pos: number, key: Uint8Array, value: string, tag = ATTRIBUTE_TAG): number {
  if (value.length + key.length > 123) return -1
  return writeAscii(buf, putStringHead(buf, pos, tag, key, value.length), value)
}

/** The same for url.full: `base` then `path` up to `end`, with no string made for the pair. */
function putUrlAttribute(buf: Uint8Array, pos: number, key: Uint8Array, base: string, path: string, end: number): number {
  if (base.length + end + key.length > 123) return -1
  pos = writeAscii(buf, putStringHead(buf, pos, ATTRIBUTE_TAG, key, base.length + end), base)
  return pos === -1 ? -1 : writeAscii(buf, pos, path, end)
}

/** A string KeyValue's bytes before its `n` characters of ASCII (n + key.length <= 123: one-byte lengths). */
function putStringHead(buf: Uint8Array, pos: number, tag: number, key: Uint8Array, n: number): number {
  buf[pos] = tag
  buf[pos + 1] = key.length + 4 + n
  pos = putBytes(buf, pos + 2, key)
  // value: AnyValue { string_value }
  buf[pos] = 0x12
  buf[pos + 1] = n + 2
  buf[pos + 2] = 0x0a
  buf[pos + 3] = n
  return pos + 4
}

/** A span attribute with a non-negative int value (below 2^53). */
function putIntAttribute(buf: Uint8Array, pos: number, key: Uint8Array, value: number, tag = ATTRIBUTE_TAG): number {
  buf[pos] = tag
  const kv = pos + 1
  pos = putBytes(buf, pos + 2, key)
  buf[pos] = 0x12
  const any = pos + 1
  pos = putVarint(buf, pos + 2, 3 * 8 + VARINT, value) // int_value
  buf[any] = pos - any - 1
  buf[kv] = pos - kv - 1
  return pos
}
