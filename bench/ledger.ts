/**
 * What the gateway's own code costs per request, without sockets: the real app (createApp:
 * the edge, the chain, the forwarder, the upstream wrappers, metrics) over the native
 * client's connection on a socket that is not one: it writes the request head and parses a
 * recorded upstream answer, with no kernel in between. Beside it, the floor's share of the same work (a Request's URL and a
 * Response). The cache misses store every answer (a new path each), with and without the
 * node's shared tier (the ring file) under the local store. The event loop turns every 16 requests,
 * so timers (the tracing exporter, the shared tier's commits) run as in a server. In process and single-threaded, so it is steadier than a load test on shared
 * cores, and `bun --cpu-prof-md bench/ledger.ts --only proxied` profiles the gateway's code
 * alone. Not a test of forwarding (the integration tests use real sockets): a measurement.
 *
 * Tracing's cost: `--only proxied-untraced,proxied-untraced-twin,proxied-unsampled,proxied-sampled
 * --baseline proxied-untraced --rounds 20 --requests 50000`, four apps built alike, each row
 * paired with the baseline by round; the twin is the A/A check of how far two apps of one
 * build differ.
 *
 * `--allocations` counts instead of timing: the heap cells each scenario's request leaves, by
 * type (closures, promises, lexical environments, strings...), exactly (recorded.ts).
 *
 *   bun bench/ledger.ts [--requests 200000] [--rounds 3] [--baseline NAME] [--allocations]
 *                       [--only floor,proxied,proxied-untraced,proxied-untraced-twin,proxied-unsampled,proxied-sampled,cache-hit,health,cache-miss,cache-miss-shared]
 */
import { parseArgs } from 'node:util'
import { createApp } from '../src/app.ts'
import { silentLogger as log } from '../src/log.ts'
import { createResponseCache } from '../src/policies/cache/response-cache.ts'
import { openSharedStore, prepareSharedCache } from '../src/policies/cache/shared-store.ts'
import { createCacheStore } from '../src/policies/cache/store.ts'
import { createExclusive, makePrivateDir } from '../src/files/private.ts'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Connection } from '../src/upstream/native/connection.ts'
import { allocationsPerRequest, cpuPerRequest, LOOPBACK_SERVER, RECORDED_BODY, recordedClient } from './recorded.ts'
import { fixtureApp } from './fixture-app.ts'
import type { UpstreamRegistry } from '../src/upstream/registry.ts'
import { createUpstream } from '../src/upstream/upstream.ts'
import { createTracer, type Tracer } from '../src/tracing/index.ts'
import { startListening } from './listening.ts'
import { median, pairedDifference, roundOrder } from './paired.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    requests: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    baseline: { type: 'string' },
    allocations: { type: 'boolean', default: false },
  },
})
const REQUESTS = Number(values.requests)
const ROUNDS = Number(values.rounds)
const ONLY = values.only ? new Set(values.only.split(',')) : undefined
const BASELINE = values.baseline

const { app, config, metrics, upstreams } = fixtureApp()
// The same app with the node's shared tier under its cache (a private file, as the primary makes it).
const sharedDir = makePrivateDir(tmpdir(), 'ledger-')
const sharedPath = join(sharedDir, 'cache.ring')
createExclusive(sharedPath)
prepareSharedCache(sharedPath, config.cache.shared.maxBytes)
process.on('exit', () => rmSync(sharedDir, { recursive: true, force: true }))
const shared = openSharedStore({ path: sharedPath, maxObjectBytes: config.cache.maxObjectBytes })
const sharedCache = createResponseCache({ store: createCacheStore(config.cache), shared, targets: config.cache.targets, maxObjectBytes: config.cache.maxObjectBytes, implicitVary: [] })
const sharedApp = createApp({ config, upstreams, log, cache: sharedCache, metrics })
// Tracing, unsampled and sampled, with the default batches exported over OTLP/HTTP to
// bench/otlp-sink.ts (a process of its own, not measured): the span, its encoding and its
// share of the export are in the sampled row.
const sink = ONLY && !ONLY.has('proxied-sampled') && !ONLY.has('proxied-unsampled') ? undefined : await startListening([join(import.meta.dir, 'otlp-sink.ts')])
const tracingSettings = (sampleRatio: number) => ({
  endpoint: `http://127.0.0.1:${sink?.port ?? 9}/v1/traces`,
  sampleRatio,
  trustIncoming: false as const,
  serviceName: 'ledger',
  headers: {},
  resourceAttributes: {},
  queueSize: 2048,
  batchSize: 512,
  intervalMs: 5000,
  exportTimeoutMs: 10_000,
})
/** The sampled app's tracer: its spans must all be exported, or the sampled row leaves their cost out. */
let sampledTracer: Tracer | undefined
/** An app of its own, built like the traced ones: with a tracer at `sampleRatio`, or none. */
const tracingApp = (sampleRatio: number | undefined) => {
  const tracing = sampleRatio !== undefined
  const one = createUpstream('fixture', config.upstreams.fixture!, { base: recordedClient(Connection), observer: metrics.upstream('fixture') })
  const upstreams = { get: () => one, all: () => [one], close: async () => {} } as UpstreamRegistry
  const tracer = tracing ? createTracer(tracingSettings(sampleRatio), { log, scheme: 'http' }) : undefined
  if (sampleRatio === 1) sampledTracer = tracer
  return createApp({ config, upstreams, log, metrics, tracer })
}
// Tracing off, twice: the second is the A/A check (two apps of one build differ by this much).
const untracedApp = tracingApp(undefined)
const untracedTwin = tracingApp(undefined)
const unsampledApp = tracingApp(0)
const sampledApp = tracingApp(1)

