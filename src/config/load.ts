/**
 * Read a config file → overlay env overrides → validate against the schema and the
 * cross-field rules → deep-freeze. Validation happens once, at start: a bad config never
 * reaches a listener, and every bad field is named by its path.
 */
import { configSchema, type GatewayConfig } from './schema.ts'
import { consumerHeaderNames } from '../policies/auth/consumer-headers.ts'
import { fieldValueProblem, headerRuleProblems } from '../policies/field-rules.ts'
import { BUILTIN_POLICIES } from '../policies/index.ts'
import type { BuiltinPolicy } from '../policies/builtin.ts'
import { resolvePluginModules } from '../policies/plugins/load.ts'
import { startPluginCheck, type PluginCheck } from './check-plugins.ts'
import { closest } from './closest.ts'
import { derivedRouteName, matchKey } from './match-key.ts'
import { normalisePrefix } from './routes.ts'
import { defaultMessages, formatIssue, formatPath, indexSchema, type SchemaIndex } from './issues.ts'
import { partialConfig, wholeConfig, type PartialConfig } from './partial.ts'
import { caFileProblem, serverTlsProblems } from './tls-files.ts'
import { ENV_OVERRIDES, type EnvSettings } from './env.ts'
import { resolveSecret } from '../files/secrets.ts'
import { privatePathProblems, SHARED_CACHE_COMPANIONS } from '../files/private.ts'
import { jsonErrorOffset, parseErrorReason, positionOf, syntaxErrorMessage, yamlErrorPosition } from './syntax-error.ts'

export type ValidationResult =
  | { ok: true; config: GatewayConfig }
  | { ok: false; errors: string[] }

/** Parses a config file's text: JSON for `.json`, YAML (a superset of JSON) otherwise. */
export function parseConfigText(text: string, fileName: string): unknown {
  if (fileName.endsWith('.json')) return JSON.parse(text)
  return Bun.YAML.parse(text) ?? {}
}

/**
 * Reads and parses `path`; errors name the file, never a stack. A syntax error says
 * `FILE:LINE:COL:` and shows the line (syntax-error.ts).
 */
export async function readConfigFile(path: string): Promise<{ raw: unknown; text: string; error?: undefined } | { raw?: undefined; text?: undefined; error: string }> {
  const file = Bun.file(path)
  if (!(await file.exists())) return { error: `${path}: file not found` }
  const text = await file.text()
  try {
    return { raw: parseConfigText(text, path), text }
  } catch (err) {
    return { error: configSyntaxError(path, text, err) }
  }
}

