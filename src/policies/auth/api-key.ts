/**
 * API-key authentication (Kong's key-auth): the key comes from a header (`x-api-key` by
 * default) or a query parameter, is hashed with SHA-256 and looked up among the consumers'
 * key digests, built once at boot. The lookup is keyed by the digest, never by the key, so
 * its timing says nothing usable about any key (finding a key from a digest prefix is a
 * SHA-256 preimage). A missing and an unknown key get the same 401. The credential is taken
 * out of the request before forwarding unless `forwardCredential`; the consumer's name goes
 * upstream in the route's consumer header.
 */
import { keyDigest } from '../../files/secrets.ts'
import { GatewayError, refusal } from '../../kernel/errors.ts'
import type { Exchange } from '../../kernel/exchange.ts'
import type { Stage } from '../../kernel/stage.ts'
import type { ApiKeyConfig, ConsumerConfig } from './schema.ts'

export type AuthFailure = 'missing' | 'unknown'

/** Digest → consumer name, for every key of every consumer (digests are resolved by the config loader). */
export function consumerIndex(consumers: readonly ConsumerConfig[]): ReadonlyMap<string, string> {
  const index = new Map<string, string>()
  for (const consumer of consumers) for (const digest of consumer.apiKeys) index.set(digest, consumer.name)
  return index
}

/** The query parameters any route reads an API key from: the access log redacts them on every status. */
export function credentialQueryNames(routes: readonly { auth?: { apiKey?: { query?: string | undefined } | undefined } | undefined }[]): Set<string> {
  return new Set(routes.flatMap((route) => (route.auth?.apiKey?.query !== undefined ? [route.auth.apiKey.query] : [])))
}

export function apiKeyAuth(
  options: ApiKeyConfig,
  consumerHeader: string,
  consumers: ReadonlyMap<string, string>,
  onFailure?: (reason: AuthFailure, exchange: Exchange) => void
): Stage {
  const query = options.query
  const header = query === undefined ? (options.header ?? 'x-api-key') : undefined
  // RFC 9110 §11.6.1 asks a 401 to carry a challenge; API keys have no registered scheme, so
  // this names the field or parameter, as Kong's key-auth does with its realm.
  const challenge = { 'www-authenticate': `ApiKey realm="gateway", ${header ? `header="${header}"` : `query="${query}"`}` }
  const unauthorized = new GatewayError('unauthorized', { headers: challenge })
  const refuse = (reason: AuthFailure, exchange: Exchange) => {
    onFailure?.(reason, exchange)
    return refusal(exchange.requestId, unauthorized)
  }
  const strip = !options.forwardCredential
  return function apiKeyAuth(exchange, next) {
    const key = header ? exchange.raw.headers.get(header) : queryValue(exchange.query, query!)
    if (!key) return refuse('missing', exchange)
    const consumer = consumers.get(keyDigest(key))
    if (consumer === undefined) return refuse('unknown', exchange)
    exchange.identity = { consumer, header: consumerHeader, credentialField: strip ? header : undefined }
    if (strip && query !== undefined) exchange.query = withoutParam(exchange.query, query)
    return next(exchange)
  }
}

/** The first value of parameter `name` in `query` ("?a=1&b=2"), percent-decoded; null when absent or undecodable. */
function queryValue(query: string, name: string): string | null {
  if (query.length < 2) return null
  for (const part of query.slice(1).split('&')) {
    if (paramName(part) !== name) continue
    const eq = part.indexOf('=')
    // `?api_key` without a value carries no key.
    if (eq === -1) return null
    try {
      return decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '))
    } catch {
      return null
    }
  }
  return null
}

/** `query` without any `name` parameter ("" when nothing is left). */
function withoutParam(query: string, name: string): string {
  const kept = query
    .slice(1)
    .split('&')
    .filter((part) => paramName(part) !== name)
  return kept.length === 0 ? '' : `?${kept.join('&')}`
}

/** The name of one `name=value` part of a query. */
function paramName(part: string): string {
  const eq = part.indexOf('=')
  return eq === -1 ? part : part.slice(0, eq)
}
