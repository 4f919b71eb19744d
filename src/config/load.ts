/**
 * Read a config file → overlay env overrides → validate against the schema and the
 * cross-field rules → deep-freeze. Validation happens once, at start: a bad config never
 * reaches a listener, and every bad field is named by its path.
 */
import type { z } from 'zod'
import { configSchema, consumerHeaderNames, type GatewayConfig } from './schema.ts'
import { ENV_OVERRIDES, type EnvSettings } from './env.ts'
import { createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolveKey, resolveSecret } from './secrets.ts'
import { privatePathProblems, SQLITE_COMPANIONS } from '../files/private.ts'

export type ValidationResult =
  | { ok: true; config: GatewayConfig }
  | { ok: false; errors: string[] }

/** Parses a config file's text: JSON for `.json`, YAML (a superset of JSON) otherwise. */
export function parseConfigText(text: string, fileName: string): unknown {
  if (fileName.endsWith('.json')) return JSON.parse(text)
  return Bun.YAML.parse(text) ?? {}
}

/** Reads and parses `path`; errors name the file, never a stack. */
export async function readConfigFile(path: string): Promise<{ raw?: unknown; error?: string }> {
  const file = Bun.file(path)
  if (!(await file.exists())) return { error: `${path}: file not found` }
  try {
    return { raw: parseConfigText(await file.text(), path) }
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : 'unreadable'
    return { error: `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${reason}` }
  }
}

/** Returns a copy of `raw` with the env overrides written in at their key paths. */
export function applyEnvOverrides(raw: unknown, overrides: EnvSettings['overrides']): unknown {
  const root: Record<string, unknown> = isRecord(raw) ? { ...raw } : {}
  for (const [name, value] of Object.entries(overrides)) {
    const [section, key] = ENV_OVERRIDES[name as keyof typeof ENV_OVERRIDES].split('.') as [string, string]
    const existing = root[section]
    // A secret stays a string, even when it is all digits.
    root[section] = { ...(isRecord(existing) ? existing : {}), [key]: name === 'REDIS_BUS_SECRET' ? value : coerceEnvValue(value) }
  }
  return root
}

/** Env values are strings; whole numbers become numbers so the schema judges them like file values. */
function coerceEnvValue(value: string): string | number {
  return /^\d+$/.test(value) ? Number(value) : value
}

/** Validates `raw` and returns the frozen config, or one message per bad field. */
export function validateConfig(raw: unknown, overrides: EnvSettings['overrides'] = {}): ValidationResult {
  const parsed = configSchema.safeParse(raw)
  const errors = parsed.success ? [] : parsed.error.issues.flatMap(formatIssue)
  errors.push(...crossFieldErrors(raw))
  if (parsed.success) errors.push(...resolveConsumerKeys(parsed.data), ...resolveJwtKeys(parsed.data), ...headerRuleErrors(parsed.data), ...tlsFileErrors(parsed.data), ...globalLimitErrors(parsed.data))
  if (parsed.success) errors.push(...resolveAdminToken(parsed.data), ...resolveRedisSecrets(parsed.data))
  if (parsed.success) errors.push(...sharedCachePathErrors(parsed.data))
  if (errors.length > 0 || !parsed.success) return { ok: false, errors: annotateEnv(errors, overrides) }
  // metrics.bearerToken is the old spelling of admin.bearerToken: the code reads only the new one.
  parsed.data.admin.bearerToken ??= parsed.data.metrics.bearerToken
  return { ok: true, config: deepFreeze(parsed.data) }
}

