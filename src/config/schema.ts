/**
 * The one config schema: every key, its type, unit and default. Types are derived from it,
 * so the file, the env overrides and the code cannot disagree. `gateway.example.yaml`
 * documents the same keys for operators.
 */
import { z } from 'zod'
import { isIpOrCidr } from '../net/ip-matcher.ts'

/** Methods a route may list. TRACE and CONNECT are never proxied (RFC 9110 §9.3.8: TRACE echoes credentials). */
export const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

const port = z.int().min(0).max(65535)
const positiveInt = z.int().min(1)

/** An upstream target: absolute http(s) URL, optional base path, no query, fragment or credentials. */
const targetUrl = z.string().check((ctx) => {
  const problem = targetUrlProblem(ctx.value)
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value })
})

function targetUrlProblem(value: string): string | undefined {
  if (!/^https?:\/\//i.test(value)) return 'must start with http:// or https://'
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return `not a URL: "${value}"`
  }
  if (url.username || url.password) return 'must not carry credentials'
  if (url.search || url.hash || value.includes('?') || value.includes('#'))
    return 'must not have a query or fragment'
  return undefined
}

const serverSchema = z.strictObject({
  /** Address the public listener binds. */
  host: z.string().min(1).default('0.0.0.0'),
  /** Public port (0 picks a free one; the chosen port is logged). */
  port: port.default(8080),
  /** Worker processes: a number, or "auto" for one per available CPU. */
  workers: z
    .union([z.literal('auto'), z.int().min(1).max(256)], {
      error: 'must be "auto" or a whole number from 1 to 256',
    })
    .default('auto'),
  /** Seconds a client keep-alive connection may sit idle (Bun's idleTimeout, 1-255). */
  idleTimeoutSeconds: z.int().min(1).max(255).default(5),
  /** Largest request body in bytes; larger ones get 413. */
  maxBodyBytes: z.int().min(0).default(10 * 1024 * 1024),
  /** Largest request-target (path and query) in bytes; longer ones get 414 (RFC 9112 §3). */
  maxUrlBytes: z.int().min(256).max(65536).default(8192),
  /** Largest request header block in bytes (names, values and separators); more gets 431. */
  maxHeaderBytes: z.int().min(1024).max(65536).default(16384),
  /** Peers (IP or CIDR) whose X-Forwarded-* and X-Request-Id headers are believed. */
  trustedProxies: z
    .array(z.string().refine(isIpOrCidr, { error: 'must be an IP address or CIDR range' }))
    .default([]),
  /**
   * An encoded "/" or "\" in the path (%2F, %5C): "reject" with 400 (the default; Envoy's
   * edge advice), "decode" into a separator before routing, or "keep" it encoded. "keep" is
   * unsafe: an upstream that decodes it sees a path the routes never matched.
   */
  escapedSlashes: z.enum(['reject', 'decode', 'keep']).default('reject'),
  /**
   * Request header names containing "_": "drop" them (nginx's default), "reject" the request
   * with 400, or "allow" them. Many stacks read X_Forwarded_For as X-Forwarded-For.
   */
  underscoresInHeaders: z.enum(['drop', 'reject', 'allow']).default('drop'),
  /** Liveness path on the public port, answered by the gateway itself. */
  healthPath: z.string().startsWith('/').default('/health'),
  /**
   * Most requests a worker handles at once on its routes (the original design's 1,000
   * connections per worker); past it a fast 503 `overloaded` with Retry-After, instead of an
   * unbounded queue. /health and the admin port are not counted.
   */
  maxInflightPerWorker: z.int().min(1).max(1_000_000).default(1000),
  /** TLS termination on the public port; the files are read again by every new worker (SIGHUP renews a certificate). */
  tls: z
    .strictObject({
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
      /** CA bundle sent with the certificate (intermediates). */
      caFile: z.string().min(1).optional(),
      /** Oldest TLS version accepted. */
      minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    })
    .optional(),
  /** With `tls`: also listen for plain HTTP here and answer 308 to the https:// URL. */
  httpRedirectPort: port.optional(),
  /** WebSocket proxying (docs/proxying.md, "WebSocket"). */
  websocket: z
    .strictObject({
      /** Largest message either way; larger ones close the socket with 1009. */
      maxPayloadBytes: z.int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      /** Seconds a socket may carry no message before it is closed. */
      idleTimeoutSeconds: z.int().min(8).max(960).default(120),
      /** Open sockets plus upstream handshakes under way, per worker; more upgrades get 503 overloaded. */
      maxConnectionsPerWorker: positiveInt.max(1_000_000).default(10_000),
    })
    .prefault({}),
  /** Most concurrent upstream requests per process (Bun's fetch queues the rest). */
  maxUpstreamRequests: z.int().min(256).max(65535).default(4096),
  /** Recycle a worker after this many requests (gunicorn's max_requests); 0 = never. */
  maxRequestsPerWorker: z.int().min(0).default(0),
  /** Add 0..this many requests to each worker's limit, so workers do not recycle together. */
  maxRequestsJitter: z.int().min(0).default(0),
  /** Recycle a worker whose resident memory passes this many MiB; 0 = never. */
  maxWorkerRssMb: z.int().min(0).default(0),
  /** Milliseconds a recycled worker keeps answering (with Connection: close) before it stops listening. */
  recycleDrainMs: z.int().min(0).max(30_000).default(1000),
  /** Seconds SIGTERM/SIGINT waits for in-flight requests before cutting them (exit status 1). */
  shutdownTimeoutSeconds: z.int().min(1).max(3600).default(25),
  crashLoop: z
    .strictObject({
      /** Unexpected worker exits within the window that make the gateway give up and exit 1. */
      maxCrashes: z.int().min(1).max(1000).default(5),
      /** Length of the crash-counting window in seconds. */
      windowSeconds: z.int().min(1).max(3600).default(60),
    })
    .prefault({}),
})

