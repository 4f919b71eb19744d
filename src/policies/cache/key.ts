/**
 * Cache keys. The primary key is scheme, host, the normalised path and the query as sent
 * (RFC 9111 §2); a variant key adds the values of the request headers the stored response
 * varies on (§4.1), as they are sent upstream, not as the client sent them. Parts are joined with NUL, which no part can contain: Bun rejects raw
 * control bytes in the request line and header values, the guard rejects "%00", and the
 * host is validated, so the separators cannot be forged from request input.
 */

const SEP = '\u0000'

export function primaryKey(scheme: string, host: string, path: string, query: string): string {
  return `${scheme}${SEP}${host.toLowerCase()}${SEP}${path}${query}`
}

/** The parts of a primary key, for purges by prefix. */
export function splitPrimaryKey(key: string): { scheme: string; host: string; target: string } {
  const [scheme = '', host = '', target = ''] = key.split(SEP)
  return { scheme, host, target }
}

/**
 * Lower-case header names a response varies on, sorted, with Accept-Encoding added when the
 * body is encoded: encoded and identity variants stay apart even when the origin forgot Vary.
 */
export function varyNames(responseHeaders: Headers): string[] {
  const names = new Set<string>()
  const vary = responseHeaders.get('vary')
  if (vary) for (const name of vary.split(',')) if (name.trim()) names.add(name.trim().toLowerCase())
  const encoding = responseHeaders.get('content-encoding')
  if (encoding && encoding.toLowerCase() !== 'identity') names.add('accept-encoding')
  return [...names].sort()
}

/**
 * A split route's choice of upstream (`exchange.upstream`), keyed like a request field its
 * answers vary on, so one upstream's answer is never served for another's request. A space
 * cannot occur in a field name (RFC 9110 §5.1), so no header can stand in for it.
 */
export const SPLIT_FIELD = ' upstream'

/** A request field's value as the upstream is sent it (`sentHeaderValue`), or null when it is not sent. */
export type FieldValue = (name: string) => string | null

/** The variant key of `primary` for a request whose sent fields are `valueOf`, given the names it varies on. */
export function variantKey(primary: string, names: readonly string[], valueOf: FieldValue): string {
  if (names.length === 0) return primary
  let key = primary
  // A missing header and an empty one are different selecting values (§4.1).
  for (const name of names) key += `${SEP}${valueOf(name) ?? SEP}`
  return key
}
