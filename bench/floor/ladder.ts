/**
 * The floors with the gateway's required work added one rung at a time, each in the leanest
 * form hand-written code can give it: what the gateway's checks must cost at the least, in
 * Bun, whatever the gateway's structure. `bench/ladder.ts` loads each rung side by side with
 * the gateway. Rungs are cumulative: rung k does what rungs 0..k do.
 *
 * Not a proxy to use: it forwards GETs without bodies to one upstream and relays answers
 * with a Content-Length, as the floors do (bench/floor/proxy.ts, hit.ts).
 */
import type { Server } from 'bun'
import { routingPath } from '../../src/kernel/target.ts'
import { floorPool, type FloorHead } from './pool.ts'

/** Proxied: the floor, then X-Forwarded-*, the client's fields, the answer's fields, the request id, the request checks, routing, the answer's checks, metrics. */
export const PROXY_RUNGS = ['floor', '+ X-Forwarded-*', "+ client's fields", "+ answer's fields", '+ request id', '+ request checks', '+ routing', "+ answer's checks", '+ metrics'] as const
/** Cache hit: the floor, then the request checks, routing and the cache key, RFC 9111's request fields, Age and freshness, the stored fields copied, metrics. */
export const HIT_RUNGS = ['floor', '+ request checks', '+ routing and key', '+ request directives', '+ age and freshness', '+ stored fields copied', '+ metrics'] as const

const CRLF = '\r\n'
// RFC 9110 §7.6.1: never forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'])
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|(?![^:]*\.\.)[A-Za-z0-9._~-]+)(?::\d{1,5})?$/
const DIGITS = /^\d+$/
const MAX_HEADER_BYTES = 16384
const MAX_URL_BYTES = 8192
const BAD_REQUEST = () => new Response('{"error":"bad_request"}', { status: 400, headers: { 'content-type': 'application/json', connection: 'close' } })

/** The request checks of the gateway's guard (src/policies/limits/guard.ts) on one snapshot of the fields. */
function refused(req: Request, fields: Record<string, string | string[]>, url: string): boolean {
  const host = fields.host
  if (typeof host === 'string' && !VALID_HOST.test(host)) return true
  const connection = fields.connection
  if (typeof connection === 'string' && /content-length|transfer-encoding/i.test(connection)) return true
  if (url.length - url.indexOf('/', 8) > MAX_URL_BYTES) return true
  let bytes = 0
  for (const name in fields) {
    const value = fields[name]!
    bytes += name.length + (typeof value === 'string' ? value.length : value.join(', ').length) + 4
  }
  if (bytes > MAX_HEADER_BYTES) return true
  const length = fields['content-length']
  if (length !== undefined && (typeof length !== 'string' || !DIGITS.test(length))) return true
  return (req.method === 'GET' || req.method === 'HEAD') && ((length !== undefined && length !== '0') || fields['transfer-encoding'] !== undefined)
}

/** A route's request count, byte counts and latency histogram, the leanest way: typed arrays. */
class Metrics {
  private readonly bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
  private readonly buckets = new Float64Array(this.bounds.length + 1)
  private readonly counts = new Float64Array(6)
  private sum = 0
  private bytesIn = 0
  private bytesOut = 0

  record(status: number, seconds: number, requestBytes: number, responseBytes: number): void {
    let i = 0
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++
    this.buckets[i]!++
    this.sum += seconds
    this.counts[(status / 100) | 0]!++
    this.bytesIn += requestBytes
    this.bytesOut += responseBytes
  }
}

/** The proxy of `rung` (an index into PROXY_RUNGS) in front of `upstream` (http://host:port). */
export function ladderProxy(rung: number, upstream: string): (req: Request, server: Server<undefined>) => Response | Promise<Response> {
  const origin = new URL(upstream)
  const metrics = new Metrics()
  const allFields = rung >= 3
  const checksAnswer = rung >= 7

  /** The floor reads the status, Content-Length and Content-Type; from rung 3, every field is relayed. */
  function readHead(head: string): FloorHead {
    let status = Number(head.slice(9, 12))
    let length = 0
    let framing = false
    const headers: Headers | Record<string, string> = allFields ? new Headers() : {}
    for (let at = head.indexOf(CRLF) + 2; at > 1; ) {
      const next = head.indexOf(CRLF, at)
      const line = next === -1 ? head.slice(at) : head.slice(at, next)
      const colon = line.indexOf(':')
      const name = line.slice(0, colon).toLowerCase()
      const value = line.slice(colon + 1).trim()
      if (name === 'content-length') length = Number(value)
      else if (name === 'transfer-encoding') framing = true
      else if (allFields) {
        if (!HOP_BY_HOP.has(name)) (headers as Headers).append(name, value)
      } else if (name === 'content-type') (headers as Record<string, string>)['content-type'] = value
      at = next === -1 ? -1 : next + 2
    }
    // RFC 9112 §6.3: a status out of range, or Content-Length beside Transfer-Encoding, is a 502.
    if (checksAnswer && (status < 200 || status > 599 || framing || head.length > MAX_HEADER_BYTES)) status = 502
    return { status, length, headers }
  }
  const pool = floorPool(origin, readHead)

  return async (req, server) => {
    const started = performance.now()
    const url = req.url
    let path = url.slice(url.indexOf('/', 8))
    const fields = rung >= 2 ? (req.headers.toJSON() as Record<string, string | string[]>) : undefined
    if (rung >= 5 && refused(req, fields!, url)) return BAD_REQUEST()
    if (rung >= 6) {
      const normal = routingPath(url, 'reject')
      if (!normal.startsWith('/api')) return new Response('{"error":"not_found"}', { status: 404 })
      path = normal.slice(4) + (path.includes('?') ? path.slice(path.indexOf('?')) : '')
    }
    let head = `${req.method} ${path} HTTP/1.1${CRLF}host: ${origin.host}${CRLF}`
    if (fields) {
      for (const name in fields) {
        if (HOP_BY_HOP.has(name)) continue
        const value = fields[name]!
        head += typeof value === 'string' ? `${name}: ${value}${CRLF}` : value.map((one) => `${name}: ${one}${CRLF}`).join('')
      }
    }
    if (rung >= 1) {
      const host = req.headers.get('host')
      head += `x-forwarded-for: ${server.requestIP(req)?.address}${CRLF}x-forwarded-proto: http${CRLF}`
      if (host) head += `x-forwarded-host: ${host}${CRLF}`
    }
    const id = rung >= 4 ? crypto.randomUUID() : undefined
    if (id) head += `x-request-id: ${id}${CRLF}`
    const response = await pool.send(head + CRLF)
    if (id) response.headers.set('x-request-id', id)
    if (rung >= 8) metrics.record(response.status, (performance.now() - started) / 1000, 0, Number(response.headers.get('content-length') ?? 0))
    return response
  }
}