const adminSchema = z.strictObject({
  /** Address of the admin listener; keep it on loopback unless a firewall guards it. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Admin port for /health and /ready (0 picks a free one). */
  port: port.default(9090),
  /**
   * When set, /metrics and POST /cache/purge want `Authorization: Bearer <token>`: the token,
   * or `env:NAME` / `file:/path` (a Kubernetes Secret); at least 16 characters once resolved.
   */
  bearerToken: z.string().min(1).optional(),
  /**
   * Host names (besides IP addresses, localhost and admin.host) the admin port answers to;
   * any other Host is refused with 403, so a web page cannot reach it by DNS rebinding.
   */
  allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, { error: 'must be a host name without port' })).default([]),
})

const metricsSchema = z.strictObject({
  /** Collect Prometheus metrics in every worker and serve them, merged, on the admin port's /metrics. */
  enabled: z.boolean().default(true),
  /** Deprecated spelling of admin.bearerToken, still accepted. */
  bearerToken: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
})

const logSchema = z.strictObject({
  /** One JSON line per request on stdout (secrets redacted). */
  access: z.boolean().default(false),
  /** Fraction of requests logged when access logs are on, 0-1. */
  sampleRate: z.number().min(0).max(1).default(1),
})

const weightedTarget = z.strictObject({ url: targetUrl, weight: z.int().min(1).max(1000).default(1) })

/**
 * A target: a base URL, or `{ url, weight }`; always `{ url, weight }` once parsed. Written
 * as one transform rather than a union, so a bad URL keeps its own message.
 */
const targetSchema = z.unknown().transform((value, ctx) => {
  const parsed = weightedTarget.safeParse(typeof value === 'string' ? { url: value } : value)
  if (parsed.success) return parsed.data
  for (const issue of parsed.error.issues) {
    const path = typeof value === 'string' ? issue.path.slice(1) : issue.path
    ctx.issues.push({ ...issue, path, input: value } as (typeof ctx.issues)[number])
  }
  return z.NEVER
})

/** What a retry may answer (docs/upstreams.md). */
export const RETRY_ON = ['connect-failure', 'reset', 'timeout', '502', '503', '504'] as const

