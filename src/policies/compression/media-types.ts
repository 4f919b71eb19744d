/**
 * Which Content-Types a route compresses, from its `types` list (lower-case media types and
 * ranges, checked by the schema), made once at boot: a request pays a Set lookup or two.
 */

/** A matcher for `ranges`: `type/subtype`, `type/*`, `type/*+suffix` or `*\/*`. */
export function mediaTypeMatcher(
  ranges: readonly string[]
): (contentType: string | null) => boolean {
  if (ranges.includes('*/*')) return (contentType) => contentType !== null
  const exact = new Set<string>()
  /** `text/` for text/*. */
  const types = new Set<string>()
  /** `application/` → `+json` for application/*+json. */
  const suffixes = new Map<string, string[]>()
  for (const range of ranges) {
    const slash = range.indexOf('/')
    const subtype = range.slice(slash + 1)
    if (subtype === '*') types.add(range.slice(0, slash + 1))
    else if (subtype.startsWith('*+')) {
      const type = range.slice(0, slash + 1)
      suffixes.set(type, [...(suffixes.get(type) ?? []), subtype.slice(1)])
    } else exact.add(range)
  }
  return function compressible(contentType) {
    if (contentType === null) return false
    // The media type without its parameters (`; charset=utf-8`), case-insensitive (RFC 9110 §8.3.1).
    const semicolon = contentType.indexOf(';')
    const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon))
      .trim()
      .toLowerCase()
    if (exact.has(type)) return true
    const slash = type.indexOf('/')
    if (slash <= 0) return false
    const major = type.slice(0, slash + 1)
    if (types.has(major)) return true
    const endings = suffixes.get(major)
    if (endings)
      for (const ending of endings)
        if (type.endsWith(ending) && type.length > slash + 1 + ending.length) return true
    return false
  }
}