function formatIssue(issue: z.core.$ZodIssue): string[] {
  const path = formatPath(issue.path)
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${joinPath(path, key)}: unknown key`)
  }
  return [`${path || '(root)'}: ${issue.message}`]
}

/** `["routes", 0, "upstream"]` → `routes[0].upstream`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out = joinPath(out, String(part))
  }
  return out
}

function joinPath(base: string, key: string): string {
  return base ? `${base}.${key}` : key
}

/** Rules that span fields: route → upstream references, duplicates, port clashes. */
function crossFieldErrors(raw: unknown): string[] {
  if (!isRecord(raw)) return []
  const errors: string[] = []
  const upstreams = isRecord(raw.upstreams) ? raw.upstreams : {}
  const routes = Array.isArray(raw.routes) ? raw.routes : []
  const seenMatch = new Map<string, number>()
  const seenName = new Map<string, number>()
  routes.forEach((route: unknown, i) => {
    if (!isRecord(route)) return
    if (typeof route.upstream === 'string' && !Object.hasOwn(upstreams, route.upstream)) {
      errors.push(`routes[${i}].upstream: no upstream named "${route.upstream}"`)
    }
    if (typeof route.path === 'string') {
      const host = typeof route.host === 'string' ? route.host.toLowerCase() : '*'
      const match = `${host} ${normalisePrefix(route.path)}`
      const first = seenMatch.get(match)
      if (first !== undefined) errors.push(`routes[${i}].path: duplicate of routes[${first}] (same host and path)`)
      else seenMatch.set(match, i)
    }
    const name = typeof route.name === 'string' ? route.name : route.path
    if (typeof name === 'string') {
      const first = seenName.get(name)
      if (first !== undefined) errors.push(`routes[${i}].name: "${name}" is already used by routes[${first}]`)
      else seenName.set(name, i)
    }
  })
  const server = isRecord(raw.server) ? raw.server : {}
  const admin = isRecord(raw.admin) ? raw.admin : {}
  const serverPort = server.port ?? 8080
  const adminPort = admin.port ?? 9090
  if (typeof adminPort === 'number' && adminPort !== 0 && adminPort === serverPort) {
    errors.push(`admin.port: must differ from server.port (${adminPort})`)
  }
  const metrics = isRecord(raw.metrics) ? raw.metrics : {}
  if (typeof admin.bearerToken === 'string' && typeof metrics.bearerToken === 'string' && admin.bearerToken !== metrics.bearerToken) {
    errors.push('metrics.bearerToken: differs from admin.bearerToken; set only admin.bearerToken')
  }
  return errors
}

/**
 * Replaces every consumer key reference by its SHA-256 digest (config/secrets.ts), and names
 * the ones that cannot be resolved, a key two consumers share, and an API-key route with no
 * key to accept.
 */
function resolveConsumerKeys(config: GatewayConfig): string[] {
  const errors: string[] = []
  const owner = new Map<string, number>()
  const names = new Map<string, number>()
  config.consumers.forEach((consumer, i) => {
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
  config.routes.forEach((route, i) => {
    if (route.auth?.apiKey && owner.size === 0) errors.push(`routes[${i}].auth.apiKey: no consumer has an API key`)
  })
  return errors
}

/** The admin token itself, from an `env:` or `file:` reference when it is one. */
function resolveAdminToken(config: GatewayConfig): string[] {
  const reference = config.admin.bearerToken
  if (reference === undefined) return []
  const resolved = resolveSecret(reference)
  if ('error' in resolved) return [`admin.bearerToken: ${resolved.error}`]
  if (resolved.value.length < 16) return ['admin.bearerToken: must be at least 16 characters']
  config.admin.bearerToken = resolved.value
  return []
}

/**
 * Redis credentials and the bus secret, resolved from env:/file: now (never logged), and
 * TLS settings that only a rediss:// URL uses.
 */
function resolveRedisSecrets(config: GatewayConfig): string[] {
  const redis = config.redis
  if (!redis) return []
  const errors: string[] = []
  for (const field of ['username', 'password', 'busSecret'] as const) {
    const reference = redis[field]
    if (reference === undefined) continue
    const resolved = resolveSecret(reference)
    if ('error' in resolved) errors.push(`redis.${field}: ${resolved.error}`)
    else redis[field] = resolved.value
  }
  // HMAC keys shorter than the hash output weaken it (RFC 2104 §3).
  if (redis.busSecret !== undefined && Buffer.byteLength(redis.busSecret) < 32) errors.push('redis.busSecret: must be at least 32 bytes')
  // ioredis lets the URL's credentials win; one place only, so the config says what is used.
  const url = URL.parse(redis.url)
  if ((url?.username || url?.password) && (redis.username !== undefined || redis.password !== undefined)) {
    errors.push('redis.password: the url carries credentials too; keep them in redis.username/redis.password only')
  }
  if (redis.tls && !redis.url.startsWith('rediss://')) errors.push('redis.tls: needs a rediss:// url')
  return errors
}

/** A global limit keeps its buckets in Redis, so it needs one configured. */
function globalLimitErrors(config: GatewayConfig): string[] {
  if (config.redis) return []
  return config.routes.flatMap((route, i) =>
    route.rateLimit?.scope === 'global' ? [`routes[${i}].rateLimit.scope: global needs redis.url (or REDIS_URL)`] : []
  )
}

/** Which node:crypto key types each JWS algorithm family verifies with. */
const KEY_TYPES: Record<string, readonly string[]> = { RS: ['rsa'], PS: ['rsa', 'rsa-pss'], ES: ['ec'], Ed: ['ed25519', 'ed448'] }

/**
 * Resolves each JWT route's secret (env:/file:/literal, at least 32 bytes: RFC 7518 §3.2) and
 * checks its key files now, so a bad one exits 2 instead of failing in a worker.
 */
function resolveJwtKeys(config: GatewayConfig): string[] {
  const errors: string[] = []
  config.routes.forEach((route, i) => {
    const jwt = route.auth?.jwt
    if (!jwt) return
    const at = `routes[${i}].auth.jwt`
    if (jwt.secret !== undefined) {
      const secret = resolveSecret(jwt.secret)
      if ('error' in secret) errors.push(`${at}.secret: ${secret.error}`)
      else if (Buffer.byteLength(secret.value) < 32) errors.push(`${at}.secret: must be at least 32 bytes`)
      else jwt.secret = secret.value
    }
    if (jwt.publicKeyFile !== undefined) {
      try {
        const type = createPublicKey(readFileSync(jwt.publicKeyFile, 'utf8')).asymmetricKeyType ?? ''
        const wrong = jwt.algorithms.find((alg) => !KEY_TYPES[alg.slice(0, 2)]?.includes(type))
        if (wrong) errors.push(`${at}.publicKeyFile: a ${type} key cannot verify ${wrong}`)
      } catch {
        errors.push(`${at}.publicKeyFile: ${jwt.publicKeyFile} is not a readable PEM public key`)
      }
    }
    if (jwt.jwksFile !== undefined) {
      try {
        if (!Array.isArray(JSON.parse(readFileSync(jwt.jwksFile, 'utf8')).keys)) throw new Error('no keys')
      } catch {
        errors.push(`${at}.jwksFile: ${jwt.jwksFile} is not a readable JWKS (JSON with "keys")`)
      }
    }
  })
  return errors
}

/** Fields a header rule may not touch: framing and hop-by-hop fields (RFC 9110 §7.6.1). */
const RULE_FORBIDDEN: ReadonlySet<string> = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection'])

/** Header rules may not touch framing or hop-by-hop fields, nor (on requests) who the caller is. */
function headerRuleErrors(config: GatewayConfig): string[] {
  const errors: string[] = []
  const identity = consumerHeaderNames(config.routes)
  config.routes.forEach((route, i) => {
    for (const side of ['requestHeaders', 'responseHeaders'] as const) {
      const rules = route[side]
      if (!rules) continue
      const named = [...Object.keys(rules.add).map((n) => ['add', n]), ...Object.keys(rules.set).map((n) => ['set', n]), ...rules.remove.map((n) => ['remove', n])]
      for (const [op, name] of named) {
        if (RULE_FORBIDDEN.has(name!) || (side === 'requestHeaders' && identity.has(name!))) {
          errors.push(`routes[${i}].${side}.${op}: ${name} is the gateway's to set`)
        }
      }
    }
  })
  return errors
}