const upstreamSchema = z.strictObject({
  /** One or more base URLs (or `{ url, weight }`), balanced by `balancing`. */
  targets: z.array(targetSchema).min(1, { error: 'needs at least one target' }),
  /** How a target is chosen: weighted round-robin, least in flight (two random choices), weighted random, or a consistent hash. */
  balancing: z.enum(['round-robin', 'least-inflight', 'random', 'hash']).default('round-robin'),
  /** What `hash` hashes: the client address, a header, or a cookie. */
  hashOn: z
    .string()
    .regex(/^(ip|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/, { error: 'must be ip, header:<name> or cookie:<name>' })
    .default('ip'),
  /** Passive health: a target failing this many times in a row is ejected for a while (Envoy's outlier detection). */
  outlierDetection: z
    .strictObject({
      /** Connect failures, resets and 5xx in a row that eject a target; 0 turns it off. */
      consecutiveFailures: z.int().min(0).max(1000).default(5),
      /** Seconds of the first ejection; the n-th lasts n times this, capped at 10 times. */
      ejectionSeconds: positiveInt.max(3600).default(30),
      /** At most this share of the targets ejected at once; the last healthy target never is. */
      maxEjectedPercent: z.int().min(0).max(100).default(50),
    })
    .prefault({}),
  /** Active health: checks from the primary, one checker for the node. Off when absent. */
  healthCheck: z
    .strictObject({
      path: z.string().startsWith('/').default('/health'),
      intervalSeconds: positiveInt.max(3600).default(10),
      timeoutMs: positiveInt.max(60_000).default(2000),
      /** Passes in a row that bring a target back. */
      healthyThreshold: positiveInt.max(100).default(2),
      /** Failures in a row that take it out. */
      unhealthyThreshold: positiveInt.max(100).default(3),
      /** Statuses that pass. */
      expectStatus: z.array(z.int().min(100).max(599)).min(1).default([200]),
    })
    .optional(),
  /** Retries of idempotent requests without a streamed body, each to another target when there is one. */
  retries: z
    .strictObject({
      /** Tries in all, the first included; 1 turns retries off. */
      attempts: positiveInt.max(10).default(2),
      on: z.array(z.enum(RETRY_ON)).default(['connect-failure', 'reset', '502', '503', '504']),
      /** A deadline for each try (a slow try is abandoned and retried); default: none beyond timeoutMs. */
      perTryTimeoutMs: positiveInt.max(3_600_000).optional(),
      /** Retries stay under this share of requests (Finagle's retry budget), so a dead upstream is not hit attempts × traffic. */
      budgetPercent: z.int().min(0).max(100).default(20),
    })
    .prefault({}),
  /** Per upstream: after this many failed requests in a row, a fast 503 without touching the network. Off when absent. */
  circuitBreaker: z
    .strictObject({
      consecutiveFailures: positiveInt.max(10_000).default(20),
      openSeconds: positiveInt.max(3600).default(10),
      /** Requests let through to probe when the open time is over. */
      halfOpenRequests: positiveInt.max(100).default(1),
    })
    .optional(),
  /** Whole-response deadline in milliseconds; past it the client gets 504. */
  timeoutMs: positiveInt.max(3_600_000).default(30_000),
  /**
   * The base client: "native" (keep-alive HTTP/1.1 on Bun.connect, for http:// targets) or
   * "fetch" (Bun's fetch; https:// targets always use it). See docs/proxying.md.
   */
  client: z.enum(['native', 'fetch']).default('native'),
  keepAlive: z
    .strictObject({
      /** Idle pooled connections kept per upstream and worker. */
      maxIdleSockets: z.int().min(0).max(1024).default(64),
      /** Native client: most connections open per target and worker. */
      maxConnections: positiveInt.max(65535).default(1000),
      /** Native client: requests that may wait for a connection when all are busy; more get 503 overloaded. */
      queueSize: z.int().min(0).max(100_000).default(1000),
      /** Native client: milliseconds a request may wait for a connection before it gets 503 overloaded. */
      queueTimeoutMs: positiveInt.max(60_000).default(1000),
      /** Seconds an idle pooled connection is kept; keep it below the upstream's own keep-alive. */
      idleTimeoutSeconds: positiveInt.max(14280).default(4),
    })
    .prefault({}),
  /** Largest upstream response header block in bytes; more is answered with 502. */
  maxResponseHeaderBytes: z.int().min(1024).max(1_048_576).default(65536),
  /**
   * Response bodies with a Content-Length up to this many bytes are read whole before the
   * head is sent (exact length, truncation → 502, native send); others stream. 0 = always stream.
   */
  bufferResponseBytes: z.int().min(0).max(16 * 1024 * 1024).default(65536),
  /** Send the client's Host upstream instead of the target's. */
  preserveHost: z.boolean().default(false),
  /** How https:// targets are verified (fetch's TLS); verification is on unless insecureSkipVerify. */
  tls: z
    .strictObject({
      /** CA certificates (PEM) trusted for the targets, instead of the system's. */
      caFile: z.string().min(1).optional(),
      /** The name the certificate must carry, when it is not the target's host (SNI too). */
      serverName: z.string().min(1).optional(),
      /** Accept any certificate. Only for tests: it makes TLS worthless against an active attacker. */
      insecureSkipVerify: z.boolean().default(false),
    })
    .optional(),
  /** HTTP/2 to https:// targets (fetch's experimental client); a target without h2 falls back to HTTP/1.1. */
  http2: z.boolean().default(false),
})

const routeCacheSchema = z.strictObject({
  /** Cache GET and HEAD responses of this route (RFC 9111; see docs/caching.md). */
  enabled: z.boolean().default(false),
  /**
   * "standard": follow the upstream's Cache-Control/Expires (RFC 9111). "override": cache
   * every storable status for ttlSeconds whatever the upstream says (Kong's cache_control:
   * false), but never private, no-store, Set-Cookie or Authorization responses.
   */
  mode: z.enum(['standard', 'override']).default('standard'),
  /** Seconds: the cap on heuristic freshness (Last-Modified), and the lifetime in override mode. */
  ttlSeconds: z.int().min(1).max(31_536_000).default(300),
  /** Requests carrying Cookie: "bypass" the cache, "ignore" the cookies, or make them part of the "key". */
  cookies: z.enum(['bypass', 'ignore', 'key']).default('bypass'),
  /** Responses with Set-Cookie: "bypass" (not stored), or "strip" (stored without Set-Cookie). */
  setCookie: z.enum(['bypass', 'strip']).default('bypass'),
  /**
   * Statuses override mode stores for ttlSeconds (nginx's proxy_cache_valid). Any other
   * status is stored only as the upstream's own Cache-Control/Expires allow.
   */
  statuses: z.array(z.int().min(200).max(599)).min(1).default([200, 203, 301, 308]),
  /**
   * Request Cache-Control/Pragma that would force an upstream fetch (no-cache, max-age=0,
   * no-store): "honour" them (RFC 9111), or "ignore" them (nginx's default) to shield the upstream.
   */
  clientNoCache: z.enum(['honour', 'ignore']).default('honour'),
  /** Milliseconds concurrent misses for one URL wait for the first one's answer before going upstream themselves. */
  lockTimeoutMs: z.int().min(0).max(60_000).default(5000),
  /**
   * Seconds past freshness a stored response may still be served while the upstream cannot be
   * reached (refused, reset, timed out, breaker open): RFC 9111 §4.2.4's "disconnected", like
   * nginx's proxy_cache_use_stale error timeout. must-revalidate, proxy-revalidate, s-maxage
   * and no-cache forbid it; 0 turns it off (stale-if-error still applies).
   */
  staleIfUnreachableSeconds: z.int().min(0).max(31_536_000).default(60),
})

const cacheStoreSchema = z.strictObject({
  /** Most stored responses per worker. */
  maxEntries: z.int().min(1).max(10_000_000).default(10_000),
  /** Most bytes of stored responses per worker (bodies, headers and bookkeeping). */
  maxBytes: z.int().min(1024).default(256 * 1024 * 1024),
  /** Largest body stored; larger responses stream through uncached, never fully buffered. */
  maxObjectBytes: z.int().min(1).default(1024 * 1024),
  /**
   * Targets this cache belongs to, in order (RFC 9213): `cdn` honours CDN-Cache-Control,
   * `gateway` Gateway-Cache-Control, `surrogate` Surrogate-Control. The first present one
   * replaces Cache-Control and Expires here, and they are not passed downstream.
   */
  targets: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'must be a lower-case target name (cdn, gateway, surrogate, ...)' })).default([]),
  /** The node's shared tier under each worker's store (SQLite in WAL mode; docs/caching.md). */
  shared: z
    .strictObject({
      /** Default: on when the node runs more than one worker. */
      enabled: z.boolean().optional(),
      /** The database file; default a file under the OS temp dir named by the primary's pid, removed at shutdown. */
      path: z.string().min(1).optional(),
      /** Most bytes of stored responses in the shared tier (bodies, headers and bookkeeping). */
      maxBytes: z.int().min(1024).default(256 * 1024 * 1024),
    })
    .prefault({}),
})

