/**
 * Redaction for access logs: query values whose names look like credentials are replaced.
 * Headers are never logged at all, so Authorization, Cookie, Set-Cookie and X-Api-Key
 * cannot leak through the log.
 */

/** Parameter names that carry secrets: tokens, keys, passwords, signatures, sessions, auth codes. */
const SECRET_NAME = /token|key|secret|pass(?:word|wd)?|pwd|sig(?:nature)?|auth|session|jwt|credential|^code$/i

export const REDACTED = 'REDACTED'

/** `?a=1&api_key=s3cret` → `?a=1&api_key=REDACTED`; the order and the rest are kept. */
export function redactQuery(query: string): string {
  if (query.length <= 1) return query
  return `?${query
    .slice(1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const rawName = eq === -1 ? pair : pair.slice(0, eq)
      let name = rawName
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '))
      } catch {
        // Not decodable: judge the raw name.
      }
      return eq !== -1 && SECRET_NAME.test(name) ? `${rawName}=${REDACTED}` : pair
    })
    .join('&')}`
}
