/** Splits Bun's `req.url` into path and query without building a URL object. */
import type { RequestTarget } from '../../types.ts'

/**
 * Bun gives an absolute URL built from Host (relative for HTTP/1.0 without Host), with
 * dot segments already resolved and any fragment removed. The path is kept as received
 * otherwise: not decoded, so `%2F` cannot turn into a separator behind the router's back.
 */
export function splitTarget(url: string): RequestTarget & { length: number } {
  let start = 0
  if (url.charCodeAt(0) !== 47 /* "/" */) {
    start = url.indexOf('/', url.indexOf('://') + 3)
    if (start === -1) return { path: '/', query: '', length: 1 }
  }
  const q = url.indexOf('?', start)
  return q === -1
    ? { path: url.slice(start), query: '', length: url.length - start }
    : { path: url.slice(start, q), query: url.slice(q), length: url.length - start }
}

/** Host header value → lower-case host without port, as routes match it. */
export function hostForRouting(host: string | null): string | undefined {
  if (!host) return undefined
  const end = host.charCodeAt(0) === 91 /* "[" */ ? host.indexOf(']') + 1 : host.lastIndexOf(':')
  return (end > 0 ? host.slice(0, end) : host).toLowerCase()
}