/** A lower-case field name (RFC 9110 §5.1 token). */
const fieldName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'must be a header field name' })
  .transform((name) => name.toLowerCase())

const apiKeyAuthSchema = z
  .strictObject({
    /** The request header carrying the key; `x-api-key` unless `query` is given. */
    header: fieldName.optional(),
    /** Or the query parameter carrying it (keys in URLs end up in logs: prefer a header). */
    query: z.string().regex(/^[A-Za-z0-9._~-]+$/, { error: 'must be a plain parameter name' }).optional(),
    /** Send the credential upstream too; by default it is removed before forwarding. */
    forwardCredential: z.boolean().default(false),
  })
  .refine((a) => !(a.header !== undefined && a.query !== undefined), { error: 'give header or query, not both' })

/** JWS algorithms a route may accept; `none` is not one of them (RFC 8725 §3.1). */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])

const jwtAuthSchema = z
  .strictObject({
    /** The allowlist; HS* need `secret`, the others a public key or a JWKS (no HS/RS confusion). */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1),
    /** HMAC secret: `env:NAME`, `file:/path`, or the secret itself (at least 32 bytes). */
    secret: z.string().min(1).optional(),
    /** A PEM public key (SPKI). */
    publicKeyFile: z.string().min(1).optional(),
    /** A JWKS document on disk, read at load. */
    jwksFile: z.string().min(1).optional(),
    /** A JWKS URL, fetched at start and refreshed in the background, never on a request. */
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Seconds between JWKS refreshes. */
    jwksRefreshSeconds: z.int().min(1).max(86_400).default(300),
    /** Required `iss` (one, or any of a list). */
    issuer: stringOrList.optional(),
    /** Required `aud` (one, or any of a list). */
    audience: stringOrList.optional(),
    /** Leeway for exp and nbf. */
    clockSkewSeconds: z.int().min(0).max(600).default(30),
    /** Longest token accepted; longer ones are refused before any parsing. */
    maxTokenBytes: z.int().min(256).max(65_536).default(8192),
    /** Seconds a verified token is reused without a new signature check (never past its exp); 0 = check every request. */
    cacheSeconds: z.int().min(0).max(3600).default(60),
    /** Refuse tokens without `exp` (RFC 7519 §4.1.4 makes it optional; without it a token never expires). */
    requireExp: z.boolean().default(true),
    /** Send the Authorization header upstream too; by default it is removed. */
    forwardCredential: z.boolean().default(false),
  })
  .refine((j) => [j.secret, j.publicKeyFile, j.jwksFile, j.jwksUrl].filter((v) => v !== undefined).length === 1, {
    error: 'give exactly one of secret, publicKeyFile, jwksFile, jwksUrl',
  })
  .refine((j) => j.algorithms.every((a) => a.startsWith('HS')) === (j.secret !== undefined) && j.algorithms.every((a) => a.startsWith('HS') === j.algorithms[0]!.startsWith('HS')), {
    error: 'HS* algorithms go with secret, and only with it; do not mix them with public-key algorithms',
    path: ['algorithms'],
  })

