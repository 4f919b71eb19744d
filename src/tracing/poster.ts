/**
 * OTLP/HTTP exports to an http:// collector on one keep-alive connection of the worker's own
 * (Bun.connect), written and read on the main thread. Bun's fetch hands each export to its
 * HTTP client thread and back: measured in the whole gateway, that costs ~2 µs per sampled
 * request more than this (bench:overhead --in-process, docs/monitoring.md). One export is in
 * flight at a time (exporter.ts), so one connection is all it needs; it is opened again after
 * the collector closes it. https:// collectors keep using fetch.
 *
 * The answer is read by the native client's parser (upstream/native/parser.ts): its status,
 * and its end by Content-Length, chunked framing or the close, so the connection can be kept
 * when the collector allows it. A malformed answer closes the connection.
 */
import { ResponseParser, type ParserEvents } from '../upstream/native/parser.ts'

export interface Poster {
  /**
   * POSTs `body`; the answer's status, or rejects (`code` names a network error). One at a
   * time. `body` is written as it is, not copied: it must stay unchanged until this settles.
   */
  post(body: Uint8Array): Promise<number>
  close(): void
}

/** A failure of the poster's own: the deadline passed, or the connection refused the write. */
class PostError extends Error {
  constructor(readonly code: string) {
    super(code)
  }
}

type Socket = Awaited<ReturnType<typeof Bun.connect>>

/** Longest answer head read (a collector's is a few lines). */
const MAX_HEAD = 16 * 1024

export function createPoster(endpoint: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Poster {
  const url = new URL(endpoint)
  const hostname = url.hostname.replace(/^\[|\]$/g, '')
  const port = Number(url.port || 80)
  let fields = ''
  for (const [name, value] of Object.entries({ ...headers, host: url.host })) fields += `${name}: ${value}\r\n`
  const headPrefix = `POST ${url.pathname}${url.search} HTTP/1.1\r\n${fields}`

  let socket: Socket | undefined
  /** The export waiting for its answer. */
  let current: { resolve(status: number): void; reject(err: Error): void } | undefined
  /** What the kernel did not take yet: the rest of the head, then the body (Bun's socket keeps no copy). */
  let unsent: Uint8Array[] = []
  const parser = new ResponseParser()
  let status = 0
  /** Whether the connection may carry the next export (the parser's verdict at the answer's end). */
  let keep = true
  const events: ParserEvents = {
    head(head) {
      status = head.status
    },
    body() {},
    end(mustClose) {
      keep = !mustClose
    },
  }

  const settle = (err: Error | undefined) => {
    const waiting = current
    current = undefined
    unsent = []
    if (err) waiting?.reject(err)
    else waiting?.resolve(status)
  }
  const drop = (err: Error) => {
    const old = socket
    socket = undefined
    settle(err)
    old?.end()
  }

  const connect = (): Promise<Socket> =>
    Bun.connect({
      hostname,
      port,
      socket: {
        // A connection given up (a timeout, a close after its answer) may still call back: only the open one counts.
        data(s, bytes) {
          if (s !== socket || current === undefined) return
          try {
            parser.feed(bytes)
          } catch (err) {
            return drop(err as Error)
          }
          if (!parser.done) return
          if (!keep) {
            socket = undefined
            s.end()
          }
          settle(undefined)
        },
        drain(s) {
          if (writeOut(s) < 0) drop(new PostError('reset'))
        },
        close(s) {
          if (s !== socket) return
          socket = undefined
          if (current === undefined) return
          // An answer framed by the close is whole now; any other was cut (reset, length_mismatch).
          try {
            parser.close()
          } catch (err) {
            return settle(err as Error)
          }
          settle(undefined)
        },
        error(s, err) {
          if (s !== socket) return
          socket = undefined
          if (current !== undefined) settle(err)
        },
      },
    })

  /** Writes what is unsent until the kernel takes no more; -1 if the connection refused the write. */
  const writeOut = (s: Socket): number => {
    while (unsent.length > 0) {
      const chunk = unsent[0]!
      const written = s.write(chunk)
      if (written < 0) return -1
      if (written < chunk.byteLength) {
        unsent[0] = chunk.subarray(written)
        return 0
      }
      unsent.shift()
    }
    return 0
  }

  /** One exchange on the open connection, or a new one. */
  const exchange = async (head: Uint8Array, body: Uint8Array): Promise<number> => {
    socket ??= await connect()
    const open = socket
    parser.reset(events, MAX_HEAD, 'POST')
    const answer = new Promise<number>((resolve, reject) => (current = { resolve, reject }))
    const timer = setTimeout(() => drop(new PostError('timeout')), timeoutMs)
    // The head and the body as two writes: a batch is ~170 KB, and copying it behind the head
    // into a new array doubled a post's CPU (~65 → ~130 µs, ~0.25 µs a sampled request).
    unsent = [head, body]
    if (writeOut(open) < 0) drop(new PostError('reset'))
    try {
      return await answer
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    async post(body) {
      const head = Buffer.from(`${headPrefix}content-length: ${body.byteLength}\r\n\r\n`, 'latin1')
      const reused = socket !== undefined
      try {
        return await exchange(head, body)
      } catch (err) {
        // A kept connection the collector closed while it sat idle (the keep-alive race): once
        // more on a new one, as long as no byte of an answer came.
        if (!reused || parser.started || (err as { code?: unknown }).code !== 'reset') throw err
        return exchange(head, body)
      }
    },
    close() {
      socket?.end()
      socket = undefined
    },
  }
}
