/**
 * The cache's decisions as pure functions of headers and clocks, so each rule is one
 * table-driven test citing its RFC 9111 section: may this response be stored, for how
 * long is it fresh, how old is it, and may it answer this request.
 */
import type { CacheDirectives } from './directives.ts'
import { parseHttpDate } from './http-date.ts'

export type CacheMode = 'standard' | 'override'

/**
 * Statuses that get heuristic freshness unasked. RFC 9110 §15.1 also lists 404, 405, 410,
 * 414 and 501 (and 206, never stored here); they get it only when marked `public`, so an
 * error is cached only when the origin says so (CPDoS, hardening #47).
 */
const HEURISTIC_STATUS: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308])
/**
 * Status codes whose caching rules this cache knows (RFC 9110 §15 and RFC 6585, 7725): a
 * response with `must-understand` is stored only with one of these (RFC 9111 §5.2.2.3).
 */
const UNDERSTOOD_STATUS: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411,
  412, 413, 414, 415, 416, 417, 421, 422, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 511,
])

/** RFC 9111 §3: a final status; 206 and 304 are never stored as such here (no Range support; 304 updates). */
function storableStatus(status: number): boolean {
  return status >= 200 && status <= 599 && status !== 206 && status !== 304
}

export interface StorabilityInput {
  status: number
  responseDirectives: CacheDirectives
  responseHeaders: Headers
  requestHasAuthorization: boolean
  mode: CacheMode
  /** Statuses override mode stores whatever the upstream says; others follow the standard rules. */
  overrideStatuses: readonly number[]
  /** 'bypass': a response with Set-Cookie is not stored; 'strip': stored without it. */
  setCookie: 'bypass' | 'strip'
}

export type Unstorable =
  | 'status'
  | 'no-store'
  | 'private'
  | 'vary-star'
  | 'authorization'
  | 'set-cookie'
  | 'no-freshness'

/** Why `input` must not be stored, or undefined when it may be (RFC 9111 §3, §3.5, §5.2.2). */
export function unstorableReason(input: StorabilityInput, lifetime: number | undefined): Unstorable | undefined {
  const d = input.responseDirectives
  const overridden = input.mode === 'override' && input.overrideStatuses.includes(input.status)
  if (!overridden && !storableStatus(input.status)) return 'status'
  if (d.mustUnderstand) {
    // §5.2.2.3: an unknown status is not stored; a known one ignores no-store.
    if (!UNDERSTOOD_STATUS.has(input.status)) return 'status'
  } else if (d.noStore) return 'no-store' // §5.2.2.5
  if (d.private) return 'private' // §5.2.2.7: a shared cache MUST NOT store
  if (varyHasStar(input.responseHeaders)) return 'vary-star' // §4.1: never matches
  if (input.requestHasAuthorization) {
    // §3.5: only with an explicit permission to share. Override mode never stores them.
    if (input.mode === 'override' || !(d.public || d.sMaxage !== undefined || d.mustRevalidate)) return 'authorization'
  }
  if (input.responseHeaders.has('set-cookie') && (input.mode === 'override' || input.setCookie === 'bypass')) {
    return 'set-cookie'
  }
  // Override mode stores an unlisted status (a 404, say) only when the origin marked it cacheable.
  if (input.mode === 'override' && !overridden && !hasExplicitFreshness(d, input.responseHeaders)) return 'status'
  // Stored without a lifetime only to be revalidated, which needs a validator.
  if (lifetime === undefined && !(d.noCache && hasValidator(input.responseHeaders))) return 'no-freshness'
  return undefined
}

export interface LifetimeInput {
  status: number
  directives: CacheDirectives
  headers: Headers
  /** When the response was received (ms). */
  responseTime: number
  mode: CacheMode
  /** Cap for heuristic freshness, and the lifetime in override mode. */
  ttlSeconds: number
  /** Statuses override mode gives ttlSeconds; others get their standard lifetime. */
  overrideStatuses: readonly number[]
  /** The directives came from a targeted field (RFC 9213 §2.1): Expires is ignored. */
  targeted?: boolean
}

/**
 * Freshness lifetime in seconds (RFC 9111 §4.2.1): s-maxage, then max-age, then
 * Expires - Date, then a heuristic of 10% of the time since Last-Modified (§4.2.2), capped
 * at ttlSeconds. Undefined when the response has none. Override mode: ttlSeconds for the
 * listed statuses.
 */
export function freshnessLifetime(input: LifetimeInput): number | undefined {
  const { directives: d, headers } = input
  if (input.mode === 'override' && input.overrideStatuses.includes(input.status)) return input.ttlSeconds
  if (d.sMaxage !== undefined) return d.sMaxage
  if (d.maxAge !== undefined) return d.maxAge
  const expires = input.targeted ? null : headers.get('expires')
  if (expires !== null) {
    const expiresAt = parseHttpDate(expires, input.responseTime)
    // §5.3: an invalid Expires (e.g. "0", "UTC" for "GMT") means already expired.
    if (Number.isNaN(expiresAt)) return 0
    const date = dateValue(headers, input.responseTime)
    return Math.max(0, Math.floor((expiresAt - date) / 1000))
  }
  const lastModified = Date.parse(headers.get('last-modified') ?? '')
  // §4.2.2: for heuristically cacheable statuses, or any status marked public.
  if ((HEURISTIC_STATUS.has(input.status) || d.public) && !Number.isNaN(lastModified)) {
    const since = (dateValue(headers, input.responseTime) - lastModified) / 1000
    if (since > 0) return Math.min(Math.floor(since / 10), input.ttlSeconds)
  }
  return undefined
}

