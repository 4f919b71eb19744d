/**
 * Cache-Control parsing (RFC 9111 §5.2), case-insensitive and defensive: unknown directives
 * are ignored, a malformed delta-seconds counts as 0 where that is the safe reading
 * (§1.2.2: "a recipient ... ought to consider it stale"), and a directive given twice takes
 * the more restrictive value.
 */

export interface CacheDirectives {
  noStore: boolean
  noCache: boolean
  private: boolean
  public: boolean
  mustRevalidate: boolean
  proxyRevalidate: boolean
  onlyIfCached: boolean
  /** §5.2.2.3: store only if the status code's caching rules are understood (then no-store is ignored). */
  mustUnderstand: boolean
  /** Seconds, or undefined when absent. */
  maxAge?: number
  sMaxage?: number
  staleWhileRevalidate?: number
  staleIfError?: number
  /** Request only: accept stale up to this many seconds (Infinity for a bare max-stale). */
  maxStale?: number
  minFresh?: number
}

export const NO_DIRECTIVES: Readonly<CacheDirectives> = Object.freeze({
  noStore: false,
  noCache: false,
  private: false,
  public: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  onlyIfCached: false,
  mustUnderstand: false,
})

type SecondsKey = 'maxAge' | 'sMaxage' | 'staleWhileRevalidate' | 'staleIfError' | 'maxStale' | 'minFresh'

const SECONDS: Record<string, SecondsKey> = {
  'max-age': 'maxAge',
  's-maxage': 'sMaxage',
  'stale-while-revalidate': 'staleWhileRevalidate',
  'stale-if-error': 'staleIfError',
  'max-stale': 'maxStale',
  'min-fresh': 'minFresh',
}

/** For these, a larger value is the more permissive one; for min-fresh, a smaller one. */
const TAKE_LARGER: ReadonlySet<SecondsKey> = new Set(['minFresh'])

const DELTA_SECONDS = /^\d+$/
/** RFC 9111 §1.2.2: values above 2^31 are treated as 2^31. */
const MAX_DELTA = 2 ** 31

/**
 * Parsed values by their text. Responses of one origin mostly share a handful of
 * Cache-Control values, so stored entries share one frozen object each instead of holding
 * a copy (and a hit's request is parsed once per distinct value). Bounded: cleared when full.
 */
const parsedByValue = new Map<string, CacheDirectives>()
const MEMO_LIMIT = 512

export function parseCacheControl(value: string | null): CacheDirectives {
  if (!value) return NO_DIRECTIVES
  let parsed = parsedByValue.get(value)
  if (parsed === undefined) {
    parsed = Object.freeze(parse(value))
    if (parsedByValue.size >= MEMO_LIMIT) parsedByValue.clear()
    parsedByValue.set(value, parsed)
  }
  return parsed
}

function parse(value: string): CacheDirectives {
  const out: CacheDirectives = { ...NO_DIRECTIVES }
  for (const part of value.split(',')) {
    const eq = part.indexOf('=')
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (!name) continue
    switch (name) {
      case 'no-store':
        out.noStore = true
        continue
      // A field-name list (`no-cache="Set-Cookie"`) is treated as unqualified: stricter, and simpler.
      case 'no-cache':
        out.noCache = true
        continue
      case 'private':
        out.private = true
        continue
      case 'public':
        out.public = true
        continue
      case 'must-revalidate':
        out.mustRevalidate = true
        continue
      case 'proxy-revalidate':
        out.proxyRevalidate = true
        continue
      case 'only-if-cached':
        out.onlyIfCached = true
        continue
      case 'must-understand':
        out.mustUnderstand = true
        continue
    }
    const key = SECONDS[name]
    if (!key) continue
    let seconds: number
    if (eq === -1) {
      // A bare max-stale means "any staleness"; other bare seconds-directives are malformed.
      seconds = key === 'maxStale' ? Infinity : 0
    } else {
      const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
      seconds = DELTA_SECONDS.test(raw) ? Math.min(Number(raw), MAX_DELTA) : 0
    }
    const prior = out[key]
    out[key] = prior === undefined ? seconds : TAKE_LARGER.has(key) ? Math.max(prior, seconds) : Math.min(prior, seconds)
  }
  return out
}
