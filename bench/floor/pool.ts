/**
 * The floors' upstream side (bench/floor/proxy.ts, bench/floor/ladder.ts): raw Bun.connect
 * keep-alive sockets to one upstream, a request in flight on each at most, idle ones reused
 * last in, first out, and an answer framed by its Content-Length alone. It checks nothing
 * else: what a head says is `readHead`'s to decide.
 */
import type { Socket } from 'bun'

/** What a response head gives the floor: its status, body length and the fields it relays. */
export interface FloorHead {
  status: number
  length: number
  headers: Headers | Record<string, string>
}

/** One upstream connection: the request in flight and its answer so far. */
interface Connection {
  pending: { resolve(res: Response): void; reject(err: Error): void } | undefined
  buffer: Buffer | undefined
  head: FloorHead | undefined
  /** Where the body starts in `buffer`, once the head has been read. */
  bodyStart: number
}

export interface FloorPool {
  /** Writes `head` (a request without a body) on an idle socket, else a new one, and resolves with the answer. */
  send(head: string): Promise<Response>
}

export function floorPool(upstream: URL, readHead: (head: string) => FloorHead): FloorPool {
  const idle: Socket<Connection>[] = []
  const hostname = upstream.hostname
  const port = Number(upstream.port)
  const handlers = {
    data(socket: Socket<Connection>, chunk: Buffer) {
      const c = socket.data
      const buffer = c.buffer ? Buffer.concat([c.buffer, chunk]) : chunk
      if (c.head === undefined) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) {
          c.buffer = buffer
          return
        }
        c.head = readHead(buffer.toString('latin1', 0, end))
        c.bodyStart = end + 4
      }
      const { status, length, headers } = c.head
      if (buffer.length < c.bodyStart + length) {
        c.buffer = buffer
        return
      }
      // A copy: the chunk's memory is not ours to keep.
      const body = new Uint8Array(buffer.subarray(c.bodyStart, c.bodyStart + length))
      const pending = c.pending!
      c.pending = undefined
      c.buffer = undefined
      c.head = undefined
      idle.push(socket)
      pending.resolve(new Response(body, { status, headers }))
    },
    close(socket: Socket<Connection>) {
      const at = idle.indexOf(socket)
      if (at !== -1) idle.splice(at, 1)
      socket.data.pending?.reject(new Error('the upstream closed the connection'))
    },
    error(socket: Socket<Connection>, err: Error) {
      socket.data.pending?.reject(err)
    },
  }
  const connect = () => Bun.connect<Connection>({ hostname, port, data: { pending: undefined, buffer: undefined, head: undefined, bodyStart: 0 }, socket: handlers })
  const write = (socket: Socket<Connection>, head: string) =>
    new Promise<Response>((resolve, reject) => {
      socket.data.pending = { resolve, reject }
      socket.write(head)
    })
  return {
    send(head) {
      const socket = idle.pop()
      return socket ? write(socket, head) : connect().then((fresh) => write(fresh, head))
    },
  }
}
