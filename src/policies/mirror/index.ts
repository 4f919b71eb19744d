/**
 * `routes[].mirror`: a share of a route's requests copied to another upstream (Envoy's
 * request_mirror_policies, Traefik's mirroring), to try a new version on live traffic. The
 * copy is sent once the client's answer is settled, off its path: its answer is read and
 * dropped, never cached, and its failures or slowness never reach the client. It carries the
 * same forwarding headers plus `X-Mirrored: 1`, and outlives the client like a background
 * revalidation (the mirror upstream's own timeoutMs bounds it).
 *
 * Bounded both ways: bodies up to `maxBodyBytes` (of a known Content-Length; the copy is
 * held in memory) and `maxInFlight` copies per route and worker; past either the request is
 * not mirrored and `gateway_mirror_requests_total{outcome}` says why. Before the cache, so
 * cache hits are mirrored too: the shadow upstream sees the route's real traffic.
 */
import type { Exchange } from '../../kernel/exchange.ts'
import { isWebSocketUpgrade } from '../../kernel/forwarding.ts'
import { defineBuiltin } from '../builtin.ts'
import type { Fields } from '../../kernel/fields.ts'

/** What came of a request chosen for mirroring (the label of gateway_mirror_requests_total). */
export type MirrorOutcome = 'sent' | 'failed' | 'skipped_body' | 'skipped_busy'

declare module '../../kernel/policy.ts' {
  interface BuiltinMetrics {
    /** A request chosen for mirroring, and what came of its copy. */
    mirrored?(outcome: MirrorOutcome): void
  }
}

const ignore = () => {}
const markMirrored = (headers: Fields) => headers.set('x-mirrored', '1')

export const mirrorPolicy = defineBuiltin({
  name: 'mirror',
  phase: 'beforeCache',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).mirrorSchema.optional(),
  check(mirror, { settings }) {
    if (!mirror || Object.hasOwn(settings.upstreams, mirror.upstream)) return []
    return [`upstream: no upstream named "${mirror.upstream}"`]
  },
  build(mirror, context) {
    if (!mirror || mirror.percent === 0 || !context.forwarderTo) return undefined
    const forward = context.forwarderTo(mirror.upstream)
    const { percent, maxBodyBytes, maxInFlight } = mirror
    const count = context.metrics.mirrored ?? ignore
    let inFlight = 0

    async function sendCopy(exchange: Exchange, body: Promise<ArrayBuffer> | undefined) {
      try {
        const raw = exchange.raw
        const copy = body ? new Request(raw.url, { method: raw.method, headers: raw.headers, body: await body }) : raw
        const fork = exchange.fork(copy)
        fork.background = true
        fork.trace = undefined
        fork.adjustUpstreamHeaders = markMirrored
        const response = await forward(fork)
        // Nobody reads it: cancelling frees the mirror's connection.
        response.body?.cancel().catch(ignore)
        count(fork.upstreamStatus === undefined ? 'failed' : 'sent')
      } catch {
        count('failed')
      } finally {
        inFlight--
      }
    }

    return function mirror(exchange, next) {
      if (percent < 100 && Math.random() * 100 >= percent) return next(exchange)
      const raw = exchange.raw
      if (isWebSocketUpgrade(raw.method, exchange.requestFields)) return next(exchange)
      if (inFlight >= maxInFlight) {
        count('skipped_busy')
        return next(exchange)
      }
      let body: Promise<ArrayBuffer> | undefined
      const method = raw.method
      if (method !== 'GET' && method !== 'HEAD' && raw.body !== null) {
        const length = raw.headers.get('content-length')
        if (length === null || Number(length) > maxBodyBytes) {
          count('skipped_body')
          return next(exchange)
        }
        // A tee of the body, read from now on as the forwarder reads its own branch.
        body = raw.clone().arrayBuffer()
        body.catch(ignore)
      }
      inFlight++
      const answer = next(exchange)
      // The copy leaves once the client's answer is settled: never ahead of it, never in its way.
      const send = () => void sendCopy(exchange, body)
      if (answer instanceof Promise) answer.then(send, send)
      else send()
      return answer
    }
  },
})
