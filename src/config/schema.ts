/**
 * The one config schema: every key, its type, unit and default. Types are derived from it,
 * so the file, the env overrides and the code cannot disagree. `gateway.example.yaml`
 * documents the same keys for operators.
 */
import { z } from 'zod'
import { ACCESS_LOG_FIELDS } from '../access-log/fields.ts'
import { isIpOrCidr } from '../net/ip-matcher.ts'
import { matchSchema } from './match.ts'
import { consumerSchema } from '../policies/auth/schema.ts'
import { cacheStoreSchema } from '../policies/cache/schema.ts'
import { compressionSchema } from '../policies/compression/schema.ts'
import { headerRulesSchema } from '../policies/fields.ts'
import { FIELD_NAME, ROUTE_METHODS } from '../policies/field-rules.ts'
import { routePolicyShape } from '../policies/index.ts'
import { pluginName, pluginsSchema } from '../policies/plugins/schema.ts'
import { splitStickyOnSchema } from '../policies/split/schema.ts'

const port = z.int().min(0).max(65535)
const positiveInt = z.int().min(1)

/** A DNS name (letters, digits, hyphens; labels of 1-63, 253 in all), optionally `*.` first: an SNI server name. */
const SERVER_NAME = /^(?=.{1,253}$)(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i

/** An upstream target: absolute http(s) URL, optional base path, no query, fragment or credentials. */
const targetUrl = z.string().check((ctx) => {
  const problem = targetUrlProblem(ctx.value)
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value })
})

function targetUrlProblem(value: string): string | undefined {
  if (!/^(srv\+)?https?:\/\//i.test(value)) return 'must start with http:// or https://'
  const srv = /^srv\+/i.test(value)
  let url: URL
  try {
    url = new URL(srv ? value.slice(4) : value)
  } catch {
    return `not a URL: "${value}"`
  }
  if (url.username || url.password) return 'must not carry credentials'
  if (url.search || url.hash || value.includes('?') || value.includes('#'))
    return 'must not have a query or fragment'
  // RFC 2782: the SRV name is _service._proto.domain; each record gives the port.
  if (srv && !/^_[^.]+\._[^.]+\.[^.]/.test(url.hostname)) return 'an srv+ target must name _service._proto.domain'
  if (srv && url.port) return 'an srv+ target takes its ports from the SRV records: no port'
  return undefined
}

/** A DNS server for `dns.servers`: an IP address, with an optional port (`10.0.0.2:53`, `[fd00::2]:53`). */
const dnsServer = z.string().refine((value) => {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(value) ?? [value, value, undefined]
  const port = m[2] === undefined ? 53 : Number(m[2])
  return isIpOrCidr(m[1]!) && !m[1]!.includes('/') && port >= 1 && port <= 65535
}, { error: 'must be an IP address with an optional port, e.g. 10.0.0.2:53 or [fd00::2]:53' })

/** How targets written with a name are resolved (docs/upstreams.md, "DNS"). */
const dnsSchema = z.strictObject({
  /** DNS servers queried, each `ip[:port]`; the system's (/etc/resolv.conf) when empty. */
  servers: z.array(dnsServer).default([]),
  /** Shortest wait between two resolutions of a name, in seconds, whatever its TTL (also the retry delay after a failure). */
  minTtlSeconds: z.int().min(1).max(86_400).default(5),
  /** Longest wait between two resolutions of a name, in seconds, whatever its TTL. */
  maxTtlSeconds: z.int().min(1).max(86_400).default(300),
})

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
      /**
       * More certificates, each chosen by the SNI name the client sends (RFC 6066 §3); certFile
       * and keyFile above answer every other name and clients without SNI.
       */
      certificates: z
        .array(
          z.strictObject({
            /** The certificate, then its intermediates (PEM). */
            certFile: z.string().min(1),
            keyFile: z.string().min(1),
            /** Host names this certificate answers; `*.example.com` stands for exactly one label. */
            serverNames: z.array(z.string().regex(SERVER_NAME, { error: 'must be a host name, or *. and a host name' })).min(1),
          })
        )
        .optional(),
      /** Client certificates (mTLS): a client without one that caFile verifies fails the TLS handshake. */
      clientAuth: z
        .strictObject({
          /**
           * Only require: "optional" needs each request's client certificate, which Bun.serve does
           * not expose (oven-sh/bun#14097; docs/proxying.md, "Client certificates").
           */
          mode: z.literal('require', { error: 'only "require" is supported: "optional" needs the client certificate of each request, which Bun.serve does not expose (oven-sh/bun#14097)' }).default('require'),
          /** The CA certificates (PEM) that client certificates must chain to. */
          caFile: z.string().min(1),
        })
        .optional(),
    })
    .optional(),
  /** With `tls`: also listen for plain HTTP here and answer 308 to the https:// URL. */
  httpRedirectPort: port.optional(),
  /**
   * With `tls`: offer HTTP/2 by ALPN (RFC 9113 §3.2) on the public port; clients without h2
   * (and WebSocket) stay on HTTP/1.1. Bun calls its HTTP/2 server experimental.
   */
  http2: z.boolean().default(false),
  /**
   * Without `tls`: also serve cleartext HTTP/2 to clients that open with the preface (prior
   * knowledge, RFC 9113 §3.3), e.g. a load balancer or gRPC-style client; HTTP/1.1 stays served.
   */
  h2c: z.boolean().default(false),
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
   * When set, /metrics, /upstreams, POST /cache/purge and the admin page (/, /status.json; a
   * login form there) want `Authorization: Bearer <token>`: the token,
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