/** TLS files must be readable now: a worker must not be the first to find out. */
function tlsFileErrors(config: GatewayConfig): string[] {
  const files: [string, string | undefined][] = [
    ['server.tls.certFile', config.server.tls?.certFile],
    ['server.tls.keyFile', config.server.tls?.keyFile],
    ['server.tls.caFile', config.server.tls?.caFile],
    ...Object.entries(config.upstreams).map(([name, u]): [string, string | undefined] => [`upstreams.${name}.tls.caFile`, u.tls?.caFile]),
    ['redis.tls.caFile', config.redis?.tls?.caFile],
  ]
  const errors: string[] = []
  for (const [field, path] of files) {
    if (path === undefined) continue
    try {
      if (!readFileSync(path, 'utf8').includes('-----BEGIN')) errors.push(`${field}: ${path} is not PEM`)
    } catch {
      errors.push(`${field}: ${path} cannot be read`)
    }
  }
  if (config.server.httpRedirectPort !== undefined && !config.server.tls) errors.push('server.httpRedirectPort: needs server.tls')
  return errors
}

/**
 * A configured shared-cache file must be private: in a directory no other user can write to
 * (else they could plant or swap the database), and ours where it exists (docs/caching.md).
 */
function sharedCachePathErrors(config: GatewayConfig): string[] {
  const path = config.cache.shared.path
  return path === undefined ? [] : privatePathProblems(path, SQLITE_COMPANIONS).map((problem) => `cache.shared.path: ${problem}`)
}

/** `/users/` and `/users` are the same prefix. */
export function normalisePrefix(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
}

/** Appends "(from PORT)" to messages about keys that came from the environment. */
function annotateEnv(errors: string[], overrides: EnvSettings['overrides']): string[] {
  const fromEnv = new Map<string, string>()
  for (const name of Object.keys(overrides) as (keyof typeof ENV_OVERRIDES)[]) {
    fromEnv.set(ENV_OVERRIDES[name], name)
  }
  return errors.map((message) => {
    const key = message.slice(0, message.indexOf(':'))
    const name = fromEnv.get(key)
    return name ? message.replace(':', ` (from ${name}):`) : message
  })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
