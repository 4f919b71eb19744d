/**
 * Bearer JWT authentication with jose (RFC 7519, RFC 8725's advice): an algorithm allowlist
 * (never `none`; HS* only with a secret and the others only with public keys, so a token
 * cannot pick HMAC over a public key), exp (required unless `requireExp: false`) and nbf with
 * a clock skew, iss and aud when configured, a size cap before any parsing, and `sub` as the
 * consumer. A verified token is remembered for at most `cacheSeconds` (and never past its
 * exp), so a hot token costs a map lookup; keys come from a secret, a PEM file, a JWKS file,
 * or a JWKS URL fetched at start and refreshed in the background, never on the request path
 * (an unknown `kid` is refused, not fetched). A refresh that drops a key forgets every
 * remembered verification, so a token of a retired key is refused from the next refresh on.
 */
import { readFileSync } from 'node:fs'
import { createLocalJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTVerifyGetKey, type JWTPayload } from 'jose'
import { LRUCache } from 'lru-cache'
import { GatewayError, refusal } from '../../kernel/errors.ts'
import type { Exchange } from '../../kernel/exchange.ts'
import type { Handler, Stage } from '../../kernel/stage.ts'
import type { JwtConfig } from './schema.ts'

export type JwtFailure = 'missing' | 'invalid' | 'expired'

/** A consumer name goes upstream in a header: printable ASCII without separators' trouble. */
const SUBJECT = /^[\x21-\x7e]{1,256}$/
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i
/** Verified tokens remembered per worker; beyond it the least recently used are verified again. */
const REMEMBERED_TOKENS = 10_000

interface Verified {
  consumer: string
  /** ms since the epoch, from exp; Infinity without one (only with requireExp: false). */
  expiresAt: number
  notBefore: number
  /** ms since the epoch past which the verification is not reused (cacheSeconds). */
  reuseUntil: number
}

/** Where keys come from: what jose asks for the key of each token's header. */
export interface KeySource {
  key: JWTVerifyGetKey | Uint8Array
  /** Grows whenever a key leaves the set: verifications made before it are not reused. */
  readonly generation: number
}

type Log = (event: string, fields: Record<string, unknown>) => void

function keySource(config: JwtConfig, log?: Log, onClose?: (fn: () => void) => void): KeySource {
  if (config.secret !== undefined) return { key: new TextEncoder().encode(config.secret), generation: 0 }
  if (config.publicKeyFile !== undefined) {
    const pem = readFileSync(config.publicKeyFile, 'utf8')
    const imported = new Map(config.algorithms.map((alg) => [alg, importSPKI(pem, alg)]))
    return { key: async (header) => imported.get(header.alg as JwtConfig['algorithms'][number])!, generation: 0 }
  }
  if (config.jwksFile !== undefined) return { key: createLocalJWKSet(JSON.parse(readFileSync(config.jwksFile, 'utf8'))), generation: 0 }
  return remoteKeySource(config.jwksUrl!, config.jwksRefreshSeconds, log, onClose)
}

type Jwks = Parameters<typeof createLocalJWKSet>[0]

/** A JWKS URL: the current set, replaced whole by each successful refresh. */
function remoteKeySource(url: string, refreshSeconds: number, log?: Log, onClose?: (fn: () => void) => void): KeySource {
  let current: JWTVerifyGetKey | undefined
  let keys = new Set<string>()
  const source = {
    generation: 0,
    key: async (...args: Parameters<JWTVerifyGetKey>) => {
      if (!current) throw new joseErrors.JWKSNoMatchingKey()
      return current(...args)
    },
  }
  const refresh = async () => {
    try {
      const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000) })
      if (!res.ok) throw new Error(`status ${res.status}`)
      const jwks = (await res.json()) as Jwks
      const next = createLocalJWKSet(jwks)
      const fresh = new Set(jwks.keys.map(fingerprint))
      // A key that left the set revokes what it verified (docs/policies.md); a new key does not.
      for (const known of keys) {
        if (!fresh.has(known)) {
          source.generation++
          break
        }
      }
      keys = fresh
      current = next
    } catch (err) {
      // The last good set stays in use.
      log?.('jwks_refresh_failed', { error: err instanceof Error ? err.name : 'unknown' })
    }
  }
  void refresh()
  // Never keeps a worker alive on its own; stopped when the chain is discarded (a reload).
  const timer = setInterval(refresh, refreshSeconds * 1000)
  timer.unref?.()
  onClose?.(() => clearInterval(timer))
  return source
}

