/**
 * Load-time checks of auth: consumer keys resolved to their digests (files/secrets.ts), and
 * each JWT route's secret and key files read now, so a bad one exits 2 instead of failing in
 * a worker. Both replace references in the config with what they resolve to.
 */
import { createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolveKey, resolveSecret } from '../../files/secrets.ts'
import type { ConsumerConfig, RouteAuthConfig } from './schema.ts'

/**
 * Replaces every consumer key reference by its SHA-256 digest, and names the ones that cannot
 * be resolved, a name or a key two consumers share.
 */
export function checkConsumers(consumers: ConsumerConfig[]): string[] {
  const errors: string[] = []
  const owner = new Map<string, number>()
  const names = new Map<string, number>()
  consumers.forEach((consumer, i) => {
    const first = names.get(consumer.name)
    if (first !== undefined) errors.push(`consumers[${i}].name: "${consumer.name}" is already used by consumers[${first}]`)
    else names.set(consumer.name, i)
    consumer.apiKeys = consumer.apiKeys.map((reference, j) => {
      const resolved = resolveKey(reference)
      if ('error' in resolved) {
        errors.push(`consumers[${i}].apiKeys[${j}]: ${resolved.error}`)
        return ''
      }
      const other = owner.get(resolved.digest)
      if (other !== undefined && other !== i) errors.push(`consumers[${i}].apiKeys[${j}]: the same key as one of consumers[${other}]`)
      owner.set(resolved.digest, i)
      return resolved.digest
    })
  })
  return errors
}

/** Which node:crypto key types each JWS algorithm family verifies with. */
const KEY_TYPES: Record<string, readonly string[]> = { RS: ['rsa'], PS: ['rsa', 'rsa-pss'], ES: ['ec'], Ed: ['ed25519', 'ed448'] }

/** One route's auth: an API-key route needs a consumer with a key; a JWT route keys it can read (secret: at least 32 bytes, RFC 7518 §3.2). */
export function checkRouteAuth(auth: RouteAuthConfig, consumers: readonly ConsumerConfig[]): string[] {
  const errors: string[] = []
  if (auth.apiKey && !consumers.some((consumer) => consumer.apiKeys.length > 0)) errors.push('apiKey: no consumer has an API key')
  const jwt = auth.jwt
  if (!jwt) return errors
  if (jwt.secret !== undefined) {
    const secret = resolveSecret(jwt.secret)
    if ('error' in secret) errors.push(`jwt.secret: ${secret.error}`)
    else if (Buffer.byteLength(secret.value) < 32) errors.push('jwt.secret: must be at least 32 bytes')
    else jwt.secret = secret.value
  }
  if (jwt.publicKeyFile !== undefined) {
    try {
      const type = createPublicKey(readFileSync(jwt.publicKeyFile, 'utf8')).asymmetricKeyType ?? ''
      const wrong = jwt.algorithms.find((alg) => !KEY_TYPES[alg.slice(0, 2)]?.includes(type))
      if (wrong) errors.push(`jwt.publicKeyFile: a ${type} key cannot verify ${wrong}`)
    } catch {
      errors.push(`jwt.publicKeyFile: ${jwt.publicKeyFile} is not a readable PEM public key`)
    }
  }
  if (jwt.jwksFile !== undefined) {
    try {
      if (!Array.isArray(JSON.parse(readFileSync(jwt.jwksFile, 'utf8')).keys)) throw new Error('no keys')
    } catch {
      errors.push(`jwt.jwksFile: ${jwt.jwksFile} is not a readable JWKS (JSON with "keys")`)
    }
  }
  return errors
}