/** The access log: `true`/`false`, or what it writes and where (docs/monitoring.md). */
export const accessLogSchema = z.strictObject(
  {
    /** One JSON line per request (secrets redacted); true when `access` is a mapping. */
    enabled: z.boolean().default(true),
    /** Append to this file (created 0600, opened again on SIGUSR1 for logrotate) instead of stdout. */
    file: z.string().min(1).optional(),
    /** Only these fields, in the line's own order (`event` is always there); default all. */
    fields: z.array(z.enum(ACCESS_LOG_FIELDS)).min(1).optional(),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'expected true, false or a mapping (enabled, file, fields)' : undefined) }
)

/** `log.access`: `true`/`false` is `{ enabled }` (a preprocess rather than a union, so a bad key keeps its own message). */
export const accessLogSetting = z.preprocess((value) => (typeof value === 'boolean' ? { enabled: value } : value), accessLogSchema)

const logSchema = z.strictObject({
  /** The access log: true, false (the default), or { enabled, file, fields }. */
  access: accessLogSetting.prefault(false),
  /** Fraction of requests logged when access logs are on, 0-1. */
  sampleRate: z.number().min(0).max(1).default(1),
  /** Upstream failure lines: at most one per target and error code in this many ms, per worker; 0 writes each. */
  failureIntervalMs: z.int().min(0).max(3_600_000).default(10_000),
})

/** OpenTelemetry traces (docs/monitoring.md, Tracing): off unless `endpoint` is set. */
const tracingSchema = z.strictObject({
  /** The collector's OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces (protobuf is sent). */
  endpoint: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional(),
  /** Share of new traces recorded, 0-1, decided on the trace id; a trusted caller's sampled flag wins. */
  sampleRatio: z.number().min(0).max(1).default(1),
  /**
   * Whose incoming `traceparent`/`tracestate` is continued: nobody's (false: every request
   * starts a trace), everybody's (true), or the TCP peers in these IPs/CIDRs.
   */
  trustIncoming: z
    .union([z.boolean(), z.array(z.string().refine(isIpOrCidr, { error: 'must be an IP address or CIDR range' }))])
    .default(false),
  /** The resource's service.name. */
  serviceName: z.string().min(1).max(200).default('bun-gateway'),
  /** Headers sent with every export (an API key): each value the literal, `env:NAME` or `file:/path`, resolved at load. */
  headers: z.record(z.string().regex(FIELD_NAME, { error: 'must be a header name' }), z.string().min(1)).default({}),
  /** More resource attributes (deployment.environment.name, service.namespace...). */
  resourceAttributes: z.record(z.string().min(1).max(200), z.string().max(1000)).default({}),
  /** Ended spans waiting for export, per worker; past it new spans are dropped and counted. */
  queueSize: positiveInt.max(1_000_000).default(2048),
  /** Most spans in one export request. */
  batchSize: positiveInt.max(100_000).default(512),
  /** Milliseconds between exports of what is queued (a full batch leaves at once). */
  intervalMs: positiveInt.max(600_000).default(5000),
  /** Milliseconds one export may take; then its spans are dropped and counted. */
  exportTimeoutMs: positiveInt.max(600_000).default(10_000),
})

/** How the gateway verifies a server it connects to (an https:// upstream, a rediss:// Redis). */
const clientTlsSchema = z.strictObject({
  /** CA certificates (PEM) trusted for the server, instead of the system's. */
  caFile: z.string().min(1).optional(),
  /** The name the certificate must carry, when it is not the URL's host (SNI too). */
  serverName: z.string().min(1).optional(),
  /** Accept any certificate. Only for tests: it makes TLS worthless against an active attacker. */
  insecureSkipVerify: z.boolean().default(false),
})

export const weightedTarget = z.strictObject({ url: targetUrl, weight: z.int().min(1).max(1000).default(1) })

/**
 * A target: a base URL, or `{ url, weight }`; always `{ url, weight }` once parsed. Written
 * as one transform rather than a union, so a bad URL keeps its own message.
 */
