/**
 * `compression` (top level: the defaults) and `routes[].compression`: answers compressed with
 * zstd, br or gzip as the client's Accept-Encoding and the route's `encodings` agree.
 *
 * Inside the cache (phase afterCache, between the cache and the forwarder), so the cache
 * stores what this stage produced: a stored entry is compressed once per coding, when it is
 * fetched, and hits send the stored bytes. The route's forwarder sends upstream the coding
 * negotiated here in place of the client's Accept-Encoding (`upstreamAcceptEncoding`), and
 * the cache keys variants on what the upstream is sent, so `gzip, deflate, br` and `br, gzip`
 * are one variant, and an upstream that encodes itself encodes as the key says.
 *
 * Never compressed: HEAD, 1xx, 204, 206, 304; a body already encoded (Content-Encoding), a
 * range (Content-Range), `Cache-Control: no-transform` (RFC 9110 §7.7), a type not listed, a
 * body of known length under minBytes, the gateway's own error answers.
 */
import { refuse, refusalOf } from '../../kernel/errors.ts'
import type { Exchange } from '../../kernel/exchange.ts'
import { sentHeaderValue } from '../../kernel/forwarding.ts'
import { defineBuiltin } from '../builtin.ts'
import { compressedStream, compressWhole, streamEncoder } from './encoders.ts'
import { mediaTypeMatcher } from './media-types.ts'
import { negotiator, type Negotiated } from './negotiate.ts'
import { resolveCompression } from './resolve.ts'
import type { Coding, CompressionConfig, RouteCompressionConfig } from './schema.ts'

declare module '../../kernel/policy.ts' {
  interface BuiltinMetrics {
    /** An answer compressed with `encoding`; `savedBytes` is what it saved (0 when a stream was cut short). */
    compressed?(encoding: Coding, savedBytes: number): void
  }
}

/**
 * Bodies of known length up to this are compressed in one call (the forwarder has read them
 * whole already: its bufferResponseBytes, 64 KiB by default); longer ones as they stream.
 */
const WHOLE_BYTES = 64 * 1024

const NO_TRANSFORM = /(?:^|,)\s*no-transform\s*(?:,|$)/i
/** Vary already covers Accept-Encoding (by name, or by `*`). */
export const VARIES_ON_CODING = /(?:^|,)\s*(?:accept-encoding|\*)\s*(?:,|$)/i

/** Adds Accept-Encoding to Vary, keeping what is there. */
export function varyOnAcceptEncoding(headers: Headers): void {
  const vary = headers.get('vary')
  if (vary === null || vary.trim() === '') headers.set('vary', 'Accept-Encoding')
  else if (!VARIES_ON_CODING.test(vary)) headers.set('vary', `${vary}, Accept-Encoding`)
}

/** A strong ETag made weak (RFC 9110 §8.8.3: the encoded bytes are not the upstream's bytes). */
export function weakened(etag: string): string {
  return etag.startsWith('W/') ? etag : `W/${etag}`
}

/**
 * The Accept-Encoding a route's forwarder sends upstream in place of the client's: the one
 * coding negotiated (`identity` when none), or undefined when the route does not compress.
 */
export function upstreamAcceptEncoding(
  defaults: CompressionConfig,
  route: RouteCompressionConfig | undefined
): ((received: string | null) => string) | undefined {
  const config = resolveCompression(defaults, route)
  return config && negotiator(config.encodings)
}

