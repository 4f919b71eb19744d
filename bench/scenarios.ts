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
  /**
   * https: against a second gateway terminating TLS; websocket: echoed messages (bench/ws-load.ts);
   * h2: HTTP/2 over TLS (ALPN h2) with h2load, against a gateway with server.http2 on.
   */
  protocol?: 'https' | 'websocket' | 'h2'
  /** h2: concurrent streams per connection (h2load -m). */
  streams?: number
  /** Against the gateway with server.http2 on, whatever the protocol. */
  h2Port?: boolean
  /** Needs a Redis (bench/run.ts starts redis-server). */
  redis?: boolean
  /** The scenario this one's "vs direct" ratios are taken against; default `direct`. */
  baseline?: string
  /** Its baseline is loaded in its rounds, alternating with it: a goal is the ratio to it (/health to bare Bun.serve). */
  besideBaseline?: boolean
  /** Against the bench's own leanest Bun server (bench/floor/) instead of the gateway: a baseline, like direct. */
  floorServer?: 'proxy' | 'hit' | 'required-proxy' | 'required-hit'
  /** The floor scenario this one's "vs floor" ratios are taken against. */
  floor?: 'floor-proxy' | 'floor-hit'
  /** Against a second gateway, the same config but without the node's shared cache tier (cache.shared.enabled: false). */
  localCacheOnly?: boolean
  /** Against a gateway of its own, started for it with `count` routes (one per host when `host`; with header-matcher twins when `matchers`), its boot timed. */
  routes?: { count: number; host?: boolean; matchers?: boolean }
  /** Run only when asked for, by its name or its group's (`--scenario routes`): not in a default or --quick run. */
  group?: 'routes' | 'concurrency' | 'http2' | 'compression' | 'required'
  describe: string
}

/** The route the routes scenarios request: the middle of the table. */
const middle = (count: number) => Math.floor(count / 2)
const ROUTES_HOST = (i: number) => `svc${i}.bench.test`

/**
 * The bench's credentials: a consumer's API key, and an HS256 token for BENCH_JWT_SECRET.
 * The token's exp is far off (2100) rather than absent: the gateway refuses tokens without
 * exp (jwt.requireExp).
 */
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef'
export const BENCH_JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123'
const base64url = (text: string) => Buffer.from(text).toString('base64url')
const JWT_SIGNED = `${base64url('{"alg":"HS256","typ":"JWT"}')}.${base64url('{"sub":"bench","exp":4102444800}')}`
/** What the compression scenarios ask for: gzip, the coding nginx makes. */
const GZIP = { 'Accept-Encoding': 'gzip' }
const BENCH_JWT = `${JWT_SIGNED}.${new Bun.CryptoHasher('sha256', BENCH_JWT_SECRET).update(JWT_SIGNED).digest('base64url')}`

