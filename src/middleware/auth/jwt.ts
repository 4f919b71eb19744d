/**
 * Bearer JWT authentication with jose (RFC 7519, RFC 8725's advice): an algorithm allowlist
 * (never `none`; HS* only with a secret and the others only with public keys, so a token
 * cannot pick HMAC over a public key), exp and nbf with a clock skew, iss and aud when
 * configured, a size cap before any parsing, and `sub` as the consumer. A verified token is
 * remembered until it expires, so a hot token costs a map lookup; keys come from a secret,
 * a PEM file, a JWKS file, or a JWKS URL fetched at start and refreshed in the background,
 * never on the request path (an unknown `kid` is refused, not fetched).
 */
import { readFileSync } from 'node:fs'
import { createLocalJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTVerifyGetKey, type JWTPayload } from 'jose'
import { LRUCache } from 'lru-cache'
import type { RouteAuthConfig } from '../../config/schema.ts'
import { GatewayError } from '../../errors.ts'
import type { Middleware } from '../../pipeline/exchange.ts'

type JwtConfig = NonNullable<RouteAuthConfig['jwt']>

export type JwtFailure = 'missing' | 'invalid' | 'expired'

/** A consumer name goes upstream in a header: printable ASCII without separators' trouble. */
const SUBJECT = /^[\x21-\x7e]{1,256}$/
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i
/** Verified tokens remembered per worker; beyond it the least recently used are verified again. */
const REMEMBERED_TOKENS = 10_000

interface Verified {
  consumer: string
  /** ms since the epoch, from exp; Infinity without one. */
  expiresAt: number
  notBefore: number
}

/** Where keys come from: a function jose asks for the key of each token's header. */
interface KeySource {
  key: JWTVerifyGetKey | Uint8Array
}

function keySource(config: JwtConfig, log?: (event: string, fields: Record<string, unknown>) => void): KeySource {
  if (config.secret !== undefined) return { key: new TextEncoder().encode(config.secret) }
  if (config.publicKeyFile !== undefined) {
    const pem = readFileSync(config.publicKeyFile, 'utf8')
    const imported = new Map(config.algorithms.map((alg) => [alg, importSPKI(pem, alg)]))
    return { key: async (header) => imported.get(header.alg as JwtConfig['algorithms'][number])! }
  }
  if (config.jwksFile !== undefined) return { key: createLocalJWKSet(JSON.parse(readFileSync(config.jwksFile, 'utf8'))) }
  // jwksUrl: the current set, replaced whole by each successful refresh.
  let current: JWTVerifyGetKey | undefined
  const url = config.jwksUrl!
  const refresh = async () => {
    try {
      const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000) })
      if (!res.ok) throw new Error(`status ${res.status}`)
      current = createLocalJWKSet((await res.json()) as Parameters<typeof createLocalJWKSet>[0])
    } catch (err) {
      // The last good set stays in use.
      log?.('jwks_refresh_failed', { error: err instanceof Error ? err.name : 'unknown' })
    }
  }
  void refresh()
  // Never keeps a worker alive on its own.
  setInterval(refresh, config.jwksRefreshSeconds * 1000).unref?.()
  return {
    key: async (header, token) => {
      if (!current) throw new joseErrors.JWKSNoMatchingKey()
      return current(header, token)
    },
  }
}

export function jwtAuth(
  config: JwtConfig,
  consumerHeader: string,
  options: { onFailure?: (reason: JwtFailure) => void; log?: (event: string, fields: Record<string, unknown>) => void } = {}
): Middleware {
  const source = keySource(config, options.log)
  const now = Date.now
  const skewMs = config.clockSkewSeconds * 1000
  const remembered = new LRUCache<string, Verified>({ max: REMEMBERED_TOKENS })
  const verifyOptions = {
    algorithms: [...config.algorithms],
    issuer: config.issuer as string | string[] | undefined,
    audience: config.audience as string | string[] | undefined,
    clockTolerance: config.clockSkewSeconds,
  }
  const key = source.key
  const verify = (token: string) => (typeof key === 'function' ? jwtVerify(token, key, verifyOptions) : jwtVerify(token, key, verifyOptions))
  const credentialField = config.forwardCredential ? undefined : 'authorization'
  const refuse = (reason: JwtFailure) => {
    options.onFailure?.(reason)
    // RFC 6750 §3: no error code when no credential came, invalid_token otherwise.
    const challenge = reason === 'missing' ? 'Bearer realm="gateway"' : 'Bearer realm="gateway", error="invalid_token"'
    return new GatewayError('unauthorized', { headers: { 'www-authenticate': challenge } })
  }
  const admit = (exchange: Parameters<Middleware>[0], next: Parameters<Middleware>[1], verified: Verified) => {
    exchange.identity = { consumer: verified.consumer, header: consumerHeader, credentialField }
    return next(exchange)
  }

  return (exchange, next) => {
    const header = exchange.raw.headers.get('authorization')
    if (!header) throw refuse('missing')
    if (header.length > config.maxTokenBytes + 7) throw refuse('invalid')
    const token = BEARER.exec(header)?.[1]
    if (!token) throw refuse('invalid')
    const at = now()
    const known = remembered.get(token)
    if (known) {
      if (at > known.expiresAt + skewMs) {
        remembered.delete(token)
        throw refuse('expired')
      }
      if (at + skewMs >= known.notBefore) return admit(exchange, next, known)
    }
    return verify(token).then(
      ({ payload }) => {
        const verified = toVerified(payload)
        if (!verified) throw refuse('invalid')
        remembered.set(token, verified)
        return admit(exchange, next, verified)
      },
      (err) => {
        if (err instanceof GatewayError) throw err
        throw refuse(err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid')
      }
    )
  }
}

function toVerified(payload: JWTPayload): Verified | undefined {
  if (typeof payload.sub !== 'string' || !SUBJECT.test(payload.sub)) return undefined
  return {
    consumer: payload.sub,
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity,
    notBefore: typeof payload.nbf === 'number' ? payload.nbf * 1000 : -Infinity,
  }
}