const FLOOR_HEADERS = { 'content-type': 'application/json' }
const floorBody = new TextEncoder().encode(RECORDED_BODY)
type Serve = (req: Request) => Response | Promise<Response>
/** A path per request: every one a miss that is stored. */
let misses = 0
const scenarios: Record<string, { path: string | (() => string); serve: Serve }> = {
  floor: {
    path: '/small',
    // The floor proxy's own share (bench/floor/proxy.ts): the path from the URL, a Response.
    serve: (req) => Promise.resolve(new Response(floorBody, { status: 200, headers: FLOOR_HEADERS })).then((r) => (req.url.indexOf('/', 8), r)),
  },
  health: { path: '/health', serve: (req) => app.fetch(req, LOOPBACK_SERVER) },
  proxied: { path: '/api/small', serve: (req) => app.fetch(req, LOOPBACK_SERVER) },
  'cache-hit': { path: '/cached/small', serve: (req) => app.fetch(req, LOOPBACK_SERVER) },
  'proxied-untraced': { path: '/api/small', serve: (req) => untracedApp.fetch(req, LOOPBACK_SERVER) },
  'proxied-untraced-twin': { path: '/api/small', serve: (req) => untracedTwin.fetch(req, LOOPBACK_SERVER) },
  'proxied-unsampled': { path: '/api/small', serve: (req) => unsampledApp.fetch(req, LOOPBACK_SERVER) },
  'proxied-sampled': { path: '/api/small', serve: (req) => sampledApp.fetch(req, LOOPBACK_SERVER) },
  'cache-miss': { path: () => `/cached/m${misses++}`, serve: (req) => app.fetch(req, LOOPBACK_SERVER) },
  'cache-miss-shared': { path: () => `/cached/m${misses++}`, serve: (req) => sharedApp.fetch(req, LOOPBACK_SERVER) },
}

const names = Object.keys(scenarios).filter((n) => !ONLY || ONLY.has(n))
if (values.allocations) {
  // What each request leaves on the heap, by cell type: exact counts, not times.
  console.log('Heap cells allocated per request in process, by type (a Request made and a body read in each; the floor row is that alone):')
  for (const name of names) {
    const counts = await allocationsPerRequest(scenarios[name]!.serve, scenarios[name]!.path)
    const total = [...counts.values()].reduce((a, b) => a + b, 0)
    const types = [...counts].sort((a, b) => b[1] - a[1]).map(([type, n]) => `${type} ${Number(n.toFixed(2))}`)
    console.log(`  ${name.padEnd(21)} ${total.toFixed(1).padStart(6)}   ${types.join(', ')}`)
  }
  sink?.proc.kill()
  process.exit(0)
}
const results = new Map<string, number[]>(names.map((n) => [n, []]))
for (const name of names) await cpuPerRequest(scenarios[name]!.serve, scenarios[name]!.path, Math.min(REQUESTS, 50_000))
// The order changes each round (roundOrder): no scenario always runs right after the same one.
for (let round = 0; round < ROUNDS; round++) {
  for (const i of roundOrder(names.length, round)) {
    const name = names[i]!
    results.get(name)!.push(await cpuPerRequest(scenarios[name]!.serve, scenarios[name]!.path, REQUESTS))
  }
}
console.log(`CPU µs per request in process (median of ${ROUNDS} rounds of ${REQUESTS}; a Request made and a body read in each):`)
const floor = results.has('floor') ? median(results.get('floor')!) : undefined
const base = BASELINE === undefined ? undefined : results.get(BASELINE)
if (BASELINE !== undefined && base === undefined) throw new Error(`--baseline ${BASELINE} is not among the scenarios run`)
for (const [name, xs] of results) {
  const m = median(xs)
  let over = floor && name !== 'floor' ? `   +${(m - floor).toFixed(2)} over floor` : ''
  // Paired by round: the mean of the differences from the baseline in each round, ± its standard error.
  if (base && name !== BASELINE) {
    const { mean: d, se } = pairedDifference(xs, base)
    over += `   ${d >= 0 ? '+' : ''}${d.toFixed(2)} ± ${se.toFixed(2)} over ${BASELINE}`
  }
  console.log(`  ${name.padEnd(21)} ${m.toFixed(2).padStart(6)}${over}`)
}
if (results.has('proxied-sampled') && sampledTracer) {
  await sampledTracer.flush()
  const { exported, queueFull, exportFailed } = sampledTracer.stats()
  console.log(`  (proxied-sampled: ${exported} spans exported, ${queueFull + exportFailed} dropped)`)
  if (queueFull + exportFailed > 0) console.log('  spans were dropped: the sampled row leaves out their encoding and export')
}
// The sink and the tracers' timers would keep this process alive.
sink?.proc.kill()
process.exit(0)