interface Stored {
  body: Uint8Array
  headers: Headers
  /** The two fields the floor answers with, as strings (bench/floor/hit.ts). */
  contentType: string
  cacheControl: string
  storedAt: number
  lifetime: number
  etag: string | null
}

/** The cache hit of `rung` (an index into HIT_RUNGS): answers from entries filled from `upstream` on a miss. */
export function ladderHit(rung: number, upstream: string): (req: Request) => Response | Promise<Response> {
  const entries = new Map<string, Stored>()
  const metrics = new Metrics()

  async function fill(key: string, path: string): Promise<Response> {
    const res = await fetch(upstream + path)
    const headers = new Headers(res.headers)
    headers.delete('date')
    const stored: Stored = {
      body: new Uint8Array(await res.arrayBuffer()),
      headers,
      contentType: headers.get('content-type') ?? 'application/octet-stream',
      cacheControl: headers.get('cache-control') ?? '',
      storedAt: Date.now(),
      lifetime: 600,
      etag: headers.get('etag'),
    }
    entries.set(key, stored)
    return answer(stored, 'MISS', crypto.randomUUID())
  }

  function answer(stored: Stored, status: 'HIT' | 'MISS', id: string): Response {
    const age = String(Math.floor((Date.now() - stored.storedAt) / 1000))
    if (rung < 5) {
      return new Response(stored.body, {
        headers: { 'content-type': stored.contentType, 'cache-control': stored.cacheControl, age, 'x-cache-status': status, 'x-request-id': id },
      })
    }
    // Any stored answer's fields, not the two the floor knows of: a copy, three set.
    const headers = new Headers(stored.headers)
    headers.set('age', age)
    headers.set('x-cache-status', status)
    headers.set('x-request-id', id)
    return new Response(stored.body, { headers })
  }

  return (req) => {
    const started = performance.now()
    const url = req.url
    let key = url
    if (rung >= 1) {
      const fields = req.headers.toJSON() as Record<string, string | string[]>
      if (refused(req, fields, url)) return BAD_REQUEST()
    }
    if (rung >= 2) {
      const path = routingPath(url, 'reject')
      if (!path.startsWith('/cached')) return new Response('{"error":"not_found"}', { status: 404 })
      const query = url.indexOf('?')
      key = `http\u0000${(req.headers.get('host') ?? '').toLowerCase()}\u0000${path}${query === -1 ? '' : url.slice(query)}`
    }
    const stored = entries.get(key)
    if (!stored) return fill(key, url.slice(url.indexOf('/', 8)))
    if (rung >= 3) {
      const headers = req.headers
      // RFC 9111 §5.2.1 / §5.4: the client may ask for a revalidation; RFC 9110 §13: preconditions and ranges go to the origin.
      const cacheControl = headers.get('cache-control')
      if ((cacheControl !== null && /no-cache|max-age=0/.test(cacheControl)) || headers.get('pragma') === 'no-cache') return fill(key, url.slice(url.indexOf('/', 8)))
      if (headers.has('if-match') || headers.has('if-unmodified-since') || headers.has('if-range') || headers.get('range') !== null) return fill(key, url.slice(url.indexOf('/', 8)))
      if (headers.has('authorization') || headers.has('cookie')) return fill(key, url.slice(url.indexOf('/', 8)))
      const inm = headers.get('if-none-match')
      if (inm !== null && inm === stored.etag) return new Response(null, { status: 304 })
      headers.get('if-modified-since')
    }
    // RFC 9111 §4.2: fresh while its age is under its lifetime.
    if (rung >= 4 && (Date.now() - stored.storedAt) / 1000 >= stored.lifetime) return fill(key, url.slice(url.indexOf('/', 8)))
    const response = answer(stored, 'HIT', crypto.randomUUID())
    if (rung >= 6) metrics.record(200, (performance.now() - started) / 1000, 0, stored.body.byteLength)
    return response
  }
}