/** One key's identity: its members in a fixed order, so the same key served reordered is the same. */
function fingerprint(jwk: object): string {
  return JSON.stringify(jwk, Object.keys(jwk).sort())
}

export interface JwtAuthOptions {
  /** Told of each refusal (metrics, failure counting). */
  onFailure?: (reason: JwtFailure, exchange: Exchange) => void
  log?: Log
  /** Where the JWKS refresh timer is stopped. */
  onClose?: (fn: () => void) => void
  /** The keys; by default those the config names. */
  keys?: KeySource
  /** ms since the epoch (tests). */
  now?: () => number
}

/** @example jwtAuth(route.auth.jwt, 'x-consumer', { onFailure: (reason) => count(reason) }) */
export function jwtAuth(config: JwtConfig, consumerHeader: string, options: JwtAuthOptions = {}): Stage {
  const source = options.keys ?? keySource(config, options.log, options.onClose)
  const now = options.now ?? Date.now
  const skewMs = config.clockSkewSeconds * 1000
  const cacheMs = config.cacheSeconds * 1000
  const remembered = new LRUCache<string, Verified>({ max: REMEMBERED_TOKENS })
  // The key set's generation the remembered verifications were made under.
  let generation = source.generation
  const verifyOptions = {
    algorithms: [...config.algorithms],
    issuer: config.issuer as string | string[] | undefined,
    audience: config.audience as string | string[] | undefined,
    clockTolerance: config.clockSkewSeconds,
    // RFC 7519 §4.1.4 makes exp optional; a token without one would be good forever.
    requiredClaims: config.requireExp ? ['exp'] : undefined,
  }
  const key = source.key
  const verify = (token: string) => (typeof key === 'function' ? jwtVerify(token, key, verifyOptions) : jwtVerify(token, key, verifyOptions))
  const credentialField = config.forwardCredential ? undefined : 'authorization'
  // RFC 6750 §3: no error code when no credential came, invalid_token otherwise.
  const noCredential = new GatewayError('unauthorized', { headers: { 'www-authenticate': 'Bearer realm="gateway"' } })
  const badCredential = new GatewayError('unauthorized', { headers: { 'www-authenticate': 'Bearer realm="gateway", error="invalid_token"' } })
  const refuse = (reason: JwtFailure, exchange: Exchange) => {
    options.onFailure?.(reason, exchange)
    return refusal(exchange.requestId, reason === 'missing' ? noCredential : badCredential)
  }
  const admit = (exchange: Exchange, next: Handler, verified: Verified) => {
    exchange.identity = { consumer: verified.consumer, header: consumerHeader, credentialField }
    return next(exchange)
  }

  return function jwtAuth(exchange, next) {
    const header = exchange.raw.headers.get('authorization')
    if (!header) return refuse('missing', exchange)
    if (header.length > config.maxTokenBytes + 7) return refuse('invalid', exchange)
    const token = BEARER.exec(header)?.[1]
    if (!token) return refuse('invalid', exchange)
    const at = now()
    if (source.generation !== generation) {
      // A key left the set: nothing verified before may be reused.
      remembered.clear()
      generation = source.generation
    }
    const known = remembered.get(token)
    if (known) {
      if (at > known.expiresAt + skewMs) {
        remembered.delete(token)
        return refuse('expired', exchange)
      }
      if (at > known.reuseUntil) remembered.delete(token)
      else if (at + skewMs >= known.notBefore) return admit(exchange, next, known)
    }
    const startedUnder = generation
    return verify(token).then(
      ({ payload }) => {
        const verified = toVerified(payload, at + cacheMs)
        if (!verified) return refuse('invalid', exchange)
        // Not when the set changed during the check: the key it used may have just left.
        if (cacheMs > 0 && source.generation === startedUnder) remembered.set(token, verified)
        return admit(exchange, next, verified)
      },
      (err) => refuse(err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid', exchange)
    )
  }
}

function toVerified(payload: JWTPayload, reuseUntil: number): Verified | undefined {
  if (typeof payload.sub !== 'string' || !SUBJECT.test(payload.sub)) return undefined
  return {
    consumer: payload.sub,
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity,
    notBefore: typeof payload.nbf === 'number' ? payload.nbf * 1000 : -Infinity,
    reuseUntil,
  }
}