const routeAuthSchema = z.strictObject({
  /** API keys of the top-level `consumers` (docs/policies.md). */
  apiKey: apiKeyAuthSchema.optional(),
  /** A Bearer JWT; its `sub` becomes the consumer (docs/policies.md). */
  jwt: jwtAuthSchema.optional(),
  /** The header that tells the upstream who the consumer is; a client-sent copy is always removed. */
  consumerHeader: fieldName.default('x-consumer'),
  /**
   * Failed authentications (a wrong key or token, not a missing one) a client address may make
   * per minute, per worker; past it 429 with Retry-After before any credential is checked. 0 = off.
   */
  failureLimit: z.int().min(0).max(1_000_000).default(30),
}).refine((a) => !(a.apiKey && a.jwt), { error: 'give apiKey or jwt, not both' })

/** Every header that carries a consumer upstream: the default and each route's; only auth sets them. */
export function consumerHeaderNames(routes: readonly { auth?: { consumerHeader: string } | undefined }[]): Set<string> {
  return new Set(['x-consumer', ...routes.flatMap((r) => (r.auth ? [r.auth.consumerHeader] : []))])
}

const consumerSchema = z.strictObject({
  /** Who the consumer is: sent upstream in the consumer header, so a plain token. */
  name: z.string().regex(/^[A-Za-z0-9._@-]{1,100}$/, { error: 'must be 1-100 letters, digits, ".", "_", "@" or "-"' }),
  /** Its keys: `sha256:<hex>`, `env:NAME`, `file:/path`, or the key itself (config/secrets.ts). */
  apiKeys: z.array(z.string().min(1)).min(1),
})

