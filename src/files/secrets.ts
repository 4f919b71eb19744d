/**
 * Credentials in the config are written as one of: `sha256:<hex>` (the digest only, so the
 * YAML holds no secret), `env:NAME`, `file:/path`, or the literal key. Each is resolved once,
 * at load, to its SHA-256 digest: the running gateway never holds a key in clear.
 */
import { readFileSync } from 'node:fs'

const DIGEST = /^sha256:([0-9a-fA-F]{64})$/

/** The lower-case hex SHA-256 of a key as presented by a client. */
export function keyDigest(key: string): string {
  return Bun.SHA256.hash(key, 'hex') as string
}

/** Resolves `env:NAME`, `file:/path` or a literal to the secret itself, or says why it cannot be. */
export function resolveSecret(reference: string): { value: string } | { error: string } {
  if (reference.startsWith('env:')) {
    const value = secretFromEnv(reference.slice(4))
    return value === undefined ? { error: `environment variable ${reference.slice(4)} is not set` } : { value }
  }
  if (reference.startsWith('file:')) {
    const path = reference.slice(5)
    let text: string
    try {
      // Read once at load, never per request.
      text = readFileSync(path, 'utf8')
    } catch {
      return { error: `file ${path} cannot be read` }
    }
    const value = text.replace(/\r?\n$/, '')
    return value === '' ? { error: `file ${path} is empty` } : { value }
  }
  return { value: reference }
}

/**
 * Shortest API key accepted, in bytes once resolved: 16 random bytes (128 bits) put online
 * guessing out of reach whatever the throttling. A `sha256:` digest is exempt: its key's
 * length cannot be known.
 */
export const MIN_KEY_BYTES = 16

/** Resolves one key reference to its digest, or a message saying why it cannot be. */
export function resolveKey(reference: string): { digest: string } | { error: string } {
  const digest = DIGEST.exec(reference)
  if (digest) return { digest: digest[1]!.toLowerCase() }
  if (reference.startsWith('sha256:')) return { error: 'sha256: needs 64 hex digits' }
  const secret = resolveSecret(reference)
  if ('error' in secret) return secret
  // Checked after env:/file: resolution: what counts is the key a client will send.
  if (Buffer.byteLength(secret.value) < MIN_KEY_BYTES) return { error: `must be at least ${MIN_KEY_BYTES} bytes` }
  return { digest: keyDigest(secret.value) }
}

/** An `env:NAME` secret of the config; undefined when unset or empty. */
export function secretFromEnv(name: string): string | undefined {
  const value = process.env[name]
  return value === undefined || value === '' ? undefined : value
}
