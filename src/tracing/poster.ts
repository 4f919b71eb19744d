/**
 * OTLP/HTTP exports to an http:// collector on one keep-alive connection of the worker's own
 * (Bun.connect), written and read on the main thread. Bun's fetch hands each export to its
 * HTTP client thread and back: measured in the whole gateway, that costs ~2 µs per sampled
 * request more than this (bench:overhead --in-process, docs/monitoring.md). One export is in
 * flight at a time (exporter.ts), so one connection is all it needs; it is opened again after
 * the collector closes it. https:// collectors keep using fetch.
 *
 * The answer is read only as far as the exporter needs: the status (RFC 9112 §4), and the end
 * of the body, by Content-Length, chunked framing (§7.1) or the connection's close (§6.3), so
 * the connection can be kept. Anything else that cannot be framed closes the connection.
 */

export interface Poster {
  /** POSTs `body` (copied before this returns); the answer's status, or rejects (`code` names a network error). */
  post(body: Uint8Array): Promise<number>
  close(): void
}

class PostError extends Error {
  constructor(readonly code: string) {
    super(code)
  }
}

type Socket = Awaited<ReturnType<typeof Bun.connect>>

const HEAD_END = '\r\n\r\n'
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})/
const MAX_HEAD = 16 * 1024

/** What is left to read of an answer, once its head is in. */
type Framing = { kind: 'length'; remaining: number } | { kind: 'chunked' } | { kind: 'close' } | { kind: 'none' }

export function createPoster(endpoint: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Poster {
  const url = new URL(endpoint)
  const hostname = url.hostname.replace(/^\[|\]$/g, '')
  const port = Number(url.port || 80)
  let fields = ''
  for (const [name, value] of Object.entries({ ...headers, host: url.host })) fields += `${name}: ${value}\r\n`
  const headPrefix = `POST ${url.pathname}${url.search} HTTP/1.1\r\n${fields}`

  let socket: Socket | undefined
  let connecting: Promise<Socket> | undefined
  /** The export waiting for its answer. */
  let current: { resolve(status: number): void; reject(err: Error): void } | undefined
  let unsent: Uint8Array | undefined
  // The answer read so far (latin1: the head is ASCII, the body is only counted).
  let text = ''
  let status = 0
  let framing: Framing | undefined
  let keep = true
  /** Whether any byte of the current answer came. */
  let answered = false

  const settle = (err: Error | undefined) => {
    const waiting = current
    current = undefined
    text = ''
    framing = undefined
    unsent = undefined
    if (err) waiting?.reject(err)
    else waiting?.resolve(status)
  }
  const drop = (err: Error) => {
    const old = socket
    socket = undefined
    settle(err)
    old?.end()
  }

  /** Reads what came; true once the answer is whole. */
  const read = (): boolean => {
    for (;;) {
      if (framing === undefined) {
        const end = text.indexOf(HEAD_END)
        if (end === -1) {
          if (text.length > MAX_HEAD) throw new PostError('malformed_head')
          return false
        }
        const head = text.slice(0, end)
        text = text.slice(end + 4)
        const line = STATUS_LINE.exec(head)
        if (line === null) throw new PostError('malformed_head')
        status = Number(line[1])
        // An interim answer (100 Continue): the real one follows.
        if (status < 200) continue
        const lower = head.toLowerCase()
        keep = !/\r\nconnection:[^\r]*\bclose\b/.test(lower) && head.startsWith('HTTP/1.1')
        const length = /\r\ncontent-length: *(\d+) *(?:\r|$)/.exec(lower)
        if (status === 204 || status === 304) framing = { kind: 'none' }
        else if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) framing = { kind: 'chunked' }
        else if (length !== null) framing = { kind: 'length', remaining: Number(length[1]) }
        else {
          framing = { kind: 'close' }
          keep = false
        }
      }
      switch (framing.kind) {
        case 'none':
          return true
        case 'close':
          // Complete when the collector closes (the close handler settles it).
          text = ''
          return false
        case 'length': {
          const taken = Math.min(framing.remaining, text.length)
          framing.remaining -= taken
          text = text.slice(taken)
          return framing.remaining === 0
        }
        case 'chunked': {
          const line = text.indexOf('\r\n')
          if (line === -1) return false
          const size = parseInt(text.slice(0, line), 16)
          if (!Number.isFinite(size) || size < 0) throw new PostError('malformed_head')
          if (size === 0) {
            // Trailers, if any, end with an empty line.
            const rest = text.slice(line + 2)
            if (rest.startsWith('\r\n')) return true
            if (rest.includes(HEAD_END)) return true
            return false
          }
          if (text.length < line + 2 + size + 2) return false
          text = text.slice(line + 2 + size + 2)
          continue
        }
      }
    }
  }

  const connect = (): Promise<Socket> =>
    Bun.connect({
      hostname,
      port,
      socket: {
        // A connection given up (a timeout, a close after its answer) may still call back: only the open one counts.
        data(s, bytes) {
          if (s !== socket || current === undefined) return
          answered = true
          text += bytes.toString('latin1')
          let whole: boolean
          try {
            whole = read()
          } catch (err) {
            return drop(err as Error)
          }
          if (!whole) return
          if (!keep) {
            socket = undefined
            s.end()
          }
          settle(undefined)
        },
        drain(s) {
          if (unsent === undefined) return
          const written = s.write(unsent)
          unsent = written < unsent.byteLength ? unsent.subarray(written) : undefined
        },
        close(s) {
          if (s !== socket) return
          socket = undefined
          // An answer framed by the close is whole now; any other was cut.
          if (current !== undefined) {
            if (framing?.kind === 'close') settle(undefined)
            else settle(new PostError('reset'))
          }
        },
        error(s, err) {
          if (s !== socket) return
          socket = undefined
          if (current !== undefined) settle(err)
        },
      },
    })

  /** One exchange on the open connection, or a new one. */
  const exchange = async (message: Uint8Array): Promise<number> => {
    if (socket === undefined) {
      connecting ??= connect().finally(() => (connecting = undefined))
      socket = await connecting
    }
    const open = socket
    answered = false
    const answer = new Promise<number>((resolve, reject) => (current = { resolve, reject }))
    const timer = setTimeout(() => drop(new PostError('timeout')), timeoutMs)
    const written = open.write(message)
    if (written < 0) drop(new PostError('reset'))
    else if (written < message.byteLength) unsent = message.subarray(written)
    try {
      return await answer
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    async post(body) {
      // The body is a view of the encoder's buffer: copied into the message now, before any await.
      const head = `${headPrefix}content-length: ${body.byteLength}\r\n\r\n`
      const message = new Uint8Array(head.length + body.byteLength)
      for (let i = 0; i < head.length; i++) message[i] = head.charCodeAt(i)
      message.set(body, head.length)
      const reused = socket !== undefined
      try {
        return await exchange(message)
      } catch (err) {
        // A kept connection the collector closed while it sat idle (the keep-alive race): once
        // more on a new one, as long as no byte of an answer came.
        if (!reused || answered || !(err instanceof PostError) || err.code !== 'reset') throw err
        return exchange(message)
      }
    },
    close() {
      socket?.end()
      socket = undefined
    },
  }
}