const rateLimitSchema = z.strictObject({
  /** The sustained rate, for the whole node (every worker draws on the same buckets). */
  requestsPerSecond: z.number().positive().max(1_000_000),
  /** Requests allowed at once after a quiet spell; default: one second's worth. */
  burst: z.int().min(1).max(10_000_000).optional(),
  /** What is counted: the consumer (else the client address), the client address, or `header:<name>`. */
  key: z
    .union([z.enum(['consumer', 'ip']), z.string().regex(/^header:[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'must be consumer, ip or header:<name>' })])
    .default('consumer'),
  /** `node`: buckets in this node's primary. `global`: buckets in Redis, shared by every replica (needs `redis`). */
  scope: z.enum(['node', 'global']).default('node'),
  /** A global limit while Redis cannot be reached: `allow` falls back to the node limit, `deny` answers 503. */
  onStoreFailure: z.enum(['allow', 'deny']).default('allow'),
})

/** Header rules of one direction: names are matched case-insensitively. */
const headerRulesSchema = z.strictObject({
  /** Appended (after any value already there). */
  add: z.record(fieldName, z.string()).default({}),
  /** Replacing any value already there. */
  set: z.record(fieldName, z.string()).default({}),
  /** Removed. */
  remove: z.array(fieldName).default([]),
})

const corsSchema = z
  .strictObject({
    /** Origins allowed to read answers (`https://app.example`), or ["*"] for any (never with credentials). */
    origin: z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, { error: 'must be "*" or a scheme://host[:port] origin' })).min(1),
    /** Methods a preflight allows; default: the route's methods. */
    allowMethods: z.array(z.enum(ROUTE_METHODS)).min(1).optional(),
    /** Request headers a preflight allows; default: those the preflight asks for. */
    allowHeaders: z.array(fieldName).optional(),
    /** Response headers scripts may read beyond the safelisted ones. */
    exposeHeaders: z.array(fieldName).default([]),
    /** Let browsers send cookies and read answers to credentialed requests. */
    credentials: z.boolean().default(false),
    /** Seconds a browser may cache a preflight answer. */
    maxAge: z.int().min(0).max(86_400).default(600),
  })
  .refine((c) => !(c.credentials && c.origin.includes('*')), { error: 'credentials cannot go with origin "*" (Fetch standard)' })

