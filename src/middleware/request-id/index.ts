/**
 * Gives every request an id, sent upstream and returned to the client as X-Request-Id.
 * Unlike hono/request-id, a client-sent id is believed only from a trusted proxy: ids end
 * up in logs, and an untrusted client must not be able to choose or forge them.
 */
import type { MiddlewareHandler } from 'hono'
import type { GatewayEnv } from '../../types.ts'

const HEADER = 'x-request-id'
/** What a forwarded id may look like: short, and safe in logs and JSON without escaping. */
const VALID_ID = /^[A-Za-z0-9._:=-]{1,128}$/

/**
 * @example app.use('*', requestId())
 */
export function requestId(generate: () => string = () => crypto.randomUUID()): MiddlewareHandler<GatewayEnv> {
  return async function requestId(c, next) {
    let id: string | undefined
    if (c.var.peer.trusted) {
      const incoming = c.req.raw.headers.get(HEADER)
      if (incoming !== null && VALID_ID.test(incoming)) id = incoming
    }
    id ??= generate()
    c.set('requestId', id)
    await next()
    c.res.headers.set(HEADER, id)
  }
}
