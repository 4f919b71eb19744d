/**
 * The access log's fields, in the order a line has them: each one's name and how its JSON
 * value is made from the request (undefined leaves the field out of that line). One table:
 * the config's `log.access.fields` accepts its names (config/schema.ts), so a new field is
 * one entry here. Values that a client or an upstream chose (Host, User-Agent, the path, the
 * consumer, an upstream's X-Cache-Status, a forwarded client address) go through
 * JSON.stringify; the rest are numbers or values the gateway made or validated (the request
 * id, the method token, catalogue codes, upstream names, target addresses from the config).
 */
import { errorBodyBytes, UPSTREAM_ERROR_CODES, type GatewayError } from '../kernel/errors.ts'
import type { FieldReader } from '../kernel/fields.ts'

/**
 * What a line reads of an Exchange (kernel/exchange.ts), which has all of it. Written out
 * rather than imported: the config's schema takes the field names from here, and the
 * Exchange's route type is the config's, which TypeScript would find circular.
 */
export interface LoggedExchange {
  readonly raw: Request
  /** The client's fields, from the limits stage's snapshot when there is one (no native Headers call). */
  readonly requestFields: FieldReader
  readonly requestId: string
  /** The W3C trace id, when tracing is on (src/tracing/). */
  readonly traceId: string | undefined
  readonly path: string
  readonly query: string
  /** The Host field as the edge normalised it. */
  readonly host: string | null
  readonly route: { readonly name: string; readonly config: { readonly upstream?: string | undefined } | undefined }
  readonly identity: { readonly consumer: string } | undefined
  readonly upstreamTries: number
  /** The split's choice, on a route that splits. */
  readonly upstream: string | undefined
  readonly upstreamAddress: string | undefined
  readonly upstreamStatus: number | undefined
  readonly upstreamMs: number | undefined
  readonly requestBytes: number | undefined
  readonly responseBytes: number | undefined
  readonly relaying: boolean
  readonly clientAddress: string | undefined
}

/** One request's answer, as a line is made from it (one object per log, reused: nothing is allocated per line). */
export interface LineInput {
  exchange: LoggedExchange
  response: Response
  /** ms from the request's admission to its response head. */
  durationMs: number
  /** The gateway's refusal the response is, when the gateway answered itself. */
  refused: GatewayError | undefined
}

/** What a log is set up with, once: its clock, its query redactor, the listener's TLS. */
export interface LineSetup {
  time(): string
  redactQuery(query: string): string
  /** The `tls` value: the listener's TLS version when only one is accepted, else `https`; undefined on plain HTTP. */
  tls: string | undefined
}

type Field = (input: LineInput, setup: LineSetup) => string | undefined

const UPSTREAM_ERRORS: ReadonlySet<string> = new Set(UPSTREAM_ERROR_CODES)
const round = (ms: number) => Math.round(ms * 100) / 100
const quoted = (value: string | null | undefined) => (value == null ? undefined : JSON.stringify(value))
const reached = (exchange: LoggedExchange) => exchange.upstreamTries > 0
/** No body on the wire: HEAD (RFC 9110 §9.3.2), 1xx, 204 and 304 (§6.4.1). */
const bodiless = ({ exchange, response }: LineInput) => exchange.raw.method === 'HEAD' || response.status < 200 || response.status === 204 || response.status === 304

