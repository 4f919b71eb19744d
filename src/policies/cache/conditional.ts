/**
 * Conditional requests answered from a stored response (RFC 9110 §13.1.1, §13.1.3, §13.2.2):
 * If-None-Match, with weak comparison, takes precedence over If-Modified-Since.
 */
import type { FieldReader } from '../../kernel/fields.ts'

/** True when the client's copy is current, so a 304 answers it. */
export function notModified(request: FieldReader, stored: Headers): boolean {
  const ifNoneMatch = request.get('if-none-match')
  if (ifNoneMatch !== null) {
    const etag = stored.get('etag')
    if (ifNoneMatch.trim() === '*') return true
    if (etag === null) return false
    const want = opaque(etag)
    return ifNoneMatch.split(',').some((candidate) => opaque(candidate) === want)
  }
  const ifModifiedSince = Date.parse(request.get('if-modified-since') ?? '')
  if (Number.isNaN(ifModifiedSince)) return false
  const lastModified = Date.parse(stored.get('last-modified') ?? stored.get('date') ?? '')
  return !Number.isNaN(lastModified) && lastModified <= ifModifiedSince
}

/** Weak comparison: the opaque tag without a W/ prefix (§8.8.3.2). */
function opaque(tag: string): string {
  const trimmed = tag.trim()
  return trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed
}

/** Fields a 304 carries from the stored response (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified'] as const
