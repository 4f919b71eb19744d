/**
 * The one normalised path: what the router matches, the cache keys and the upstream
 * receives. Bun has already applied the WHATWG URL rules (literal dot segments resolved,
 * "\" turned into "/", "%2e" segments resolved); this finishes the job the way nginx does
 * before matching a location, so an upstream that decodes and resolves the path cannot
 * reach anything the route table did not approve (docs/proxying.md, "Paths"):
 * - unreserved characters are percent-decoded (RFC 3986 §2.3, §6.2.2.2), other escapes
 *   kept with upper-case hex (§6.2.2.1), and nothing is decoded twice (§2.4: "%25" stays);
 * - repeated slashes are merged (Envoy `merge_slashes`);
 * - dot segments are resolved (§5.2.4), including those that decoding produced;
 * - an encoded "/" or "\" is rejected, decoded into a separator, or kept, per
 *   `server.escapedSlashes`; a malformed escape or an encoded NUL is always rejected.
 */

export type EscapedSlashes = 'reject' | 'decode' | 'keep'

/** What the router sees for a path that must be answered with 400: no real path has a NUL. */
export const INVALID_PATH = '/\u0000invalid'

const HEX = '0123456789ABCDEF'

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48 // 0-9
  if (code >= 65 && code <= 70) return code - 55 // A-F
  if (code >= 97 && code <= 102) return code - 87 // a-f
  return -1
}

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(byte: number): boolean {
  return (
    (byte >= 65 && byte <= 90) ||
    (byte >= 97 && byte <= 122) ||
    (byte >= 48 && byte <= 57) ||
    byte === 45 ||
    byte === 46 ||
    byte === 95 ||
    byte === 126
  )
}

/** The normalised form of `path` (starting with "/"), or undefined when it must be rejected. */
export function normalisePath(path: string, escapedSlashes: EscapedSlashes): string | undefined {
  // The common case: nothing encoded, no empty segment. Bun resolved literal dot segments.
  if (path.indexOf('%') === -1 && path.indexOf('//') === -1) return path
  let decoded = ''
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i)
    if (code !== 37 /* "%" */) {
      decoded += path[i]
      continue
    }
    const high = hexValue(path.charCodeAt(i + 1))
    const low = hexValue(path.charCodeAt(i + 2))
    if (high < 0 || low < 0) return undefined
    i += 2
    const byte = high * 16 + low
    if (byte === 0) return undefined
    if (isUnreserved(byte)) {
      decoded += String.fromCharCode(byte)
    } else if ((byte === 0x2f || byte === 0x5c) && escapedSlashes !== 'keep') {
      if (escapedSlashes === 'reject') return undefined
      decoded += '/' // "decode": a separator, as WHATWG treats a literal "\"
    } else {
      decoded += `%${HEX[high]}${HEX[low]}`
    }
  }
  return resolveSegments(decoded)
}

/** Merges empty segments and resolves "." and ".." (RFC 3986 §5.2.4); keeps a trailing slash. */
export function resolveSegments(path: string): string {
  const segments = path.split('/')
  const out: string[] = []
  let trailingSlash = false
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!
    const last = i === segments.length - 1
    if (segment === '' || segment === '.') {
      trailingSlash = last
    } else if (segment === '..') {
      out.pop()
      trailingSlash = last
    } else {
      out.push(segment)
      trailingSlash = false
    }
  }
  if (out.length === 0) return '/'
  return `/${out.join('/')}${trailingSlash ? '/' : ''}`
}
