/** What `bun run bench` measures: one entry per scenario, each against the gateway (and nginx). */
import { join } from 'node:path'

export interface Scenario {
  name: string
  /** Against the fixture upstream directly instead of a proxy (the baseline). */
  direct?: boolean
  path: string
  method?: string
  bodyBytes?: number
  /** A different URL per request (cache misses). */
  unique?: boolean
  /** Overrides --connections (the burst). */
  connections?: number
  /** Fraction of --duration (the burst is short). */
  durationShare?: number
  /** Requests sent first and not measured (fills the cache). */
  warm?: boolean
  /** Request headers (the credential of the authenticated scenarios). */
  headers?: Record<string, string>
  /** https: against a second gateway terminating TLS; websocket: echoed messages (bench/ws-load.ts). */
  protocol?: 'https' | 'websocket'
  /** Needs a Redis (bench/run.ts starts redis-server). */
  redis?: boolean
  /** The scenario this one's "vs direct" ratios are taken against; default `direct`. */
  baseline?: string
  describe: string
}

/**
 * The bench's credentials: a consumer's API key, and an HS256 token for BENCH_JWT_SECRET.
 * The token's exp is far off (2100) rather than absent: the gateway refuses tokens without
 * exp (jwt.requireExp).
 */
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef'
export const BENCH_JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123'
const base64url = (text: string) => Buffer.from(text).toString('base64url')
const JWT_SIGNED = `${base64url('{"alg":"HS256","typ":"JWT"}')}.${base64url('{"sub":"bench","exp":4102444800}')}`
const BENCH_JWT = `${JWT_SIGNED}.${new Bun.CryptoHasher('sha256', BENCH_JWT_SECRET).update(JWT_SIGNED).digest('base64url')}`

export const SCENARIOS: readonly Scenario[] = [
  { name: 'direct', direct: true, path: '/small', describe: 'small GET on the upstream directly (baseline)' },
  { name: 'health', path: '/health', describe: "the gateway's own /health" },
  { name: 'proxied', path: '/api/small', describe: 'small GET proxied' },
  { name: 'cache-hit', path: '/cached/small', warm: true, describe: 'small GET answered from the cache' },
  { name: 'cache-miss', path: '/cached/miss', unique: true, describe: 'unique URLs through the cache (every request a miss)' },
  { name: 'authenticated', path: '/keyed/small', headers: { 'x-api-key': BENCH_API_KEY }, describe: 'small GET proxied behind an API key' },
  { name: 'jwt', path: '/jwt/small', headers: { authorization: `Bearer ${BENCH_JWT}` }, describe: 'small GET proxied behind an HS256 JWT' },
  { name: 'plugin', path: '/plugin/small', baseline: 'proxied', describe: 'small GET proxied through a no-op plugin (bench/plugins/noop.ts)' },
  { name: 'hono-plugin', path: '/hono/small', baseline: 'proxied', describe: 'small GET proxied through a no-op Hono middleware (a Hono Context per request)' },
  { name: 'global-limit', path: '/limited/small', redis: true, baseline: 'proxied', describe: 'small GET proxied under a global (Redis) rate limit it never reaches' },
  { name: 'post-4k', path: '/api/echo', method: 'POST', bodyBytes: 4096, describe: 'POST with a 4 KiB body' },
  { name: 'large', path: '/api/large', describe: '256 KiB GET proxied (streamed)' },
  { name: 'tls', path: '/api/small', protocol: 'https', describe: 'small GET proxied, TLS terminated by the gateway' },
  { name: 'websocket-direct', direct: true, path: '/ws', protocol: 'websocket', describe: 'WebSocket echo on the upstream directly (messages/s)' },
  { name: 'websocket', path: '/api/ws', protocol: 'websocket', baseline: 'websocket-direct', describe: 'WebSocket echo through the gateway (messages/s)' },
  { name: 'burst', path: '/api/small', connections: 256, durationShare: 0.5, describe: 'small GET, 256 connections, short' },
]

/** Scenarios named in `--scenario a,b` (all when empty); throws on an unknown name. */
export function selectScenarios(names: string | undefined): Scenario[] {
  if (!names) return [...SCENARIOS]
  const wanted = names.split(',').map((n) => n.trim()).filter(Boolean)
  const unknown = wanted.filter((n) => !SCENARIOS.some((s) => s.name === n))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  // The baselines the chosen ones compare with are always measured: ratios need them.
  const baselines = new Set(['direct', ...SCENARIOS.filter((s) => wanted.includes(s.name) && s.baseline).map((s) => s.baseline!)])
  return SCENARIOS.filter((s) => baselines.has(s.name) || wanted.includes(s.name))
}

/** The gateway config the bench runs (through the real start path); with `redisUrl`, the /limited route too. */
export function gatewayConfig(upstreamPort: number, workers: string, client?: string, redisUrl?: string): Record<string, unknown> {
  // High enough never to refuse: the scenario measures what the limit costs, not what it refuses.
  const limited = { name: 'limited', path: '/limited', upstream: 'fixture', stripPrefix: true, rateLimit: { requestsPerSecond: 1_000_000, burst: 10_000_000, key: 'ip', scope: 'global' } }
  return {
    ...(redisUrl ? { redis: { url: redisUrl } } : {}),
    server: { host: '127.0.0.1', port: 0, workers: workers === 'auto' ? 'auto' : Number(workers) },
    admin: { port: 0 },
    upstreams: { fixture: { targets: [`http://127.0.0.1:${upstreamPort}`], ...(client ? { client } : {}) } },
    routes: [
      { name: 'cached', path: '/cached', upstream: 'fixture', cache: { enabled: true } },
      { name: 'api', path: '/api', upstream: 'fixture', stripPrefix: true },
      { name: 'keyed', path: '/keyed', upstream: 'fixture', stripPrefix: true, auth: { apiKey: {} } },
      { name: 'jwt', path: '/jwt', upstream: 'fixture', stripPrefix: true, auth: { jwt: { algorithms: ['HS256'], secret: BENCH_JWT_SECRET } } },
      { name: 'plugin', path: '/plugin', upstream: 'fixture', stripPrefix: true, plugins: ['noop'] },
      { name: 'hono', path: '/hono', upstream: 'fixture', stripPrefix: true, plugins: ['hono-noop'] },
      ...(redisUrl ? [limited] : []),
    ],
    consumers: [{ name: 'bench', apiKeys: [BENCH_API_KEY] }],
    plugins: {
      noop: { module: join(import.meta.dir, 'plugins', 'noop.ts') },
      'hono-noop': { hono: { module: join(import.meta.dir, 'plugins', 'hono-noop.ts') } },
    },
  }
}