const FIELDS = {
  /** When the line was written (ISO 8601, UTC). */
  time: (_, setup) => `"${setup.time()}"`,
  requestId: ({ exchange }) => `"${exchange.requestId}"`,
  /** The request's trace (32 hex digits), when tracing is on: the line and the spans meet on it. */
  traceId: ({ exchange }) => (exchange.traceId === undefined ? undefined : `"${exchange.traceId}"`),
  method: ({ exchange }) => `"${exchange.raw.method}"`,
  host: ({ exchange }) => quoted(exchange.host),
  /** The normalised path and the query, credentials in it redacted (redact.ts). */
  path: ({ exchange }, setup) => JSON.stringify(exchange.path + setup.redactQuery(exchange.query)),
  userAgent: ({ exchange }) => quoted(exchange.requestFields.get('user-agent')),
  route: ({ exchange }) => JSON.stringify(exchange.route.name),
  /** The status the client got. */
  status: ({ response }) => String(response.status),
  /** The gateway's own code when it answered itself (rate_limited, unauthorized, gateway_timeout, ...). */
  error: ({ refused }) => (refused ? `"${refused.code}"` : undefined),
  /** Why the upstream exchange failed, when that is what the gateway answered for (connect_refused, headers_timeout, ...). */
  upstreamError: ({ refused }) => (refused?.reason !== undefined && UPSTREAM_ERRORS.has(refused.reason) ? `"${refused.reason}"` : undefined),
  consumer: ({ exchange }) => quoted(exchange.identity?.consumer),
  /** Only when a try was sent to one: never on a request refused before it, or answered by the cache. */
  upstream: ({ exchange }) => (reached(exchange) ? `"${exchange.upstream ?? exchange.route.config?.upstream}"` : undefined),
  /** The target (host:port) the last try went to: the one that answered, when one did. */
  target: ({ exchange }) => (reached(exchange) && exchange.upstreamAddress !== undefined ? `"${exchange.upstreamAddress}"` : undefined),
  tries: ({ exchange }) => (reached(exchange) ? String(exchange.upstreamTries) : undefined),
  upstreamStatus: ({ exchange }) => (exchange.upstreamStatus === undefined ? undefined : String(exchange.upstreamStatus)),
  upstreamMs: ({ exchange }) => (exchange.upstreamMs === undefined ? undefined : String(round(exchange.upstreamMs))),
  cache: ({ response }) => quoted(response.headers.get('x-cache-status')),
  /** The request body: its Content-Length, else the bytes read of it. */
  requestBytes: ({ exchange }) => {
    const length = exchange.requestFields.get('content-length')
    return length === null ? String(exchange.requestBytes ?? 0) : numeric(length)
  },
  /** The response body: 0 where none is sent, the gateway's own error body, Content-Length, else as counted. */
  bytes: (input) => {
    if (bodiless(input)) return '0'
    const { exchange, response, refused } = input
    if (refused) return String(errorBodyBytes(refused.code, exchange.requestId))
    const length = response.headers.get('content-length')
    if (length !== null) return numeric(length)
    return exchange.responseBytes === undefined ? undefined : String(exchange.responseBytes)
  },
  /** ms from admission to the response head. */
  durationMs: ({ durationMs }) => String(round(durationMs)),
  tls: (_, setup) => (setup.tls === undefined ? undefined : `"${setup.tls}"`),
  /** The client's address under the trusted-proxy rules (server.trustedProxies). */
  client: ({ exchange }) => quoted(exchange.clientAddress),
} satisfies Record<string, Field>

export type AccessLogField = keyof typeof FIELDS

/** Every field name, in line order (the config validates `log.access.fields` against it). */
export const ACCESS_LOG_FIELDS = Object.keys(FIELDS) as [AccessLogField, ...AccessLogField[]]

/** Whether the line for this answer has to wait for a streamed body's end to know its bytes. */
export function awaitsBytes(input: LineInput): boolean {
  return input.exchange.relaying && input.refused === undefined && !bodiless(input) && !input.response.headers.has('content-length')
}

/** Makes the function that writes a line with `fields` (all by default), each looked up once. */
export function lineBuilder(fields: readonly AccessLogField[] = ACCESS_LOG_FIELDS): (input: LineInput, setup: LineSetup) => string {
  const wanted = new Set(fields)
  // In the table's order whatever the config's; `event` right after `time`, on every line.
  const parts = ACCESS_LOG_FIELDS.filter((name) => wanted.has(name) && name !== 'time').map((name) => ({ prefix: `,"${name}":`, value: FIELDS[name] as Field }))
  const timed = wanted.has('time')
  return function buildLine(input, setup) {
    let line = timed ? `{"time":"${setup.time()}","event":"access"` : '{"event":"access"'
    for (const part of parts) {
      const value = part.value(input, setup)
      if (value !== undefined) line += part.prefix + value
    }
    return `${line}}\n`
  }
}

/** A header's decimal value as JSON, or undefined when it is not one. */
function numeric(value: string): string | undefined {
  const n = Number(value)
  return Number.isSafeInteger(n) && n >= 0 ? String(n) : undefined
}