/** The message for a file that does not parse: where, why, and the line itself. */
export function configSyntaxError(path: string, text: string, err: unknown): string {
  const json = path.endsWith('.json')
  const offset = json ? jsonErrorOffset(text) : undefined
  const at = json ? (offset === undefined ? undefined : positionOf(text, offset)) : yamlErrorPosition(text, (t) => parseConfigText(t, path))
  return syntaxErrorMessage(path, text, json ? 'JSON' : 'YAML', parseErrorReason(err), at)
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

/**
 * Validates `raw` and returns the frozen config, or one message per bad field. The semantic
 * checks run even when the schema refuses something: on every part that parses (partial.ts),
 * so all of a file's problems are named in one pass. Plugin module paths are resolved against
 * `baseDir` (the config file's folder); the plugins themselves are loaded and checked by
 * `loadConfig`.
 */
export function validateConfig(raw: unknown, overrides: EnvSettings['overrides'] = {}, baseDir = process.cwd()): ValidationResult {
  const parsed = configSchema.safeParse(raw, { reportInput: true, error: defaultMessages })
  const errors = parsed.success ? [] : parsed.error.issues.flatMap((issue) => formatIssue(schemaIndex(), issue))
  errors.push(...crossFieldErrors(raw))
  const parts = parsed.success ? wholeConfig(parsed.data) : partialConfig(raw)
  if (parts) errors.push(...semanticErrors(parts, baseDir))
  if (errors.length > 0 || !parsed.success) return { ok: false, errors: annotateEnv(errors, overrides) }
  // metrics.bearerToken is the old spelling of admin.bearerToken: the code reads only the new one.
  parsed.data.admin.bearerToken ??= parsed.data.metrics.bearerToken
  return { ok: true, config: deepFreeze(parsed.data) }
}

let index: SchemaIndex | undefined
/** The schema's tree of keys, read once, on the first config with a problem. */
const schemaIndex = () => (index ??= indexSchema(configSchema))

/**
 * The checks the schema cannot make, each on the parts it reads: a check that looks across
 * sections skips when one of them lost a part to a schema error (it would report a follow-on).
 */
function semanticErrors(parts: PartialConfig, baseDir: string): string[] {
  const { config, failed, damaged } = parts
  const errors: string[] = []
  // Policies read the route, the consumers (auth) and whether redis is there (global limits).
  if (!damaged.has('consumers')) errors.push(...policySettingsErrors(config))
  if (!damaged.has('consumers') && !failed.has('redis')) errors.push(...policyRouteErrors(config, parts.routes))
  errors.push(...requestHeaderErrors(parts.routes), ...tlsFileErrors(config))
  if (!failed.has('admin')) errors.push(...resolveAdminToken(config))
  errors.push(...resolveRedisSecrets(config))
  if (!failed.has('tracing')) errors.push(...tracingErrors(config))
  if (!failed.has('cache')) errors.push(...sharedCachePathErrors(config))
  if (!failed.has('log')) errors.push(...accessLogFileErrors(config))
  if (!failed.has('dns') && config.dns.minTtlSeconds > config.dns.maxTtlSeconds)
    errors.push(`dns.minTtlSeconds: must not exceed dns.maxTtlSeconds (${config.dns.maxTtlSeconds}), got ${config.dns.minTtlSeconds}`)
  if (!damaged.has('plugins')) errors.push(...pluginErrors(config, parts.routes, baseDir))
  return errors
}

/**
 * `validateConfig`, then the plugins, in a process of their own (check-plugins.ts): imported
 * as they are on disk now, their configs checked by their own schemas, and built once for
 * each route that uses them. `pluginCheck`: that process, started by the caller before it
 * read the rest (config/source.ts), so its start-up overlaps the validation; stopped here when
 * there is nothing for it to check.
 */
export async function loadConfig(raw: unknown, overrides: EnvSettings['overrides'], options: { baseDir?: string; pluginCheck?: PluginCheck } = {}): Promise<ValidationResult> {
  const validated = validateConfig(raw, overrides, options.baseDir)
  if (!validated.ok || Object.keys(validated.config.plugins).length === 0) {
    options.pluginCheck?.cancel()
    return validated
  }
  const errors = await (options.pluginCheck ?? startPluginCheck()).run(validated.config)
  return errors.length > 0 ? { ok: false, errors } : validated
}

/** Each built-in policy's checks of its top-level settings (`consumers`), once. */
function policySettingsErrors(config: GatewayConfig): string[] {
  return (BUILTIN_POLICIES as readonly BuiltinPolicy[]).flatMap((policy) => policy.checkSettings?.(config) ?? [])
}

/** Each built-in policy's checks of its key on every route (`routes[i].<key>.<field>: problem`). */
function policyRouteErrors(config: GatewayConfig, routes: PartialConfig['routes']): string[] {
  const errors: string[] = []
  for (const [i, route] of routes) {
    for (const policy of BUILTIN_POLICIES as readonly BuiltinPolicy[]) {
      if (!policy.check || policy.schema === undefined) continue
      const value = (route as Record<string, unknown>)[policy.name]
      errors.push(...policy.check(value as never, { settings: config, route }).map((problem) => `routes[${i}].${policy.name}${problem.startsWith('[') ? '' : '.'}${problem}`))
    }
  }
  return errors
}

/** Routes name declared plugins; plugin modules are found (and their paths made absolute). */
function pluginErrors(config: GatewayConfig, routes: PartialConfig['routes'], baseDir: string): string[] {
  const errors = resolvePluginModules(config.plugins, baseDir)
  for (const [i, route] of routes) {
    route.plugins.forEach((name, j) => {
      if (!Object.hasOwn(config.plugins, name)) errors.push(`routes[${i}].plugins[${j}]: no plugin named "${name}" under plugins`)
    })
  }
  return errors
}

export { formatPath }

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
    // A route sends to one upstream, splits its traffic over several (routes[].split), or only redirects.
    if (route.upstream === undefined && route.split === undefined && route.redirect === undefined) errors.push(`routes[${i}].upstream: required (or split, or redirect)`)
    if (route.upstream !== undefined && route.split !== undefined) errors.push(`routes[${i}].split: a route has upstream or split, not both`)
    if (route.splitStickyOn !== undefined && route.split === undefined) errors.push(`routes[${i}].splitStickyOn: needs split`)
    if (typeof route.upstream === 'string' && !Object.hasOwn(upstreams, route.upstream)) {
      const near = closest(route.upstream, Object.keys(upstreams))
      errors.push(`routes[${i}].upstream: no upstream named "${route.upstream}"${near ? ` — did you mean "${near}"?` : ''}`)
    }
    const match = isRecord(route.match) ? route.match : undefined
    let duplicate = false
    if (typeof route.path === 'string') {
      const host = typeof route.host === 'string' ? route.host.toLowerCase() : '*'
      const key = `${host} ${normalisePrefix(route.path)} ${matchKey(match)}`
      const first = seenMatch.get(key)
      duplicate = first !== undefined
      if (first !== undefined) errors.push(`routes[${i}].path: duplicate of routes[${first}] (same host and path${match ? ' and match' : ''})`)
      else seenMatch.set(key, i)
    }
    const name = typeof route.name === 'string' ? route.name : typeof route.path === 'string' ? derivedRouteName(route.path, match) : undefined
    if (typeof name === 'string') {
      const first = seenName.get(name)
      // A duplicate route is named once, as such.
      if (first !== undefined && !duplicate) errors.push(`routes[${i}].name: "${name}" is already used by routes[${first}]`)
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
  if (server.httpRedirectPort !== undefined && server.tls === undefined) errors.push('server.httpRedirectPort: needs server.tls')
  // h2 over TLS is chosen by ALPN (RFC 9113 §3.2), cleartext h2 by prior knowledge (§3.3): one key per kind of port.
  if (server.http2 === true && server.tls === undefined) errors.push('server.http2: needs server.tls (HTTP/2 is negotiated by TLS ALPN); for cleartext HTTP/2 with prior knowledge set server.h2c: true')
  if (server.h2c === true && server.tls !== undefined) errors.push('server.h2c: is cleartext HTTP/2, for a port without server.tls; with TLS set server.http2: true')
  const metrics = isRecord(raw.metrics) ? raw.metrics : {}
  if (typeof admin.bearerToken === 'string' && typeof metrics.bearerToken === 'string' && admin.bearerToken !== metrics.bearerToken) {
    errors.push('metrics.bearerToken: differs from admin.bearerToken; set only admin.bearerToken')
  }
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

/** The exporter's header values resolved from env:/file: now (never logged); a batch fits the queue. */
function tracingErrors(config: GatewayConfig): string[] {
  const tracing = config.tracing
  if (!tracing) return []
  const errors: string[] = []
  for (const [name, reference] of Object.entries(tracing.headers)) {
    const resolved = resolveSecret(reference)
    if ('error' in resolved) {
      errors.push(`tracing.headers.${name}: ${resolved.error}`)
      continue
    }
    // Fetch would refuse every export; the http:// poster writes the value as it is.
    const problem = fieldValueProblem(resolved.value)
    if (problem !== undefined) errors.push(`tracing.headers.${name}: ${problem}`)
    else tracing.headers[name] = resolved.value
  }
  if (tracing.batchSize > tracing.queueSize) errors.push(`tracing.batchSize: must not exceed tracing.queueSize (${tracing.queueSize})`)
  return errors
}

/** Request header rules may not touch framing or hop-by-hop fields, nor who the caller is. */
function requestHeaderErrors(routes: PartialConfig['routes']): string[] {
  const identity = consumerHeaderNames(routes.map(([, route]) => route))
  return routes.flatMap(([i, route]) => (route.requestHeaders ? headerRuleProblems(route.requestHeaders, identity).map((problem) => `routes[${i}].requestHeaders.${problem}`) : []))
}

/**
 * TLS files are parsed now (tls-files.ts): a worker must not be the first to find a missing,
 * swapped, mismatched or expired one.
 */
function tlsFileErrors(config: GatewayConfig): string[] {
  const errors = config.server.tls ? [...serverTlsProblems(config.server.tls), ...serverNameErrors(config.server.tls)] : []
  const caFiles: [string, string | undefined][] = [
    ...Object.entries(config.upstreams).map(([name, u]): [string, string | undefined] => [`upstreams.${name}.tls.caFile`, u.tls?.caFile]),
    ['redis.tls.caFile', config.redis?.tls?.caFile],
  ]
  for (const [field, path] of caFiles) {
    const problem = path === undefined ? undefined : caFileProblem(path)
    if (problem) errors.push(`${field}: ${problem}`)
  }
  return errors
}

/**
 * Each SNI name picks one certificate: Bun keeps the last entry of a name silently, so a name
 * given twice is refused (compared as Bun does: case-insensitive, trailing dot ignored). And
 * with clientAuth, Bun's one `ca` list is the client CA: the chain goes in certFile instead.
 */
function serverNameErrors(tls: NonNullable<GatewayConfig['server']['tls']>): string[] {
  const errors: string[] = []
  const seen = new Map<string, string>()
  tls.certificates?.forEach((pair, i) =>
    pair.serverNames.forEach((name, j) => {
      const key = name.toLowerCase().replace(/\.$/, '')
      const field = `server.tls.certificates[${i}].serverNames[${j}]`
      const first = seen.get(key)
      if (first !== undefined) errors.push(`${field}: "${name}" is already named by ${first}`)
      else seen.set(key, field)
    })
  )
  if (tls.clientAuth && tls.caFile !== undefined) errors.push('server.tls.caFile: cannot be used with clientAuth (Bun has one CA list, and it then verifies clients); append the intermediates to certFile instead')
  return errors
}

/**
 * A configured shared-cache file must be private: in a directory no other user can write to
 * (else they could plant or swap the database), and ours where it exists (docs/caching.md).
 */
function sharedCachePathErrors(config: GatewayConfig): string[] {
  const path = config.cache.shared.path
  return path === undefined ? [] : privatePathProblems(path, SHARED_CACHE_COMPANIONS).map((problem) => `cache.shared.path: ${problem}`)
}

/** The access log file is private too: its directory safe from other users, the file ours where it exists. */
function accessLogFileErrors(config: GatewayConfig): string[] {
  const path = config.log.access.file
  return path === undefined ? [] : privatePathProblems(path).map((problem) => `log.access.file: ${problem}`)
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
