/**
 * Bun's `req.url` read without building a URL object: the path the router matches, the
 * query, and the target's length. Bun gives an absolute URL built from Host (relative for
 * HTTP/1.0 without Host), with literal dot segments resolved, but keeps any "#fragment":
 * a fragment is never part of a request-target (RFC 9112 §3.2), so it is dropped here and
 * reaches neither the cache key nor the upstream.
 */
import { INVALID_PATH, normalisePath, type EscapedSlashes } from './path.ts'

/** Where the path starts in Bun's `req.url` (absolute, or relative for HTTP/1.0 without Host). */
function pathStart(url: string): number {
  if (url.charCodeAt(0) === 47 /* "/" */) return 0
  return url.indexOf('/', url.indexOf('://') + 3)
}

/** The query with its "?" and without any fragment, or "": no allocation when there is none. */
export function queryOf(url: string): string {
  const start = pathStart(url)
  const q = start === -1 ? -1 : url.indexOf('?', start)
  if (q === -1) return ''
  const hash = url.indexOf('#', start)
  if (hash !== -1 && hash < q) return ''
  return hash === -1 ? url.slice(q) : url.slice(q, hash)
}

/** Bytes of path and query as received, without the fragment (the 414 limit). */
export function targetLength(url: string): number {
  const start = pathStart(url)
  if (start === -1) return 1
  const hash = url.indexOf('#', start)
  return (hash === -1 ? url.length : hash) - start
}

/**
 * The path the router matches (Hono's `getPath`), and so the path forwarded and cached
 * by: normalised, or INVALID_PATH when it must be rejected (the edge answers 400).
 */
export function routingPath(url: string, escapedSlashes: EscapedSlashes): string {
  const start = pathStart(url)
  if (start === -1) return '/'
  let end = url.indexOf('?', start)
  const hash = url.indexOf('#', start)
  if (end === -1 || (hash !== -1 && hash < end)) end = hash
  const raw = end === -1 ? (start === 0 ? url : url.slice(start)) : url.slice(start, end)
  return normalisePath(raw, escapedSlashes) ?? INVALID_PATH
}

/** Host header value → lower-case host without port, as routes match it. */
export function hostForRouting(host: string | null): string | undefined {
  if (!host) return undefined
  const end = host.charCodeAt(0) === 91 /* "[" */ ? host.indexOf(']') + 1 : host.lastIndexOf(':')
  return (end > 0 ? host.slice(0, end) : host).toLowerCase()
}
