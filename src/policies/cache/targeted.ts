/**
 * Targeted cache control (RFC 9213): `CDN-Cache-Control`, and more generally
 * `<Target>-Cache-Control`, for the targets this cache belongs to (`cache.targets`, in order),
 * plus `Surrogate-Control` (the Edge Architecture spec) as the target `surrogate`. The first
 * present field with a valid value and at least one known directive replaces Cache-Control
 * and Expires for this cache (§2.1). CDN-Cache-Control targets every CDN on the path (§3),
 * so it is passed on; the fields of targets that name this gateway alone (and
 * Surrogate-Control, which a surrogate consumes) are not.
 *
 * Targeted fields are RFC 8941 dictionaries, parsed strictly: a malformed one (`max-age =1`,
 * `&&&`, upper-case keys) is ignored as a whole, a directive of the wrong type (`max-age="1"`)
 * alone. Surrogate-Control predates structured fields and is parsed like Cache-Control.
 */
import { NO_DIRECTIVES, parseCacheControl, type CacheDirectives } from './directives.ts'

/** RFC 9111 §1.2.2: values above 2^31 are treated as 2^31. */
const MAX_DELTA = 2 ** 31
const KEY = /^[a-z*][a-z0-9_.*-]*$/
const INTEGER = /^-?\d{1,15}$/
const SECONDS = { 'max-age': 'maxAge', 's-maxage': 'sMaxage', 'stale-while-revalidate': 'staleWhileRevalidate', 'stale-if-error': 'staleIfError' } as const
const FLAGS = {
  'no-store': 'noStore',
  'no-cache': 'noCache',
  private: 'private',
  public: 'public',
  'must-revalidate': 'mustRevalidate',
  'proxy-revalidate': 'proxyRevalidate',
  'must-understand': 'mustUnderstand',
} as const

/** The field names of `targets`, in order: `cdn` is CDN-Cache-Control, `surrogate` Surrogate-Control. */
export function targetedFields(targets: readonly string[]): string[] {
  return targets.map((target) => (target === 'surrogate' ? 'surrogate-control' : `${target}-cache-control`))
}

/** Of `fields`, those consumed here: all but CDN-Cache-Control, which downstream CDNs obey too. */
export function consumedFields(fields: readonly string[]): string[] {
  return fields.filter((field) => field !== 'cdn-cache-control')
}

/** Splits `text` at commas outside quoted strings; undefined when a quote is unterminated. */
function members(text: string): string[] | undefined {
  const out: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted && c === '\\') i++
    else if (c === '"') quoted = !quoted
    else if (c === ',' && !quoted) {
      out.push(text.slice(start, i))
      start = i + 1
    }
  }
  if (quoted) return undefined
  out.push(text.slice(start))
  return out
}

/** An RFC 8941 dictionary's members with their bare item (parameters dropped); undefined when invalid. */
export function parseDictionary(text: string): Map<string, number | boolean | string> | undefined {
  const out = new Map<string, number | boolean | string>()
  const parts = members(text)
  if (!parts) return undefined
  for (const raw of parts) {
    // OWS around members only: SP or HTAB.
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, '')
    if (member === '') return undefined
    const item = member.split(';')[0]!
    const eq = item.indexOf('=')
    const key = eq === -1 ? item : item.slice(0, eq)
    if (!KEY.test(key)) return undefined
    if (eq === -1) {
      out.set(key, true)
      continue
    }
    const value = item.slice(eq + 1)
    if (INTEGER.test(value)) out.set(key, Number(value))
    else if (value === '?1' || value === '?0') out.set(key, value === '?1')
    else if (/^"(?:[^"\\]|\\.)*"$/.test(value) || /^[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*$/.test(value) || /^-?\d+\.\d{1,3}$/.test(value) || /^:[A-Za-z0-9+/=]*:$/.test(value)) {
      out.set(key, value)
    } else return undefined
  }
  return out
}

/** The directives of a targeted dictionary, or undefined when it has none this cache knows. */
function fromDictionary(dictionary: Map<string, number | boolean | string>): CacheDirectives | undefined {
  const out: CacheDirectives = { ...NO_DIRECTIVES }
  let known = false
  for (const [key, value] of dictionary) {
    if (key in SECONDS && typeof value === 'number' && value >= 0) {
      out[SECONDS[key as keyof typeof SECONDS]] = Math.min(value, MAX_DELTA)
      known = true
    } else if (key in FLAGS && value === true) {
      out[FLAGS[key as keyof typeof FLAGS]] = true
      known = true
    }
  }
  return known ? Object.freeze(out) : undefined
}

/** The directives of the first targeted field among `fields` that has valid, known ones. */
export function targetedDirectives(headers: Headers, fields: readonly string[]): CacheDirectives | undefined {
  for (const field of fields) {
    const value = headers.get(field)
    if (value === null) continue
    if (field === 'surrogate-control') {
      const parsed = parseCacheControl(value)
      if (parsed !== NO_DIRECTIVES) return parsed
      continue
    }
    const dictionary = parseDictionary(value)
    const directives = dictionary && fromDictionary(dictionary)
    if (directives) return directives
  }
  return undefined
}
