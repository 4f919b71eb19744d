/**
 * Request ids, sent upstream and returned to the client as X-Request-Id. Unlike
 * hono/request-id, a client-sent id is believed only from a trusted proxy: ids end up in
 * logs, and an untrusted client must not be able to choose or forge them.
 */

export const REQUEST_ID_HEADER = 'x-request-id'
/** What a forwarded id may look like: short, and safe in logs and JSON without escaping. */
const VALID_ID = /^[A-Za-z0-9._:=-]{1,128}$/

/** The id for this request: the trusted proxy's if it sent a valid one, else a new UUID. */
export function requestIdFor(headers: Headers, peerTrusted: boolean, generate: () => string): string {
  if (peerTrusted) {
    const incoming = headers.get(REQUEST_ID_HEADER)
    if (incoming !== null && VALID_ID.test(incoming)) return incoming
  }
  return generate()
}
