/** What `bun run bench` measures: one entry per scenario, each against the gateway (and nginx). */

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
  describe: string
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'direct', direct: true, path: '/small', describe: 'small GET on the upstream directly (baseline)' },
  { name: 'health', path: '/health', describe: "the gateway's own /health" },
  { name: 'proxied', path: '/api/small', describe: 'small GET proxied' },
  { name: 'cache-hit', path: '/cached/small', warm: true, describe: 'small GET answered from the cache' },
  { name: 'cache-miss', path: '/cached/miss', unique: true, describe: 'unique URLs through the cache (every request a miss)' },
  { name: 'post-4k', path: '/api/echo', method: 'POST', bodyBytes: 4096, describe: 'POST with a 4 KiB body' },
  { name: 'large', path: '/api/large', describe: '256 KiB GET proxied (streamed)' },
  { name: 'burst', path: '/api/small', connections: 256, durationShare: 0.5, describe: 'small GET, 256 connections, short' },
]

/** Scenarios named in `--scenario a,b` (all when empty); throws on an unknown name. */
export function selectScenarios(names: string | undefined): Scenario[] {
  if (!names) return [...SCENARIOS]
  const wanted = names.split(',').map((n) => n.trim()).filter(Boolean)
  const unknown = wanted.filter((n) => !SCENARIOS.some((s) => s.name === n))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  // The baseline is always measured: ratios need it.
  return SCENARIOS.filter((s) => s.direct || wanted.includes(s.name))
}

/** The gateway config the bench runs (through the real start path). */
export function gatewayConfig(upstreamPort: number, workers: string, client?: string): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0, workers: workers === 'auto' ? 'auto' : Number(workers) },
    admin: { port: 0 },
    upstreams: { fixture: { targets: [`http://127.0.0.1:${upstreamPort}`], ...(client ? { client } : {}) } },
    routes: [
      { name: 'cached', path: '/cached', upstream: 'fixture', cache: { enabled: true } },
      { name: 'api', path: '/api', upstream: 'fixture', stripPrefix: true },
    ],
  }
}
