/**
 * WebSocket proxying for a route (docs/proxying.md, "WebSocket"): the upstream is connected
 * first, with the forwarded headers (X-Forwarded-*, the request id, the route's auth and
 * header rules, Cookie); only then is the client upgraded, answering with the subprotocol
 * the upstream chose (Bun's server would otherwise echo the first one offered,
 * oven-sh/bun#18243). A refusal is relayed as the upstream's own response. A handshake the
 * gateway could not complete itself (no valid key or version) is refused before any of that.
 */
import { GatewayError, overloaded } from '../../kernel/errors.ts'
import type { Exchange } from '../../kernel/exchange.ts'
import { toGatewayError } from '../errors.ts'
import type { BridgeObserver } from './bridge.ts'
import { connectUpstream } from './connect.ts'
import type { WebSocketSlots } from './slots.ts'
import type { Fields } from '../../kernel/fields.ts'

/** The worker's sockets, limits and observer, shared by every route. */
export interface WebSockets {
  /** Open sockets and handshakes under way, within maxConnectionsPerWorker. */
  readonly slots: WebSocketSlots
  readonly maxPayloadBytes: number
  readonly observer?: BridgeObserver
}

/** RFC 6455 §4.1: the key is 16 random bytes in base64, so 22 characters and "==" (the ws package's check). */
const KEY_SHAPE = /^[A-Za-z0-9+/]{22}==$/
/** RFC 6455 §4.4: a refused version is answered with the one the server speaks. */
const VERSION_SPOKEN = { 'sec-websocket-version': '13' }

/** The client's half of the handshake is one the gateway can answer (RFC 6455 §4.2.1, items 5 and 6). */
function isValidHandshake(headers: Headers): boolean {
  const key = headers.get('sec-websocket-key')
  return key !== null && KEY_SHAPE.test(key) && headers.get('sec-websocket-version') === '13'
}

export interface UpgradeOptions {
  base: string
  path: string
  headers: Fields
  timeoutMs: number
  maxHeaderBytes: number
  tls?: { ca?: string; serverName?: string; rejectUnauthorized: boolean }
}

/** Upgrades `exchange` through the upstream; resolves with the placeholder 101 or the upstream's refusal. */
export async function proxyWebSocket(exchange: Exchange, sockets: WebSockets, options: UpgradeOptions): Promise<Response> {
  const upgrade = exchange.server?.upgrade
  if (!upgrade) throw new GatewayError('bad_request')
  // Checked here, not by Bun's upgrade(): that one runs only after the upstream handshake.
  if (!isValidHandshake(exchange.raw.headers)) throw new GatewayError('bad_request', { headers: VERSION_SPOKEN })
  const { slots } = sockets
  if (!slots.reserve()) throw overloaded()
  const offered = exchange.raw.headers.get('sec-websocket-protocol')
  const protocols = offered ? offered.split(',').map((p) => p.trim()).filter(Boolean) : []
  let result: Awaited<ReturnType<typeof connectUpstream>>
  try {
    result = await connectUpstream({ ...options, protocols, maxPayloadBytes: sockets.maxPayloadBytes, observer: sockets.observer })
  } catch (err) {
    slots.cancel()
    throw toGatewayError(err, { timedOut: false, clientGone: exchange.raw.signal.aborted })
  }
  if (!result.open) {
    slots.cancel()
    return result.response
  }
  const { bridge, protocol } = result
  // Registered first: an upstream that already closed makes Bun run open and close inside upgrade().
  slots.register(bridge)
  let upgraded = false
  try {
    upgraded = upgrade.call(exchange.server, exchange.raw, { data: bridge, headers: protocol ? { 'sec-websocket-protocol': protocol } : {} })
  } finally {
    // Not upgraded: the client left while the upstream answered (its fields were checked above).
    if (!upgraded) bridge.abandon()
  }
  if (!upgraded) throw new GatewayError(exchange.raw.signal.aborted ? 'client_closed' : 'bad_request')
  // Bun ignores what the handler returns once upgraded; this one is for metrics and the access log.
  return new Response(null, { status: 101 })
}
