/**
 * `bun run bench:builds -- BEFORE AFTER`: one change's cost or saving, measured with both
 * builds in one process. BEFORE and AFTER are checkouts of this repository (a `git worktree`
 * of the commit before, and this one); each one's app is imported from its own path, so the
 * two run side by side on one JIT and one heap, and a twin of BEFORE is the A/A check. Each
 * round serves every app in turn (in an order that changes, roundOrder in paired.ts); the report is each app's median CPU per
 * request and its difference from BEFORE (the mean of the round pairs ± its standard error).
 *
 * Without `--sockets`, as bench:ledger does: the native client's connection over a socket that
 * is not one, no kernel, the event loop turning every 16 requests; precise to ~0.1 µs on a quiet
 * machine. With `--sockets`, each build runs a worker (real sockets, the fixture upstream)
 * loaded by wrk in turn, CPU of this process per window: the whole gateway, noisier. With
 * `--sampled`, every request is traced and sampled, its spans exported to bench/otlp-sink.ts:
 * a change to tracing, measured the same way.
 *
 *   bun run bench:builds -- BEFORE AFTER [--path /api/small] [--rounds 30] [--requests 20000] [--sockets --duration 2] [--sampled]
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startListening } from './listening.ts'
import { cpuPerRequest, LOOPBACK_SERVER, recordedClient } from './recorded.ts'
import { pickTool, runLoad } from './load-tools/index.ts'
import { median, pairedDifference, roundOrder } from './paired.ts'
import { FIXTURE_ROUTES } from './scenarios.ts'

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  allowPositionals: true,
  options: {
    path: { type: 'string', default: '/api/small' },
    rounds: { type: 'string', default: '30' },
    requests: { type: 'string', default: '20000' },
    sockets: { type: 'boolean', default: false },
    duration: { type: 'string', default: '2' },
    sampled: { type: 'boolean', default: false },
  },
})
if (positionals.length !== 2) throw new Error('usage: bun run bench:builds -- BEFORE AFTER (two checkouts)')
const [before, after] = positionals.map((p) => resolve(p)) as [string, string]

// With --sampled, every request traced and sampled, its spans exported to bench/otlp-sink.ts (a process of its own).
const sink = values.sampled ? await startListening(['bench/otlp-sink.ts']) : undefined
const config = (upstream: string) => ({
  server: { host: '127.0.0.1', port: 0 },
  admin: { port: 0 },
  upstreams: { fixture: { targets: [upstream] } },
  routes: FIXTURE_ROUTES,
  ...(sink ? { tracing: { endpoint: `http://127.0.0.1:${sink.port}/v1/traces`, sampleRatio: 1 } } : {}),
})

/** Serves `amount` (requests in process, seconds of load over sockets) and tells the mean CPU of a request, µs. */
type Measure = (amount: number) => Promise<number>

/** A build's app over its own native Connection whose socket answers at once (bench:ledger's way). */
async function inProcess(root: string): Promise<Measure> {
  const { createApp } = await import(`${root}/src/app.ts`)
  const { validateConfig } = await import(`${root}/src/config/load.ts`)
  const { silentLogger } = await import(`${root}/src/log.ts`)
  const { createWorkerMetrics } = await import(`${root}/src/metrics/registry.ts`)
  const { createResponseCache } = await import(`${root}/src/policies/cache/response-cache.ts`)
  const { createCacheStore } = await import(`${root}/src/policies/cache/store.ts`)
  const { Connection } = await import(`${root}/src/upstream/native/connection.ts`)
  const { createUpstream } = await import(`${root}/src/upstream/upstream.ts`)
  const base = recordedClient(Connection)
  const checked = validateConfig(config('http://127.0.0.1:9'))
  const metrics = createWorkerMetrics({ version: 'builds', bun: Bun.version })
  const tracing = checked.config.tracing
  const tracer = tracing && (await import(`${root}/src/tracing/index.ts`)).createTracer(tracing, { log: silentLogger, scheme: 'http' })
  if (tracer) stops.push(() => tracer.close())
  // `tracing` is read by builds from before the try spans moved into the balancer (a wrapper of their own then).
  const upstream = createUpstream('fixture', checked.config.upstreams.fixture, { base, observer: metrics.upstream('fixture'), tracing: tracer !== undefined })
  const cache = createResponseCache({ store: createCacheStore(checked.config.cache), targets: checked.config.cache.targets, maxObjectBytes: checked.config.cache.maxObjectBytes, implicitVary: [] })
  const upstreams = { get: () => upstream, all: () => [upstream], close: async () => {} }
  const app = createApp({ config: checked.config, upstreams, log: silentLogger, cache, metrics, tracer })
  return (count) => cpuPerRequest((req) => app.fetch(req, LOOPBACK_SERVER), values.path!, count)
}

/** A build's worker on a real port in front of the fixture upstream, loaded by wrk. */
async function overSockets(root: string, upstream: string): Promise<Measure> {
  const tool = pickTool()
  if (!tool) throw new Error('neither oha nor wrk is installed')
  const { validateConfig } = await import(`${root}/src/config/load.ts`)
  const { silentLogger } = await import(`${root}/src/log.ts`)
  const { startWorker } = await import(`${root}/src/worker/server.ts`)
  const worker = startWorker(validateConfig(config(upstream)).config, silentLogger)
  stops.push(() => worker.stop(true))
  return async (seconds) => {
    const start = process.cpuUsage()
    const result = await runLoad(tool, { url: `http://127.0.0.1:${worker.port}${values.path}`, durationSeconds: seconds, connections: 64, threads: 2 })
    const used = process.cpuUsage(start)
    if (result.non2xx > 0 || result.socketErrors > 0) throw new Error(`${root}: ${result.non2xx} non-2xx, ${result.socketErrors} socket errors`)
    return (used.user + used.system) / result.requests
  }
}

const stops: (() => unknown)[] = []
const fixture = values.sockets ? await startListening(['bench/fixture-upstream.ts']) : undefined
try {
  const make = (root: string) => (fixture ? overSockets(root, `http://127.0.0.1:${fixture.port}`) : inProcess(root))
  const builds = [
    { name: 'before', measure: await make(before), cpu: [] as number[] },
    { name: 'before (twin)', measure: await make(before), cpu: [] as number[] },
    { name: 'after', measure: await make(after), cpu: [] as number[] },
  ]
  const amount = fixture ? Number(values.duration) : Number(values.requests)
  for (const build of builds) await build.measure(fixture ? 1 : 20_000)
  const rounds = Number(values.rounds)
  for (let round = 0; round < rounds; round++) {
    for (const i of roundOrder(builds.length, round)) {
      const build = builds[i]!
      build.cpu.push(await build.measure(amount))
    }
  }
  const how = fixture ? `over sockets, ${rounds} rounds of ${amount} s` : `in process, ${rounds} rounds of ${amount} requests`
  console.log(`GET ${values.path}, ${how}; CPU µs per request (median), and over before (± standard error):`)
  const base = builds[0]!.cpu
  for (const build of builds) {
    const d = build === builds[0] ? undefined : pairedDifference(build.cpu, base)
    const over = d ? `   ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(2)} ± ${d.se.toFixed(2)}` : ''
    console.log(`  ${build.name.padEnd(14)} ${median(build.cpu).toFixed(2).padStart(7)}${over}`)
  }
} finally {
  fixture?.proc.kill()
  await Promise.all(stops.map((stop) => stop()))
  sink?.proc.kill()
}
process.exit(0)