export const targetSchema = z.unknown().transform((value, ctx) => {
  const parsed = weightedTarget.safeParse(typeof value === 'string' ? { url: value } : value, { reportInput: true })
  if (parsed.success) return parsed.data
  for (const issue of parsed.error.issues) {
    const path = typeof value === 'string' ? issue.path.slice(1) : issue.path
    // zod's own messages are written again by the outer parse's error map (config/issues.ts).
    const message = issue.code === 'custom' ? issue.message : undefined
    ctx.issues.push({ ...issue, path, message, input: issue.input ?? value } as (typeof ctx.issues)[number])
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
      /** Idle pooled connections kept per upstream and worker once a load has passed (native: a burst's surplus closes after 1 s idle). */
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
  tls: clientTlsSchema.optional(),
  /** HTTP/2 to https:// targets (fetch's experimental client); a target without h2 falls back to HTTP/1.1. */
  http2: z.boolean().default(false),
})

export const routeSchema = z.strictObject({
  /** Name used in logs and metrics; defaults to the path, with its `match` in brackets when it has one. */
  name: z.string().min(1).max(100).optional(),
  /** Path prefix, matched on whole segments of the normalised path; the longest prefix wins. */
  path: z
    .string()
    .startsWith('/', { error: 'must start with "/"' })
    .refine((p) => !/[?#%\s]/.test(p), { error: 'must be a plain path (no query, "%" or spaces)' })
    // Hono's router reads these as parameters, wildcards and patterns.
    .refine((p) => !/[*{}()]|\/:/.test(p), { error: 'must not contain "*", "{", "}", "(", ")" or a segment starting with ":"' }),
  /** Name of an entry under `upstreams`; a route has this or `split`, or only a `redirect`. */
  upstream: z.string().min(1).optional(),
  /** With `split`: its weighted choice by a hash of `header:<name>` or `cookie:<name>`, so a user stays on one upstream (docs/proxying.md). */
  splitStickyOn: splitStickyOnSchema.optional(),
  /** Remove the route's path prefix before forwarding. */
  stripPrefix: z.boolean().default(false),
  /** Allowed methods; others get 405 with Allow. Omitted: all of ROUTE_METHODS. */
  methods: z.array(z.enum(ROUTE_METHODS)).min(1).optional(),
  /** Match only requests whose Host (without port) equals this, case-insensitively. */
  host: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, { error: 'must be a host name without port' })
    .optional(),
  /** Exact path, header and query matchers; routes may share a path when these differ (docs/proxying.md). */
  match: matchSchema.optional(),
  /** Proxy WebSocket upgrades on this route. */
  websocket: z.boolean().default(true),
  /** Largest request body on this route; default server.maxBodyBytes. */
  maxBodyBytes: z.int().min(0).optional(),
  /** Rules for the headers sent upstream (after the forwarding rules). */
  requestHeaders: headerRulesSchema.optional(),
  /** Plugins (top-level `plugins`) this route runs, each at its phase, in this order (docs/plugins.md). */
  plugins: z.array(pluginName).default([]),
  /**
   * The built-in policies' keys, each with its policy's schema (policies/index.ts):
   * responseHeaders, cors, auth, rateLimit, rewrite, redirect, split, mirror, cache, compression (docs/policies.md, docs/caching.md, docs/proxying.md).
   */
  ...routePolicyShape(),
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
  tls: clientTlsSchema.optional(),
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
  /** Response compression, the defaults of every route (`routes[].compression` changes them for one). */
  compression: compressionSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  log: logSchema.prefault({}),
  tracing: tracingSchema.optional(),
  /** Resolution of targets written with a name: A/AAAA, or SRV for srv+http(s):// (docs/upstreams.md, "DNS"). */
  dns: dnsSchema.prefault({}),
  upstreams: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), upstreamSchema).default({}),
  routes: z.array(routeSchema).default([]),
  /** The callers routes can authenticate (`routes[].auth`). */
  consumers: z.array(consumerSchema).default([]),
  /** Policies of your own: TypeScript modules or Hono middleware, by name (docs/plugins.md). */
  plugins: pluginsSchema,
})

export type GatewayConfig = z.output<typeof configSchema>
export type RedisConfig = NonNullable<GatewayConfig['redis']>
export type ServerConfig = GatewayConfig['server']
export type UpstreamConfig = GatewayConfig['upstreams'][string]
export type RouteConfig = GatewayConfig['routes'][number]
export type HeaderRules = NonNullable<RouteConfig['requestHeaders']>

// The kernel's Settings are this config: policies see it typed, and import nothing above them.
declare module '../kernel/policy.ts' {
  interface Settings extends GatewayConfig {}
  interface RouteSettings extends RouteConfig {}
}
