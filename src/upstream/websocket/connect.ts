/**
 * The upstream half of a WebSocket upgrade (RFC 6455 §4.1), on a raw socket so that a
 * refusal can be relayed as it is: the gateway sends the client's request with its own
 * key, and reads the answer. A 101 with the right Sec-WebSocket-Accept, `Upgrade: websocket`
 * and a protocol among those offered opens the bridge (bytes after the head are already
 * frames); any other status is read whole and relayed to the client as an ordinary
 * response (a 403 stays a 403).
 */
import type { Socket } from 'bun'
import { classifyFetchError, UpstreamError } from '../errors.ts'
import { clientResponseHeaders } from '../../kernel/forwarding.ts'
import { ResponseParser, type ResponseHead } from '../native/parser.ts'
import { WebSocketBridge, type BridgeObserver } from './bridge.ts'
import type { Fields } from '../../kernel/fields.ts'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const HEAD_END = Buffer.from('\r\n\r\n')
/** What the gateway decides itself on the upstream handshake; the client's values are not copied. */
export const HANDSHAKE_FIELDS: ReadonlySet<string> = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-accept', 'sec-websocket-protocol'])

export interface UpstreamHandshake {
  base: string
  /** Path and query, after the base path. */
  path: string
  /** The forwarded headers (forwarding rules applied, hop-by-hop removed). */
  headers: Fields
  protocols: string[]
  timeoutMs: number
  /** For wss (an https:// target): the upstream's CA, name and whether to verify (verified by default). */
  tls?: { ca?: string; serverName?: string; rejectUnauthorized: boolean }
  maxPayloadBytes: number
  maxHeaderBytes: number
  observer?: BridgeObserver
}

export type HandshakeResult = { open: true; bridge: WebSocketBridge; protocol: string | undefined } | { open: false; response: Response }

interface Pending {
  buffer: Buffer
  settle(socket: Socket<Pending | WebSocketBridge>): void
  fail(err: unknown): void
  closed(): void
}

export function connectUpstream(options: UpstreamHandshake): Promise<HandshakeResult> {
  const url = new URL(options.base)
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')
  const expectedAccept = new Bun.CryptoHasher('sha1').update(key + GUID).digest('base64')
  let head = `GET ${url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '')}${options.path} HTTP/1.1\r\n`
  if (!options.headers.has('host')) head += `host: ${url.host}\r\n`
  for (const [name, value] of options.headers) if (!HANDSHAKE_FIELDS.has(name)) head += `${name}: ${value}\r\n`
  head += `upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ${key}\r\nsec-websocket-version: 13\r\n`
  if (options.protocols.length) head += `sec-websocket-protocol: ${options.protocols.join(', ')}\r\n`
  head += '\r\n'

  return new Promise<HandshakeResult>((resolve, reject) => {
    let done = false
    const timer = setTimeout(() => finish(() => reject(new UpstreamError('headers_timeout'))), options.timeoutMs)
    const finish = (then: () => void) => {
      if (done) return
      done = true
      clearTimeout(timer)
      then()
    }
    let refusal: { parser: ResponseParser; head?: ResponseHead; body: Uint8Array[] } | undefined
    const pending: Pending = {
      buffer: Buffer.alloc(0),
      settle(socket) {
        const end = pending.buffer.indexOf(HEAD_END)
        if (end === -1) {
          if (pending.buffer.byteLength > options.maxHeaderBytes) finish(() => (socket.terminate(), reject(new UpstreamError('malformed_head'))))
          return
        }
        const text = pending.buffer.toString('latin1', 0, end)
        if (!/^HTTP\/1\.1 101[ \r]/.test(text)) return refuse(socket)
        const fields = new Map<string, string>()
        for (const line of text.split('\r\n').slice(1)) {
          const colon = line.indexOf(':')
          if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
        }
        const protocol = fields.get('sec-websocket-protocol')
        const valid =
          fields.get('sec-websocket-accept') === expectedAccept &&
          fields.get('upgrade')?.toLowerCase() === 'websocket' &&
          !fields.has('sec-websocket-extensions') &&
          (protocol === undefined || options.protocols.includes(protocol))
        if (!valid) return finish(() => (socket.terminate(), reject(new UpstreamError('malformed_head'))))
        const bridge = new WebSocketBridge(socket as Socket<WebSocketBridge>, options.maxPayloadBytes, options.observer)
        socket.data = bridge
        const rest = pending.buffer.subarray(end + 4)
        finish(() => resolve({ open: true, bridge, protocol }))
        if (rest.byteLength) bridge.upstreamData(rest)
      },
      fail: (err) => finish(() => reject(err)),
      closed() {
        if (refusal) {
          try {
            refusal.parser.close()
          } catch (err) {
            finish(() => reject(err))
          }
          return
        }
        finish(() => reject(new UpstreamError('reset')))
      },
    }
    /** Not a 101: read the whole answer with the strict parser, then relay it. */
    const refuse = (socket: Socket<Pending | WebSocketBridge>) => {
      const body: Uint8Array[] = []
      const parser = new ResponseParser()
      refusal = { parser, body }
      parser.reset(
        {
          head: (h) => (refusal!.head = h),
          body: (chunk) => body.push(chunk.slice()),
          end: () => {
            socket.end()
            const h = refusal!.head!
            // The same hop-by-hop rules as any relayed answer (headers.ts).
            const headers = clientResponseHeaders(h.status, new Headers(h.fields), options.maxHeaderBytes)
            if (typeof headers === 'string') return finish(() => reject(new UpstreamError('malformed_head')))
            finish(() => resolve({ open: false, response: new Response(h.bodyless ? null : Buffer.concat(body), { status: h.status, headers }) }))
          },
        },
        options.maxHeaderBytes,
        'GET'
      )
      try {
        parser.feed(pending.buffer)
      } catch (err) {
        finish(() => (socket.terminate(), reject(err)))
      }
    }

    Bun.connect<Pending | WebSocketBridge>({
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      tls:
        url.protocol === 'https:'
          ? { serverName: options.tls?.serverName ?? url.hostname, ca: options.tls?.ca, rejectUnauthorized: options.tls?.rejectUnauthorized ?? true }
          : undefined,
      data: pending,
      socket: {
        binaryType: 'buffer',
        open(socket) {
          socket.setNoDelay?.(true)
          socket.write(Buffer.from(head, 'latin1'))
        },
        data(socket, chunk: Buffer) {
          const state = socket.data
          if (state instanceof WebSocketBridge) return state.upstreamData(chunk)
          if (refusal) {
            try {
              refusal.parser.feed(chunk)
            } catch (err) {
              finish(() => (socket.terminate(), reject(err)))
            }
            return
          }
          state.buffer = Buffer.concat([state.buffer, chunk])
          state.settle(socket)
        },
        drain(socket) {
          const state = socket.data
          if (state instanceof WebSocketBridge) state.upstreamDrained()
        },
        close(socket) {
          const state = socket.data
          if (state instanceof WebSocketBridge) state.upstreamGone()
          else state.closed()
        },
        error(socket, err) {
          const state = socket.data
          if (state instanceof WebSocketBridge) state.upstreamGone()
          else state.fail(err)
        },
      },
    }).catch((err) => finish(() => reject(classifyFetchError(err, { timedOut: false, clientGone: false }))))
  })
}
