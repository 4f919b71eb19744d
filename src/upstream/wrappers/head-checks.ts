/**
 * Refuses a response head no byte of which may reach the client, and strips the rest for
 * it (upstream/headers.ts). Bun's fetch accepts heads a proxy must refuse (status 999,
 * Content-Length with Transfer-Encoding, a 300 KB header block): RFC 9112 §6.3.
 */
import { clientResponseHeaders } from '../../kernel/forwarding.ts'
import { UpstreamError } from '../errors.ts'
import type { ClientWrapper } from '../types.ts'

const ignore = () => {}

export function withHeadChecks(limits: { maxResponseHeaderBytes: number }): ClientWrapper {
  return (next) => ({
    async send(request) {
      const response = await next.send(request)
      const headers = clientResponseHeaders(response.status, response.headers, limits.maxResponseHeaderBytes)
      if (typeof headers === 'string') {
        // Bytes left on a connection after a malformed head could be read as the next
        // response: drop the idle pool rather than risk a desync.
        response.body?.cancel().catch(ignore)
        next.closeIdle()
        throw new UpstreamError('malformed_head')
      }
      return response
    },
    closeIdle: () => next.closeIdle(),
  })
}
