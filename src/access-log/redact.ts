/**
 * Redaction for access logs: query values whose names look like credentials are replaced,
 * and so are those of the names the config uses for credentials (a route's
 * `auth.apiKey.query`, whatever it is called): on every status, since a request refused
 * before its auth stage (400, 405, 413, a preflight) still carries its key. Headers are
 * never logged at all, so Authorization, Cookie, Set-Cookie, X-Api-Key and any configured
 * key header cannot leak through the log.
 */

/** Parameter names that carry secrets: tokens, keys, passwords, signatures, sessions, auth codes. */
export const SECRET_NAME = /token|key|secret|pass(?:word|wd)?|pwd|sig(?:nature)?|auth|session|jwt|credential|^code$/i

export const REDACTED = 'REDACTED'

/**
 * A redactor that also hides the values of `names` (compared case-insensitively, raw or
 * percent-decoded, so `?K=` and `?%6B=` are caught as well as `?k=`). Built once, at boot.
 */
export function queryRedactor(names: Iterable<string> = []): (query: string) => string {
  const configured = new Set([...names].map((name) => name.toLowerCase()))
  const secret = (name: string) => SECRET_NAME.test(name) || configured.has(name.toLowerCase())
  return function redactQuery(query) {
    if (query.length <= 1) return query
    return `?${query
      .slice(1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=')
        if (eq === -1) return pair
        const rawName = pair.slice(0, eq)
        let name = rawName
        try {
          name = decodeURIComponent(rawName.replace(/\+/g, ' '))
        } catch {
          // Not decodable: judge the raw name.
        }
        return secret(name) || secret(rawName) ? `${rawName}=${REDACTED}` : pair
      })
      .join('&')}`
  }
}

/** `?a=1&api_key=s3cret` → `?a=1&api_key=REDACTED`; the order and the rest are kept. */
export const redactQuery = queryRedactor()