// A floor is listed just before the scenario it is the floor of, and is loaded in that
// scenario's rounds (run.ts): side by side in time, the two see the same neighbours.
export const SCENARIOS: readonly Scenario[] = [
  { name: 'direct', direct: true, path: '/small', describe: 'small GET on the upstream directly (baseline)' },
  { name: 'health', path: '/health', besideBaseline: true, describe: "the gateway's own /health" },
  { name: 'floor-proxy', floorServer: 'proxy', path: '/small', describe: 'small GET through the leanest Bun proxy (bench/floor/proxy.ts): the floor for proxied' },
  {
    name: 'required-proxy',
    floorServer: 'required-proxy',
    path: '/api/small',
    floor: 'floor-proxy',
    group: 'required',
    describe: "small GET through the floor proxy with the gateway's required work hand-written (bench/floor/required-proxy.ts): the least a Bun gateway doing it costs",
  },
  { name: 'proxied', path: '/api/small', floor: 'floor-proxy', describe: 'small GET proxied' },
  { name: 'floor-hit', floorServer: 'hit', path: '/cached/small', describe: 'small GET from the leanest Bun cache hit (bench/floor/hit.ts): the floor for cache-hit' },
  {
    name: 'required-hit',
    floorServer: 'required-hit',
    path: '/cached/small',
    floor: 'floor-hit',
    group: 'required',
    describe: "small GET from the floor cache hit with the gateway's required work hand-written (bench/floor/required-hit.ts): the least a Bun cache hit doing it costs",
  },
  { name: 'cache-hit', path: '/cached/small', warm: true, floor: 'floor-hit', describe: 'small GET answered from the cache' },
  { name: 'cache-miss-local', path: '/cached/miss', unique: true, localCacheOnly: true, describe: 'unique URLs through the cache, no shared tier (each worker its own store)' },
  { name: 'cache-miss', path: '/cached/miss', unique: true, baseline: 'cache-miss-local', describe: 'unique URLs through the cache and the shared tier (every request a miss, stored in both)' },
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
  ...[1, 1_000, 10_000].map(
    (count): Scenario => ({
      name: `routes-${count}`,
      group: 'routes',
      routes: { count },
      path: `/svc${middle(count)}/small`,
      ...(count > 1 ? { baseline: 'routes-1' } : {}),
      describe: `small GET to the middle one of ${count.toLocaleString('en')} prefix routes (a gateway of its own)`,
    })
  ),
  {
    name: 'routes-10000-match',
    group: 'routes',
    routes: { count: 10_000, matchers: true },
    path: `/svc${middle(10_000)}/small`,
    baseline: 'routes-1',
    describe: 'small GET to the middle one of 10,000 prefix routes, every other path with a twin for X-Canary: 1 (tested first, not taken)',
  },
  {
    name: 'routes-1000-host',
    group: 'routes',
    routes: { count: 1_000, host: true },
    path: '/api/small',
    // "Host", capitalised: wrk replaces its own Host header only when the name is spelt so.
    headers: { Host: ROUTES_HOST(middle(1_000)) },
    baseline: 'routes-1',
    describe: 'small GET to the middle one of 1,000 routes, one per host, all at /api',
  },
  // 16 connections × 4 streams: 64 requests in flight, as the HTTP/1.1 scenarios' 64 connections.
  { name: 'h2', group: 'http2', path: '/api/small', protocol: 'h2', connections: 16, streams: 4, describe: 'small GET proxied over HTTP/2 (TLS, ALPN h2), 16 connections × 4 streams (h2load)' },
  { name: 'tls-h2-port', group: 'http2', path: '/api/small', protocol: 'https', h2Port: true, baseline: 'tls', describe: 'small GET proxied over HTTP/1.1 + TLS to a port with server.http2 on (the wait of one turn before forwarding)' },
  // Compression (issue 26): a 4 KiB JSON answer, gzip asked for; nginx with gzip_comp_level 1 (bench/nginx.ts).
  { name: 'proxied-4k', group: 'compression', path: '/api/text', headers: GZIP, describe: '4 KiB JSON proxied, not compressed (the baseline of compressed)' },
  { name: 'compressed', group: 'compression', path: '/zipped/text', headers: GZIP, baseline: 'proxied-4k', describe: '4 KiB JSON proxied and gzipped (gateway: libdeflate level 1; nginx: gzip_comp_level 1)' },
  { name: 'compressed-hit', group: 'compression', path: '/zipped-cached/text', headers: GZIP, warm: true, baseline: 'proxied-4k', describe: '4 KiB JSON from the cache, gzipped (gateway: stored gzipped; nginx: gzips each hit)' },
  ...[64, 256, 1_024].map(
    (connections): Scenario => ({
      name: `proxied-c${connections}`,
      group: 'concurrency',
      path: '/api/small',
      connections,
      ...(connections > 64 ? { baseline: 'proxied-c64' } : {}),
      describe: `small GET proxied, ${connections} connections`,
    })
  ),
]

/**
 * Scenarios named in `--scenario a,b` (or a group: `routes`, `concurrency`, `http2`), with the
 * baselines and floors they compare with; every ungrouped one when empty. Throws on an
 * unknown name.
 */
