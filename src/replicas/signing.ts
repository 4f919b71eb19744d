/**
 * Authentication of the replica bus: every message carries an HMAC-SHA256 (RFC 2104) made
 * with the replicas' shared `redis.busSecret`. On the wire a message is
 * `v1 <64 hex digits of MAC> <JSON body>`. The MAC covers the channel name and the body, and
 * the body carries the sender's clock (`ts`, ms since the epoch). So a message is refused on
 * another channel (another keyPrefix), and once it is older than MAX_AGE_MS. Within that
 * window a captured message can be replayed; it only repeats a purge or an invalidation.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** How old (or how far ahead, for clock skew) a message may be: the replay bound. */
export const MAX_AGE_MS = 60_000

/** Why a message was dropped: no MAC, a wrong MAC, signed but too old, signed but unusable. */
export const REJECTIONS = ['unsigned', 'bad_signature', 'stale', 'malformed'] as const
export type Rejection = (typeof REJECTIONS)[number]

export interface MessageSigner {
  /** The wire text of `payload`, stamped with `now` and signed. */
  sign(payload: Record<string, unknown>, now?: number): string
  /** The payload of a message that verifies and is recent, or why it was refused. */
  verify(text: string, now?: number): { payload: Record<string, unknown> } | { rejected: Rejection }
}

const VERSION = 'v1 '
const MAC_HEX = 64
const HEX = /^[0-9a-f]{64}$/

export function createMessageSigner(secret: string, channel: string, maxAgeMs = MAX_AGE_MS): MessageSigner {
  const key = Buffer.from(secret, 'utf8')
  // The channel first: the body is JSON, which holds no raw newline, so the split is unambiguous.
  const mac = (body: string) => createHmac('sha256', key).update(channel).update('\n').update(body).digest()
  return {
    sign(payload, now = Date.now()) {
      const body = JSON.stringify({ ...payload, ts: now })
      return `${VERSION}${mac(body).toString('hex')} ${body}`
    },
    verify(text, now = Date.now()) {
      if (!text.startsWith(VERSION) || text[VERSION.length + MAC_HEX] !== ' ') return { rejected: 'unsigned' }
      const given = text.slice(VERSION.length, VERSION.length + MAC_HEX)
      if (!HEX.test(given)) return { rejected: 'bad_signature' }
      const body = text.slice(VERSION.length + MAC_HEX + 1)
      // Equal lengths (32 bytes each), compared in constant time.
      if (!timingSafeEqual(mac(body), Buffer.from(given, 'hex'))) return { rejected: 'bad_signature' }
      let payload: unknown
      try {
        payload = JSON.parse(body)
      } catch {
        return { rejected: 'malformed' }
      }
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return { rejected: 'malformed' }
      const { ts } = payload as Record<string, unknown>
      if (typeof ts !== 'number' || !Number.isFinite(ts)) return { rejected: 'malformed' }
      if (Math.abs(now - ts) > maxAgeMs) return { rejected: 'stale' }
      return { payload: payload as Record<string, unknown> }
    },
  }
}