/** The Date header's value in ms, or `fallback` (the response time) when absent or invalid. */
export function dateValue(headers: Headers, fallback: number): number {
  const date = Date.parse(headers.get('date') ?? '')
  return Number.isNaN(date) ? fallback : date
}

/** What the cache keeps to compute the age of a stored response (RFC 9111 §4.2.3). */
export interface AgeClock {
  /** ms */
  requestTime: number
  /** ms */
  responseTime: number
  /** ms, the Date header */
  dateValue: number
  /** seconds, the Age header as received */
  ageValue: number
}

/** current_age in seconds per RFC 9111 §4.2.3. */
export function currentAge(clock: AgeClock, now: number): number {
  const apparentAge = Math.max(0, clock.responseTime - clock.dateValue) / 1000
  const responseDelay = (clock.responseTime - clock.requestTime) / 1000
  const correctedAgeValue = clock.ageValue + responseDelay
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue)
  const residentTime = (now - clock.responseTime) / 1000
  return correctedInitialAge + residentTime
}

/**
 * The Age header's value, 0 when absent or malformed. Of several values (lines combined with
 * commas) the first counts: `Age: 7200, 0` is 2 hours old.
 */
export function ageValue(headers: Headers): number {
  const age = headers.get('age')
  if (age === null) return 0
  const comma = age.indexOf(',')
  const first = (comma === -1 ? age : age.slice(0, comma)).trim()
  return /^\d+$/.test(first) ? Number(first) : 0
}

export interface ReuseInput {
  /** The stored response's lifetime (0 when it has none). */
  lifetime: number
  age: number
  response: CacheDirectives
  request: CacheDirectives
}

/**
 * How a stored response may answer a request (RFC 9111 §4.2, §4.2.4, §5.2; RFC 5861):
 * - `fresh`: serve it;
 * - `stale-while-revalidate`: serve it, and revalidate in the background;
 * - `revalidate`: ask the origin first (stale, no-cache, or the request wants fresher).
 */
export function reuseDecision(input: ReuseInput): 'fresh' | 'stale-while-revalidate' | 'revalidate' {
  const { lifetime, age, response, request } = input
  if (response.noCache || request.noCache) return 'revalidate' // §5.2.2.4, §5.2.1.4
  if (request.maxAge !== undefined && age > request.maxAge) return 'revalidate' // §5.2.1.1
  if (request.minFresh !== undefined && lifetime - age < request.minFresh) return 'revalidate' // §5.2.1.3
  if (age < lifetime) return 'fresh' // §4.2
  const staleness = age - lifetime
  if (mustNotServeStale(response)) return 'revalidate' // §5.2.2.2, §5.2.2.8, §5.2.2.10
  if (request.maxStale !== undefined && staleness <= request.maxStale) return 'fresh' // §5.2.1.2
  if (response.staleWhileRevalidate !== undefined && staleness <= response.staleWhileRevalidate) {
    return 'stale-while-revalidate'
  }
  return 'revalidate'
}

/** stale-if-error (RFC 5861 §4): may a stale response stand in for an error of the origin? */
export function mayServeStaleOnError(lifetime: number, age: number, response: CacheDirectives): boolean {
  if (mustNotServeStale(response) || response.staleIfError === undefined) return false
  return age - lifetime <= response.staleIfError
}

/**
 * The origin cannot be reached (RFC 9111 §4.2.4 allows a stale response when "disconnected"):
 * may a response stale for at most `graceSeconds` stand in? Not when a directive forbids it.
 */
export function mayServeStaleDisconnected(lifetime: number, age: number, response: CacheDirectives, graceSeconds: number): boolean {
  if (mustNotServeStale(response)) return false
  return age - lifetime <= Math.max(graceSeconds, response.staleIfError ?? 0)
}

/**
 * must-revalidate, proxy-revalidate and s-maxage forbid a shared cache to serve stale; no-cache
 * forbids any use without a successful validation (§5.2.2.4).
 */
function mustNotServeStale(d: CacheDirectives): boolean {
  return d.mustRevalidate || d.proxyRevalidate || d.sMaxage !== undefined || d.noCache
}

/** §3.5: may a request with Authorization be answered by this stored response? */
export function reusableWithAuthorization(response: CacheDirectives, mode: CacheMode): boolean {
  return mode === 'standard' && (response.public || response.sMaxage !== undefined || response.mustRevalidate)
}

function varyHasStar(headers: Headers): boolean {
  const vary = headers.get('vary')
  return vary !== null && vary.split(',').some((name) => name.trim() === '*')
}

/** Freshness the origin gave explicitly (§4.2.1), not a heuristic. */
function hasExplicitFreshness(d: CacheDirectives, headers: Headers): boolean {
  return d.sMaxage !== undefined || d.maxAge !== undefined || headers.has('expires')
}

function hasValidator(headers: Headers): boolean {
  return headers.has('etag') || headers.has('last-modified')
}
