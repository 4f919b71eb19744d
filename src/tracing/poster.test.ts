import { afterEach, describe, expect, test } from 'bun:test'
import type { Socket, TCPSocketListener } from 'bun'
import { createPoster } from './poster.ts'

/**
 * A collector written byte by byte (Bun.listen, port 0): each request it reads whole (by its
 * Content-Length) is answered by `answer`, which writes what the test wants on the socket.
 */
interface Scripted {
  url: string
  /** Bodies received, in order. */
  bodies: string[]
  /** Connections accepted. */
  connections: number
  stop(): void
}
const listeners: TCPSocketListener<{ text: string }>[] = []

afterEach(() => {
  for (const listener of listeners.splice(0)) listener.stop(true)
})

function scripted(answer: (socket: Socket<{ text: string }>, index: number) => void): Scripted {
  const state = { bodies: [] as string[], connections: 0 }
  const listener = Bun.listen<{ text: string }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(socket) {
        state.connections++
        socket.data = { text: '' }
      },
      data(socket, bytes) {
        socket.data.text += bytes.toString('latin1')
        for (;;) {
          const end = socket.data.text.indexOf('\r\n\r\n')
          if (end === -1) return
          const length = Number(/content-length: (\d+)/i.exec(socket.data.text.slice(0, end))![1])
          if (socket.data.text.length < end + 4 + length) return
          state.bodies.push(socket.data.text.slice(end + 4, end + 4 + length))
          socket.data.text = socket.data.text.slice(end + 4 + length)
          answer(socket, state.bodies.length - 1)
        }
      },
    },
  })
  listeners.push(listener)
  return {
    url: `http://127.0.0.1:${listener.port}/v1/traces`,
    get bodies() {
      return state.bodies
    },
    get connections() {
      return state.connections
    },
    stop: () => listener.stop(true),
  } as Scripted
}

const body = (text: string) => new TextEncoder().encode(text)

describe('createPoster', () => {
  test('Content-Length, chunked (with trailers), 204 and close-delimited answers all end; the connection is kept where it may be', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: 1\r\n\r\n',
      'HTTP/1.1 204 No Content\r\n\r\n',
      'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n',
      'HTTP/1.0 200 OK\r\n\r\nuntil the close',
      'HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
    ]
    const server = scripted((socket, index) => {
      // The answer in two writes: the reader must wait for the rest.
      const text = answers[index]!
      socket.write(text.slice(0, 20))
      setTimeout(() => {
        socket.write(text.slice(20))
        if (text.startsWith('HTTP/1.0')) socket.end()
      }, 5)
    })
    const poster = createPoster(server.url, { authorization: 'Bearer t' }, 2000)
    const statuses = []
    for (let i = 0; i < answers.length; i++) statuses.push(await poster.post(body(`batch ${i}`)))
    poster.close()
    expect(statuses).toEqual([200, 200, 204, 503, 200, 200, 200])
    expect(server.bodies).toEqual(answers.map((_, i) => `batch ${i}`))
    // One connection until the HTTP/1.0 answer closed it, a second until one said Connection: close, then a third.
    expect(server.connections).toBe(3)
  })

  test('a silent collector times out, an answer cut short is a length_mismatch, a bad head is refused; each leaves for a new connection', async () => {
    const server = scripted((socket, index) => {
      if (index === 0) return // silent
      if (index === 1) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc')
      else if (index === 2) socket.write('SMTP ready\r\n\r\n')
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
    })
    const poster = createPoster(server.url, {}, 200)
    await expect(poster.post(body('a'))).rejects.toMatchObject({ code: 'timeout' })
    await expect(poster.post(body('b'))).rejects.toMatchObject({ code: 'length_mismatch' })
    await expect(poster.post(body('c'))).rejects.toMatchObject({ code: 'malformed_head' })
    expect(await poster.post(body('d'))).toBe(200)
    poster.close()
    expect(server.connections).toBe(4)
  })

  test('a kept connection that closes before any byte of the answer is tried once more on a new one; a new one is not', async () => {
    const server = scripted((socket, index) => {
      // The second request arrives on the kept connection as the collector gives it up (its idle timeout).
      if (index === 1) socket.end()
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
    })
    const poster = createPoster(server.url, {}, 2000)
    expect(await poster.post(body('first'))).toBe(200)
    expect(await poster.post(body('second'))).toBe(200)
    expect(server.bodies).toEqual(['first', 'second', 'second'])
    expect(server.connections).toBe(2)
    poster.close()

    const closing = scripted((socket) => void socket.end())
    const fresh = createPoster(closing.url, {}, 2000)
    await expect(fresh.post(body('once'))).rejects.toMatchObject({ code: 'reset' })
    expect(closing.bodies).toEqual(['once'])
    const refused = createPoster('http://127.0.0.1:1/v1/traces', {}, 2000)
    await expect(refused.post(body('x'))).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  test('a body larger than the kernel takes at once arrives whole after its head, and the next export after it', async () => {
    const server = scripted((socket) => void socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
    const poster = createPoster(server.url, {}, 5000)
    // Written as it is, not copied (the exporter encodes the next batch only after this one settles).
    const large = 'x'.repeat(16 * 1024 * 1024)
    expect(await poster.post(body(large))).toBe(200)
    expect(await poster.post(body('y'.repeat(100_000)))).toBe(200)
    expect(server.bodies[0] === large).toBe(true)
    expect(server.bodies[1]).toBe('y'.repeat(100_000))
    expect(server.connections).toBe(1)
    poster.close()
  })
})
