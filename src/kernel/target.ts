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

/** Path and query as received, without the fragment ("/" when there is none). */
export function requestTarget(url: string): string {
  const start = pathStart(url)
  if (start === -1) return '/'
  const hash = url.indexOf('#', start)
  return url.slice(start, hash === -1 ? url.length : hash)
}

/** Whether the request-target is exactly `target` (a path: no query, no fragment), without allocating. */
export function isTarget(url: string, target: string): boolean {
  return url.endsWith(target) && pathStart(url) === url.length - target.length
}

/** Bytes of path and query as received, without the fragment (the 414 limit). */
export function targetLength(url: string): number {
  const start = pathStart(url)
  if (start === -1) return 1
  const hash = url.indexOf('#', start)
  return (hash === -1 ? url.length : hash) - start
}

/**
 * The path the router matches (app.ts), and so the path forwarded and cached
 * by: normalised, or INVALID_PATH when it must be rejected (the edge answers 400).
 */
export function routingPath(url: string, escapedSlashes: EscapedSlashes): string {
  const start = pathStart(url)
  // No path: the asterisk-form "*" (OPTIONS *, RFC 9112 §3.2.4), which Bun refuses on HTTP/1.1
  // but passes on HTTP/2 (`:path: *`, RFC 9113 §8.3.1). It names no resource to route: 400.
  if (start === -1) return INVALID_PATH
  let end = url.indexOf('?', start)
  const hash = url.indexOf('#', start)
  if (end === -1 || (hash !== -1 && hash < end)) end = hash
  const raw = end === -1 ? (start === 0 ? url : url.slice(start)) : url.slice(start, end)
  return normalisePath(raw, escapedSlashes) ?? INVALID_PATH
}

/** The name part of a Host value without one trailing dot: `api.example.` is `api.example` (a fully qualified name; nginx strips it too). */
function withoutRootDot(name: string): string {
  return name.length > 1 && name.charCodeAt(name.length - 1) === 46 /* "." */ && name.charCodeAt(name.length - 2) !== 46 ? name.slice(0, -1) : name
}

/** Where the port's ":" is in a Host value, or -1: after "]" for an IP literal, else the last ":". */
function portColon(host: string): number {
  if (host.charCodeAt(0) === 91 /* "[" */) {
    const end = host.indexOf(']') + 1
    return end > 0 && host.charCodeAt(end) === 58 /* ":" */ ? end : -1
  }
  return host.lastIndexOf(':')
}

/** Host header value → lower-case host without port or trailing dot, as routes match it. */
export function hostForRouting(host: string | null): string | undefined {
  if (!host) return undefined
  const colon = portColon(host)
  return withoutRootDot(colon === -1 ? host : host.slice(0, colon)).toLowerCase()
}

/**
 * The one Host the gateway routes, caches and forwards by (RFC 9110 §7.2, RFC 3986 §6.2.3):
 * lower case, no trailing dot, no port when it is the scheme's default. `API.example.:80` is
 * `api.example`, so a route for `api.example` (and its auth) cannot be skipped by spelling the
 * host another way. Returns `host` itself, not a copy, when it is already so.
 */
export function normaliseHost(host: string, defaultPort: '80' | '443'): string {
  if (isNormalHost(host, defaultPort)) return host
  const colon = portColon(host)
  const name = colon === -1 ? host : host.slice(0, colon)
  const port = colon === -1 ? '' : host.slice(colon + 1)
  const normal = withoutRootDot(name).toLowerCase() + (port === '' || port === defaultPort ? '' : `:${port}`)
  return normal === host ? host : normal
}

/** Whether normaliseHost would give `host` back as it is (the common case): one pass over it, no string made. */
function isNormalHost(host: string, defaultPort: string): boolean {
  const n = host.length
  for (let i = 0; i < n; i++) {
    const c = host.charCodeAt(i)
    if (c >= 65 && c <= 90) return false // "A"-"Z"
  }
  const colon = portColon(host)
  // A trailing dot may be a root dot: the full check decides.
  if (host.charCodeAt((colon === -1 ? n : colon) - 1) === 46) return false
  if (colon === -1) return true
  const port = n - colon - 1
  return port !== 0 && !(port === defaultPort.length && host.endsWith(defaultPort))
}
