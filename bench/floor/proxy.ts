/**
 * The floor for `proxied`: the leanest proxy Bun can be. Bun.serve, and a pool of raw
 * keep-alive Bun.connect sockets to the fixture upstream; per request it writes the request
 * line and Host, reads the status line, Content-Length and Content-Type, and answers with the
 * body bytes. It checks nothing (no framing rules, no forwarding headers, no request id, no
 * metrics, no timeouts, no request bodies): what the gateway does beyond this is its own cost.
 *
 *   bun bench/floor/proxy.ts --port 0 --upstream http://127.0.0.1:PORT [--workers 2]
 */
import { floorOptions, runFloor } from './cluster.ts'
import { floorPool, type FloorHead } from './pool.ts'

const { upstream } = floorOptions()
const origin = new URL(upstream)
const HOST = origin.host

/** The value of header `name` (lowercase, with ":") in a head whose lowercase copy is `lower`. */
function header(head: string, lower: string, name: string): string | null {
  const at = lower.indexOf(`\r\n${name}`)
  if (at === -1) return null
  const start = at + 2 + name.length
  const end = head.indexOf('\r\n', start)
  return head.slice(start, end === -1 ? head.length : end).trim()
}

/** The status line, Content-Length and Content-Type: nothing else is read. */
function readHead(head: string): FloorHead {
  const lower = head.toLowerCase()
  const contentType = header(head, lower, 'content-type:')
  return { status: Number(head.slice(9, 12)), length: Number(header(head, lower, 'content-length:') ?? 0), headers: contentType === null ? {} : { 'content-type': contentType } }
}

const pool = floorPool(origin, readHead)

function proxy(req: Request): Promise<Response> {
  const path = req.url.slice(req.url.indexOf('/', 8))
  return pool.send(`${req.method} ${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)
}

await runFloor(import.meta.path, (port) => Bun.serve({ hostname: '127.0.0.1', port, reusePort: true, development: false, fetch: proxy }))
