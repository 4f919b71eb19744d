/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and
 * `tracestate` fields read strictly, new ids, and the ratio sampler. Nothing here allocates
 * more than the strings it returns; the patterns are compiled once, at load.
 */

/** What a valid incoming `traceparent` says. */
export interface RemoteParent {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}

const INVALID_TRACE_ID = '0'.repeat(32)
const INVALID_SPAN_ID = '0'.repeat(16)
// §3.2.2: lowercase hex only; version "ff" is invalid.
const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const LATER_VERSION = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/

/**
 * Parses a `traceparent` value (several fields arrive joined by ", " and fail the length
 * check, as §3.2 wants: more than one traceparent is invalid). A later version than 00 is
 * read as §3.2.4 says: its first 55 characters, and only when a "-" or the end follows.
 */
export function parseTraceparent(value: string | null): RemoteParent | undefined {
  if (value === null) return undefined
  let match = value.length === 55 ? VERSION_00.exec(value) : null
  if (match === null) {
    const later = value.length >= 55 && !value.startsWith('00') ? LATER_VERSION.exec(value) : null
    if (later === null || later[1] === 'ff') return undefined
    match = later.slice(1) as RegExpExecArray
  }
  const traceId = match[1]!
  const spanId = match[2]!
  // §3.2.2.3/§3.2.2.4: all-zero ids are invalid.
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined
  return { traceId, spanId, sampled: (parseInt(match[3]!, 16) & 1) === 1 }
}

// §3.3.1.3: a key is a simple key or tenant@system; a value is printable ASCII without "," or "=", not ending in a space.
const MEMBER = /^(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/
const MAX_MEMBERS = 32
/** Longer values are dropped rather than parsed: §3.3.1.5 asks to propagate at least 512 characters. */
const MAX_TRACESTATE = 8192

/**
 * The `tracestate` to pass on, or undefined when it is absent or invalid (§3.3.1: then it is
 * discarded, the traceparent kept). Empty members are allowed and left out; at most 32
 * members, each key once.
 */
export function parseTracestate(value: string | null): string | undefined {
  if (value === null || value.length > MAX_TRACESTATE) return undefined
  const members: string[] = []
  const keys = new Set<string>()
  for (const part of value.split(',')) {
    // OWS around list members (RFC 9110 §5.6.1): spaces and tabs.
    const member = part.replace(/^[ \t]+|[ \t]+$/g, '')
    if (member === '') continue
    if (!MEMBER.test(member)) return undefined
    const key = member.slice(0, member.indexOf('='))
    if (keys.has(key)) return undefined
    keys.add(key)
    members.push(member)
  }
  if (members.length === 0 || members.length > MAX_MEMBERS) return undefined
  return members.join(',')
}

/** The outgoing `traceparent` (version 00): sampled or not is the only flag set. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`
}

const POOL_BYTES = 4096
const random = Buffer.alloc(POOL_BYTES)
let pool = ''
let used = POOL_BYTES * 2

/** Refills the pool: 4 KiB from the CSPRNG as 8,192 hex digits, one string that ids are cut from. */
function refill(): void {
  crypto.getRandomValues(random)
  pool = random.toString('hex')
  used = 0
}

/**
 * `chars` random lowercase hex digits, never all zero (§3.2.2.3). Cut from a pool made 256
 * trace ids at a time: one id costs a substring, not a call into the CSPRNG.
 */
export function randomHex(chars: 16 | 32): string {
  if (used + chars > pool.length) refill()
  const id = pool.slice(used, used + chars)
  used += chars
  return id === INVALID_TRACE_ID || id === INVALID_SPAN_ID ? randomHex(chars) : id
}

const TWO_52 = 2 ** 52

/**
 * A ratio sampler on the trace id, like OpenTelemetry's TraceIdRatioBased: the last 13 hex
 * digits (52 bits, exact in a double; the random part of a W3C trace id) against the ratio,
 * so every gateway with the same ratio decides alike for a trace.
 */
export function ratioSampler(ratio: number): (traceId: string) => boolean {
  if (ratio >= 1) return () => true
  if (ratio <= 0) return () => false
  const bound = ratio * TWO_52
  return (traceId) => parseInt(traceId.slice(19), 16) < bound
}