export const compressionPolicy = defineBuiltin({
  name: 'compression',
  phase: 'afterCache',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).routeCompressionSchema.optional(),
  build(routeConfig, context) {
    // The gateway's own routes (health, unmatched) answer small JSON and forward nothing.
    if (context.route.config === undefined) return undefined
    const config = resolveCompression(context.settings.compression, routeConfig)
    if (!config) return undefined
    const negotiated = negotiator(config.encodings)
    const compressible = mediaTypeMatcher(config.types)
    const { minBytes, levels } = config
    const counted = context.metrics.compressed ?? (() => {})

    /** Marks `headers` as those of a body encoded with `coding`. */
    const markEncoded = (headers: Headers, coding: Coding) => {
      headers.set('content-encoding', coding)
      const etag = headers.get('etag')
      if (etag !== null) headers.set('etag', weakened(etag))
      // Ranges of the encoded bytes are not offered (nginx's gzip does the same).
      headers.delete('accept-ranges')
    }

    async function compressBuffered(
      response: Response,
      coding: Coding,
      exchange: Exchange
    ): Promise<Response> {
      let body: Uint8Array<ArrayBuffer>
      try {
        body = (await response.bytes()) as Uint8Array<ArrayBuffer>
      } catch {
        // Cut short (counted by the forwarder): never sent as a short body.
        return refuse(exchange.requestId, 'bad_gateway')
      }
      const { status, statusText, headers } = response
      const encoded = compressWhole(coding, body, levels)
      // The type promised text but the bytes did not compress: sent as they are.
      if (encoded.byteLength >= body.byteLength)
        return new Response(body, { status, statusText, headers })
      markEncoded(headers, coding)
      headers.set('content-length', String(encoded.byteLength))
      counted(coding, body.byteLength - encoded.byteLength)
      return new Response(encoded, { status, statusText, headers })
    }

    function compressStreamed(response: Response, coding: Coding, exchange: Exchange): Response {
      const { status, statusText, headers } = response
      markEncoded(headers, coding)
      headers.delete('content-length')
      // The access log waits for a streamed body's bytes (Exchange.afterRelay): those sent, not the upstream's.
      exchange.relaying = true
      exchange.relayEncoded = true
      const body = compressedStream(response.body!, streamEncoder(coding, levels), {
        onEnd(bytesIn, bytesOut, complete) {
          counted(coding, complete ? bytesIn - bytesOut : 0)
          exchange.responseBytes = bytesOut
          exchange.relaying = false
          exchange.afterRelay?.()
        },
      })
      return new Response(body, { status, statusText, headers })
    }

    /**
     * A 304 for a client whose copy came compressed (its If-None-Match holds the weak form of
     * the upstream's strong tag): the weak tag and Vary it was sent with (RFC 9110 §15.4.5).
     */
    function notModified(response: Response, exchange: Exchange): Response {
      const headers = response.headers
      const etag = headers.get('etag')
      if (etag === null || etag.startsWith('W/')) return response
      const held = exchange.raw.headers.get('if-none-match')
      if (held !== null && held.includes(`W/${etag}`)) {
        headers.set('etag', `W/${etag}`)
        varyOnAcceptEncoding(headers)
      }
      return response
    }

    function encode(
      response: Response,
      coding: Negotiated,
      exchange: Exchange
    ): Response | Promise<Response> {
      const status = response.status
      if (status === 304) return coding === 'identity' ? response : notModified(response, exchange)
      if (status < 200 || status === 204 || status === 206 || response.body === null)
        return response
      const headers = response.headers
      if (
        headers.has('content-encoding') ||
        headers.has('content-range') ||
        !compressible(headers.get('content-type'))
      )
        return response
      const cacheControl = headers.get('cache-control')
      if (cacheControl !== null && NO_TRANSFORM.test(cacheControl)) return response
      if (refusalOf(response)) return response
      const declared = headers.get('content-length')
      const length = declared === null ? undefined : Number(declared)
      if (length !== undefined && length < minBytes) return response
      // Whatever this client gets, another Accept-Encoding gets another body.
      varyOnAcceptEncoding(headers)
      if (coding === 'identity') return response
      if (length !== undefined && length <= WHOLE_BYTES)
        return compressBuffered(response, coding, exchange)
      return compressStreamed(response, coding, exchange)
    }

    return function compression(exchange, next) {
      if (exchange.raw.method === 'HEAD') return next(exchange)
      // What the upstream is sent, which the cache keys on: the coding this answer must have.
      const coding = negotiated(
        sentHeaderValue(exchange.requestFields, 'accept-encoding', context.forwarding(exchange))
      )
      const answer = next(exchange)
      return answer instanceof Promise
        ? answer.then((response) => encode(response, coding, exchange))
        : encode(answer, coding, exchange)
    }
  },
})