export function selectScenarios(names: string | undefined): Scenario[] {
  const wanted = names ? names.split(',').map((n) => n.trim()).filter(Boolean) : SCENARIOS.filter((s) => !s.group).map((s) => s.name)
  const known = [...SCENARIOS.map((s) => s.name), 'routes', 'concurrency', 'http2', 'compression', 'required']
  const unknown = wanted.filter((n) => !known.includes(n))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${known.join(', ')}`)
  const chosen = SCENARIOS.filter((s) => wanted.includes(s.name) || (s.group !== undefined && wanted.includes(s.group)))
  // The baselines and floors the chosen ones compare with are always measured: ratios need them.
  const baselines = new Set(['direct', ...chosen.flatMap((s) => [s.baseline, s.floor].filter((b) => b !== undefined))])
  return SCENARIOS.filter((s) => baselines.has(s.name) || chosen.includes(s))
}

/**
 * What `s` is read against, loaded in `s`'s rounds: the selected floor it is compared with and
 * the required rung over it, and its baseline when that is another gateway (cache-miss-local
 * for cache-miss) or when `besideBaseline` (direct for health). A floor, or a scenario
 * without either, has none.
 */
export function companions(s: Scenario, selected: readonly Scenario[]): Scenario[] {
  if (s.floorServer) return []
  const floors = s.floor === undefined ? [] : selected.filter((x) => x.floorServer && (x.name === s.floor || x.floor === s.floor))
  const baseline = s.baseline ?? 'direct'
  return [...selected.filter((x) => x.name === baseline && (x.localCacheOnly || s.besideBaseline)), ...floors]
}

/**
 * The rounds `s` is loaded in (run.ts): each round the gateway, then nginx when it serves `s`,
 * then its companions (above), when selected and not measured yet; every other round in
 * reverse, so drift on a shared machine weighs on each alike. `count` rounds (run.ts: two, or
 * `--rounds`): more, shorter rounds when a neighbour slows one core for seconds at a time
 * (docs/performance-optimization.md, the twelfth session). One round with `quick`, or when
 * nothing is loaded beside the gateway.
 */
export function loadRounds(s: Scenario, selected: readonly Scenario[], nginx: boolean, quick: boolean, measured: ReadonlySet<string> = new Set(), count = 2): string[][] {
  const floors = companions(s, selected).filter((x) => !measured.has(x.name))
  const order = ['gateway', ...(nginx ? ['nginx'] : []), ...floors.map((f) => f.name)]
  if (order.length === 1 || quick) return [order]
  return Array.from({ length: count }, (_, round) => (round % 2 === 0 ? order : [...order].reverse()))
}

/** The route table of a routes scenario: `count` prefix routes /svcN, or `count` hosts svcN.bench.test at /api. */
export function routesTable(count: number, host = false, matchers = false): Record<string, unknown>[] {
  const routes: Record<string, unknown>[] = Array.from({ length: count }, (_, i) =>
    host
      ? { name: `svc${i}`, host: ROUTES_HOST(i), path: '/api', upstream: 'fixture', stripPrefix: true }
      : { name: `svc${i}`, path: `/svc${i}`, upstream: 'fixture', stripPrefix: true }
  )
  // With matchers: every even path has a twin for `X-Canary: 1`, tested first (more specific).
  if (matchers) for (let i = 0; i < count; i += 2) routes.push({ name: `svc${i}-canary`, path: `/svc${i}`, match: { headers: { 'x-canary': '1' } }, upstream: 'fixture', stripPrefix: true })
  return routes
}

const ZIPPED = { enabled: true, minBytes: 1024, levels: { gzip: 1 } }

/** The cache-hit route and the proxied route of the fixture upstream, which every bench's gateway has. */
export const FIXTURE_ROUTES = [
  { name: 'cached', path: '/cached', upstream: 'fixture', cache: { enabled: true } },
  { name: 'api', path: '/api', upstream: 'fixture', stripPrefix: true },
]

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
      ...FIXTURE_ROUTES,
      { name: 'keyed', path: '/keyed', upstream: 'fixture', stripPrefix: true, auth: { apiKey: {} } },
      { name: 'jwt', path: '/jwt', upstream: 'fixture', stripPrefix: true, auth: { jwt: { algorithms: ['HS256'], secret: BENCH_JWT_SECRET } } },
      { name: 'plugin', path: '/plugin', upstream: 'fixture', stripPrefix: true, plugins: ['noop'] },
      { name: 'hono', path: '/hono', upstream: 'fixture', stripPrefix: true, plugins: ['hono-noop'] },
      // gzip at level 1, as nginx's gzip_comp_level 1 in bench/nginx.ts; 1024 is both minimums.
      { name: 'zipped', path: '/zipped', upstream: 'fixture', stripPrefix: true, compression: ZIPPED },
      { name: 'zipped-cached', path: '/zipped-cached', upstream: 'fixture', stripPrefix: true, cache: { enabled: true }, compression: ZIPPED },
      ...(redisUrl ? [limited] : []),
    ],
    consumers: [{ name: 'bench', apiKeys: [BENCH_API_KEY] }],
    plugins: {
      noop: { module: join(import.meta.dir, 'plugins', 'noop.ts') },
      'hono-noop': { hono: { module: join(import.meta.dir, 'plugins', 'hono-noop.ts') } },
    },
  }
}