const routeSchema = z.strictObject({
  /** Name used in logs and metrics; defaults to the path. */
  name: z.string().min(1).max(100).optional(),
  /** Path prefix, matched on whole segments of the normalised path; the longest prefix wins. */
  path: z
    .string()
    .startsWith('/', { error: 'must start with "/"' })
    .refine((p) => !/[?#%\s]/.test(p), { error: 'must be a plain path (no query, "%" or spaces)' })
    // Hono's router reads these as parameters, wildcards and patterns.
    .refine((p) => !/[*{}()]|\/:/.test(p), { error: 'must not contain "*", "{", "}", "(", ")" or a segment starting with ":"' }),
  /** Name of an entry under `upstreams`. */
  upstream: z.string().min(1),
  /** Remove the route's path prefix before forwarding. */
  stripPrefix: z.boolean().default(false),
  /** Allowed methods; others get 405 with Allow. Omitted: all of ROUTE_METHODS. */
  methods: z.array(z.enum(ROUTE_METHODS)).min(1).optional(),
  /** Match only requests whose Host (without port) equals this, case-insensitively. */
  host: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, { error: 'must be a host name without port' })
    .optional(),
  cache: routeCacheSchema.prefault({}),
  /** Who may call the route (docs/policies.md); none by default. */
  auth: routeAuthSchema.optional(),
  /** A token bucket per key, exact across the node's workers (docs/policies.md). */
  rateLimit: rateLimitSchema.optional(),
  /** Cross-origin access for browsers; preflights are answered by the gateway. */
  cors: corsSchema.optional(),
  /** Proxy WebSocket upgrades on this route. */
  websocket: z.boolean().default(true),
  /** Largest request body on this route; default server.maxBodyBytes. */
  maxBodyBytes: z.int().min(0).optional(),
  /** Rules for the headers sent upstream (after the forwarding rules). */
  requestHeaders: headerRulesSchema.optional(),
  /** Rules for the headers sent to the client. */
  responseHeaders: headerRulesSchema.optional(),
})

/** The Redis that replicas share: global rate limits, cache purge and invalidation fan-out. */
const redisSchema = z.strictObject({
  /** `redis://[:password@]host:port[/db]` or `rediss://` for TLS; REDIS_URL sets it too. */
  url: z.string().regex(/^rediss?:\/\/[^\s]+$/, { error: 'must be a redis:// or rediss:// URL' }),
  /** ACL user name (AUTH user password): `env:NAME`, `file:/path` or the name itself. */
  username: z.string().min(1).optional(),
  /** Password for AUTH: `env:NAME`, `file:/path` (or, avoid it, the literal); resolved at load, never logged. */
  password: z.string().min(1).optional(),
  /** How a rediss:// server's certificate is verified; the system CAs by default. */
  tls: z
    .strictObject({
      /** CA certificates (PEM) trusted for the Redis server, instead of the system's. */
      caFile: z.string().min(1).optional(),
      /** The name the certificate must carry, when it is not the URL's host (SNI too). */
      serverName: z.string().min(1).optional(),
      /** Accept any certificate. Only for tests: it makes TLS worthless against an active attacker. */
      insecureSkipVerify: z.boolean().default(false),
    })
    .optional(),
  /**
   * Shared by every replica (at least 32 bytes; `env:NAME`, `file:/path` or literal): signs
   * purge and invalidation messages (HMAC-SHA256). Without it the bus is off.
   */
  busSecret: z.string().min(1).optional(),
  /** Prefixed to every key and channel, so gateways of several environments can share one Redis. */
  keyPrefix: z.string().max(100).default('gateway:'),
  /** How long a connection attempt may take before it counts as a failure. */
  connectTimeoutMs: positiveInt.max(60_000).default(1000),
  /** How long one command may take; past it the rate limit falls back (`onStoreFailure`). */
  commandTimeoutMs: positiveInt.max(10_000).default(100),
})

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  redis: redisSchema.optional(),
  admin: adminSchema.prefault({}),
  /** The response store shared by every cache-enabled route of a worker. */
  cache: cacheStoreSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  log: logSchema.prefault({}),
  upstreams: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), upstreamSchema).default({}),
  routes: z.array(routeSchema).default([]),
  /** The callers routes can authenticate (`routes[].auth`). */
  consumers: z.array(consumerSchema).default([]),
})

export type GatewayConfig = z.output<typeof configSchema>
export type RedisConfig = NonNullable<GatewayConfig['redis']>
export type ServerConfig = GatewayConfig['server']
export type UpstreamConfig = GatewayConfig['upstreams'][string]
export type RouteConfig = GatewayConfig['routes'][number]
export type RouteCacheConfig = RouteConfig['cache']
export type RouteAuthConfig = NonNullable<RouteConfig['auth']>
export type ConsumerConfig = GatewayConfig['consumers'][number]
export type HeaderRules = NonNullable<RouteConfig['requestHeaders']>
export type CorsConfig = NonNullable<RouteConfig['cors']>
export type RouteMethod = (typeof ROUTE_METHODS)[number]
