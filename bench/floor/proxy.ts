/**
 * The floor for `proxied`: the leanest proxy Bun can be. Bun.serve, and a pool of raw
 * keep-alive Bun.connect sockets to the fixture upstream; per request it writes the request
 * line and Host, reads the status line, Content-Length and Content-Type, and answers with the
 * body bytes. It checks nothing (no framing rules, no forwarding headers, no request id, no
 * metrics, no timeouts, no request bodies): what the gateway does beyond this is its own cost.
 *
 *   bun bench/floor/proxy.ts --port 0 --upstream http://127.0.0.1:PORT [--workers 2]
 */
import type { Socket, SocketHandler } from 'bun'
import { floorOptions, runFloor } from './cluster.ts'

interface Exchange {
  resolve(res: Response): void
  reject(err: Error): void
}

/** One upstream connection's state: the request in flight and the bytes of its answer so far. */
interface Connection {
  exchange: Exchange | undefined
  buffer: Buffer | undefined
  /** Where the body starts in `buffer`, once the head has been read; -1 before. */
  bodyStart: number
  bodyLength: number
  status: number
  contentType: string | null
}

const { upstream } = floorOptions()
const origin = new URL(upstream)
const HOSTNAME = origin.hostname
const PORT = Number(origin.port)
const HOST = origin.host
const idle: Socket<Connection>[] = []

/** The value of header `name` (lowercase, with ":") in a head whose lowercase copy is `lower`. */
function header(head: string, lower: string, name: string): string | null {
  const at = lower.indexOf(`\r\n${name}`)
  if (at === -1) return null
  const start = at + 2 + name.length
  const end = head.indexOf('\r\n', start)
  return head.slice(start, end === -1 ? head.length : end).trim()
}

const handlers: SocketHandler<Connection> = {
  data(socket, chunk) {
    const c = socket.data
    const buffer = c.buffer ? Buffer.concat([c.buffer, chunk]) : chunk
    if (c.bodyStart === -1) {
      const end = buffer.indexOf('\r\n\r\n')
      if (end === -1) {
        c.buffer = buffer
        return
      }
      const head = buffer.toString('latin1', 0, end)
      const lower = head.toLowerCase()
      c.status = Number(head.slice(9, 12))
      c.bodyLength = Number(header(head, lower, 'content-length:') ?? 0)
      c.contentType = header(head, lower, 'content-type:')
      c.bodyStart = end + 4
    }
    if (buffer.length < c.bodyStart + c.bodyLength) {
      c.buffer = buffer
      return
    }
    // A copy: the chunk's memory is not ours to keep.
    const body = new Uint8Array(buffer.subarray(c.bodyStart, c.bodyStart + c.bodyLength))
    const exchange = c.exchange!
    const headers: Record<string, string> = c.contentType === null ? {} : { 'content-type': c.contentType }
    const status = c.status
    c.exchange = undefined
    c.buffer = undefined
    c.bodyStart = -1
    idle.push(socket)
    exchange.resolve(new Response(body, { status, headers }))
  },
  close(socket) {
    const at = idle.indexOf(socket)
    if (at !== -1) idle.splice(at, 1)
    socket.data.exchange?.reject(new Error('the upstream closed the connection'))
  },
  error(socket, err) {
    socket.data.exchange?.reject(err)
  },
}

const connect = () =>
  Bun.connect<Connection>({
    hostname: HOSTNAME,
    port: PORT,
    data: { exchange: undefined, buffer: undefined, bodyStart: -1, bodyLength: 0, status: 0, contentType: null },
    socket: handlers,
  })

async function proxy(req: Request): Promise<Response> {
  const socket = idle.pop() ?? (await connect())
  const path = req.url.slice(req.url.indexOf('/', 8))
  return new Promise((resolve, reject) => {
    socket.data.exchange = { resolve, reject }
    socket.write(`${req.method} ${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)
  })
}

await runFloor(import.meta.path, (port) => Bun.serve({ hostname: '127.0.0.1', port, reusePort: true, development: false, fetch: proxy }))
