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

const POOL_WORDS = 1024
/** CSPRNG output, 4 KiB at a time, that ids are drawn from: 2 words a span id, 4 a trace id. */
// Int32: JSC keeps an int32 in an object's field unboxed, where a uint32 above 2^31 is a double.
const pool = new Int32Array(POOL_WORDS)
const poolBytes = Buffer.from(pool.buffer)
/** The pool as hex: word i is digits 8i to 8i+8 (its bytes in memory order). */
let poolHex = ''
let drawn = POOL_WORDS

/**
 * The words ids are drawn from: read an id's at the index `drawId` returned, before the next
 * draw (which may refill the pool). A span keeps its ids as these numbers, which the encoder
 * writes back as little-endian words, the bytes in the order of the hex (every host Bun runs
 * on is little-endian): reading the hex strings a batch later, out of the caches, cost ~0.7 µs
 * a sampled request.
 */
export const idWords: Int32Array = pool

/** Draws a new id of `words` words (2: a span id, 4: a trace id), never all zero (§3.2.2.3): its index in `idWords`. */
export function drawId(words: 2 | 4): number {
  if (drawn + words > POOL_WORDS) {
    crypto.getRandomValues(pool)
    poolHex = poolBytes.toString('hex')
    drawn = 0
  }
  const at = drawn
  drawn += words
  const any = words === 2 ? pool[at]! | pool[at + 1]! : pool[at]! | pool[at + 1]! | pool[at + 2]! | pool[at + 3]!
  return any === 0 ? drawId(words) : at
}

/** The lowercase hex of the id at `at` (a substring of the pool's hex: nothing is copied until it is written). */
export function idHex(at: number, words: 2 | 4): string {
  return poolHex.slice(8 * at, 8 * (at + words))
}

/** `chars` random lowercase hex digits, never all zero: an id whose words are not kept. */
export function randomHex(chars: 16 | 32): string {
  const words = chars === 16 ? 2 : 4
  return idHex(drawId(words), words)
}

/** A byte by its two lowercase hex digits' char codes (first << 7 | second): one lookup a byte. */
const HEX_PAIR = new Uint8Array(128 * 128)
const HEX_DIGITS = '0123456789abcdef'
for (let high = 0; high < 16; high++) {
  for (let low = 0; low < 16; low++) HEX_PAIR[(HEX_DIGITS.charCodeAt(high) << 7) | HEX_DIGITS.charCodeAt(low)] = (high << 4) | low
}

/** Word `i` of an id given as hex (a trusted caller's), as `idWords` holds a drawn one's. */
export function hexWord(hex: string, i: number): number {
  const at = 8 * i
  const b0 = HEX_PAIR[(hex.charCodeAt(at) << 7) | hex.charCodeAt(at + 1)]!
  const b1 = HEX_PAIR[(hex.charCodeAt(at + 2) << 7) | hex.charCodeAt(at + 3)]!
  const b2 = HEX_PAIR[(hex.charCodeAt(at + 4) << 7) | hex.charCodeAt(at + 5)]!
  const b3 = HEX_PAIR[(hex.charCodeAt(at + 6) << 7) | hex.charCodeAt(at + 7)]!
  return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
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
