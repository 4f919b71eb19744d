/**
 * The upstream without a socket, for the benches that measure the gateway's own code
 * (bench:ledger, bench:builds): the native client's own Connection (the request head
 * written, the parser, the response), over a socket that is not one. What it writes is
 * dropped, and the recorded answer arrives a microtask later. `Connection` is passed in, so
 * bench:builds can give each checkout its own.
 */
import type { Socket } from 'bun'
import type { Connection } from '../src/upstream/native/connection.ts'
import type { UpstreamClient } from '../src/upstream/types.ts'

const BODY = JSON.stringify({ id: 42, name: 'bench', tags: ['a', 'b'] })
/** What the fixture upstream (bench/fixture-upstream.ts) answers, byte for byte; a Buffer, as a socket hands it over. */
const answerOf = (cacheable: boolean) =>
  Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${cacheable ? 'cache-control: public, max-age=600\r\n' : ''}Date: ${new Date().toUTCString()}\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`)
/** To GET /small. */
export const ANSWER = answerOf(false)
/** To GET /cached/...: public, max-age=600. */
export const CACHEABLE = answerOf(true)
export const RECORDED_BODY = BODY

type ConnectionClass = new (socket: Socket<Connection>, owner: { release(c: Connection): void; closed(c: Connection): void }) => Connection

/** A base client that answers a path under /cached with CACHEABLE, any other with ANSWER. */
export function recordedClient(ConnectionOf: ConnectionClass): UpstreamClient {
  let answer = ANSWER
  const socket = {
    write(data: Uint8Array | string) {
      const bytes = answer
      queueMicrotask(() => connection.onData(bytes))
      return typeof data === 'string' ? data.length : data.byteLength
    },
    terminate() {},
  }
  const connection = new ConnectionOf(socket as unknown as Socket<Connection>, { release() {}, closed() {} })
  const options = { maxHeaderBytes: 65536, bufferBytes: 65536, authority: '127.0.0.1:9', basePath: '' }
  return {
    send(request) {
      answer = request.path.startsWith('/cached') ? CACHEABLE : ANSWER
      return connection.exchange(request, options)
    },
    closeIdle() {},
    checksHeads: true,
  }
}
