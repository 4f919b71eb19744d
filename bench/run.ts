/**
 * `bun run bench`: starts the fixture upstream and the gateway (through its real start path)
 * on loopback, runs every scenario with oha (or wrk), optionally against nginx too, prints a
 * table, writes .tmp/bench/<time>.json, latest.json and latest.svg (ignored by git; with
 * --save-reference also the committed bench/results/reference.json and .svg), and exits 1 when a
 * threshold in bench/thresholds.json is missed.
 *
 *   bun run bench [-- --duration 10 --warmup 5 --connections 64 --workers auto --scenario proxied,cache-hit
 *                     --quick --compare nginx --rounds 2 --pin --client native|fetch --results DIR --save-reference]
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pickTool, runLoad, type LoadOptions, type LoadResult, type ToolName } from './load-tools/index.ts'
import { measureUsage } from './cpu.ts'
import { startNginx, type RunningNginx } from './nginx.ts'
import { svgChart, table, type BenchReport, type ScenarioResult } from './report.ts'
import { sampleRss } from './rss.ts'
import { companions, gatewayConfig, loadRounds, routesTable, selectScenarios, type Scenario } from './scenarios.ts'
import { evaluate, type Thresholds } from './thresholds.ts'
import { startListening as listening } from './listening.ts'
import { allowedCpus, parseCpuList, pinPlan, pinTree, type PinPlan } from './pin.ts'
import { readFileSync } from 'node:fs'
import { freePort, hasBinary, startRedis, type RedisServer } from '../test/fixtures/services.ts'

const ROOT = join(import.meta.dir, '..')

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    duration: { type: 'string' },
    /** Seconds of load on each scenario before any is measured (the JIT's warm-up): 5, or 1 with --quick. */
    warmup: { type: 'string' },
    connections: { type: 'string', default: '64' },
    workers: { type: 'string', default: 'auto' },
    scenario: { type: 'string' },
    quick: { type: 'boolean', default: false },
    compare: { type: 'string' },
    /** Rounds a scenario is loaded in beside nginx and its companions, each `--duration` long, every other one reversed. */
    rounds: { type: 'string', default: '2' },
    /** The servers under test on the last core this process may use, the load tool and the upstream on the others (bench/pin.ts). */
    pin: { type: 'boolean', default: false },
    /** The gateway's upstream client (the config default when absent). */
    client: { type: 'string' },
    /** Where each run's report goes: an ignored folder, so a run never rewrites a tracked file. */
    results: { type: 'string', default: join(import.meta.dir, '..', '.tmp', 'bench') },
    /** Also write bench/results/reference.json and .svg, the committed reference (on purpose only). */
    'save-reference': { type: 'boolean', default: false },
  },
})
const RESULTS = values.results!
const quick = values.quick!
const durationSeconds = Number(values.duration ?? (quick ? 3 : 10))
const connections = Number(values.connections)
const roundCount = Number(values.rounds)
if (!Number.isInteger(roundCount) || roundCount < 1) fail(`--rounds takes a whole number of 1 or more, not "${values.rounds}"`)
const plan = values.pin ? pinPlan(parseCpuList(allowedCpus(process.pid)), Bun.which('taskset') !== null) : undefined
if (typeof plan === 'string') fail(plan)
const pinning: PinPlan | undefined = plan
// Pinned, the bench itself and what it starts (the upstream, the load tool) stay off the servers' core.
if (pinning) pinTree(process.pid, pinning.load)
if (values.compare !== undefined && values.compare !== 'nginx') fail(`--compare takes "nginx", not "${values.compare}"`)
if (values.client !== undefined && values.client !== 'native' && values.client !== 'fetch') fail(`--client takes native or fetch, not "${values.client}"`)

const children: { kill(signal?: NodeJS.Signals): void }[] = []
let nginx: RunningNginx | undefined
let redis: RedisServer | undefined
const stopAll = async () => {
  for (const child of children) child.kill('SIGTERM')
  await nginx?.stop()
  await redis?.stop()
}
process.on('SIGINT', () => void stopAll().finally(() => process.exit(130)))

function fail(message: string): never {
  console.error(message)
  process.exit(2)
}

type Server = Awaited<ReturnType<typeof listening>>
/** A server loaded in a scenario's rounds beside it (a floor, or the baseline gateway): its loads, and a gateway's workers' RSS. */
type Companion = { scenario: Scenario; loads: LoadResult[]; rss?: Record<string, number> }

/** A bun script started and listening, stopped with the others at the end. */
async function startListening(args: string[]): Promise<Server> {
  const started = await listening(args, true)
  children.push(started.proc)
  return started
}

/** A gateway with a routes scenario's table, and how long it took from spawn to its `listening` line. */
async function startRoutesGateway(upstreamPort: number, routes: { count: number; host?: boolean; matchers?: boolean }): Promise<{ server: Server; bootMs: number }> {
  const config = { ...gatewayConfig(upstreamPort, values.workers!, values.client), routes: routesTable(routes.count, routes.host, routes.matchers) }
  const path = join(ROOT, '.tmp', 'bench-gateway-routes.json')
  await Bun.write(path, JSON.stringify(config))
  const start = performance.now()
  const server = await startListening(['src/main.ts', '--config', path])
  const bootMs = performance.now() - start
  if (pinning) pinTree(server.pid, pinning.servers)
  return { server, bootMs }
}

async function stop(server: Server): Promise<void> {
  server.proc.kill('SIGTERM')
  await server.proc.exited
  children.splice(children.indexOf(server.proc), 1)
}

/** This process's open-file limit (the load tool, the gateway and nginx inherit it; Bun raises its soft limit to the hard one). */
function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
  const soft = line?.split(/\s{2,}/)[1]
  return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft)
}

let certificate: { cert: string; key: string } | undefined
/** A self-signed certificate made by openssl, once per run (the TLS gateways' and nginx's). */
function benchCertificate(): { cert: string; key: string } {
  if (certificate) return certificate
  const dir = join(ROOT, '.tmp', 'bench-tls')
  mkdirSync(dir, { recursive: true })
  const made = Bun.spawnSync(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost'])
  if (made.exitCode !== 0) fail('the tls scenarios need openssl (apt-get install openssl)')
  return (certificate = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') })
}

/** The bench gateway again, terminating TLS; with `http2`, also offering h2 by ALPN (server.http2). */
async function startTlsGateway(upstreamPort: number, http2 = false) {
  const { cert, key } = benchCertificate()
  const config = gatewayConfig(upstreamPort, values.workers!, values.client) as { server: Record<string, unknown> }
  config.server.tls = { certFile: cert, keyFile: key }
  if (http2) config.server.http2 = true
  const path = join(ROOT, '.tmp', `bench-gateway-${http2 ? 'h2' : 'tls'}.json`)
  await Bun.write(path, JSON.stringify(config))
  return startListening(['src/main.ts', '--config', path])
}

/** The bench gateway again without the node's shared cache tier: what a miss costs without it. */
async function startLocalCacheGateway(upstreamPort: number) {
  const config = gatewayConfig(upstreamPort, values.workers!, values.client) as { cache?: Record<string, unknown> }
  config.cache = { shared: { enabled: false } }
  const path = join(ROOT, '.tmp', 'bench-gateway-local-cache.json')
  await Bun.write(path, JSON.stringify(config))
  return startListening(['src/main.ts', '--config', path])
}

/** The websocket scenario's load tool (bench/ws-load.ts), with the same result shape. */
async function runWebSocketLoad(o: LoadOptions): Promise<LoadResult> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, 'ws-load.ts'), o.url, String(o.durationSeconds), String(o.connections)], { stdout: 'pipe', stderr: 'pipe' })
  const text = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`ws-load failed: ${await new Response(proc.stderr).text()}`)
  return JSON.parse(text.trim().split('\n').at(-1)!) as LoadResult
}


/** Live worker pids from the gateway's lifecycle log. */
function workerPids(output: string): number[] {
  const exited = new Set<number>()
  const spawned: number[] = []
  for (const line of output.split('\n')) {
    if (line.includes('"event":"worker_spawn"')) spawned.push(JSON.parse(line).pid)
    if (line.includes('"event":"worker_exit"')) exited.add(JSON.parse(line).pid)
  }
  return spawned.filter((pid) => !exited.has(pid))
}

function progress(text: string) {
  if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${text}`)
}

async function main(): Promise<void> {
  const tool: ToolName | undefined = pickTool()
  if (!tool) fail('neither oha nor wrk is installed: apt-get install wrk (or cargo install oha)')
  const scenarios = selectScenarios(values.scenario)
  // Each connection is a descriptor in the load tool and one or two in the server (nginx: client and upstream).
  const most = Math.max(...scenarios.map((s) => s.connections ?? connections))
  if (openFileLimit() < 2 * most + 256) fail(`${most} connections need more open files than ulimit -n allows (${openFileLimit()}); raise it to ${2 * most + 256} or more`)
  console.log(`load tool: ${tool}${tool === 'wrk' ? ' (oha is not installed; wrk with a Lua JSON reporter instead)' : ''}`)

  const upstream = await startListening(['bench/fixture-upstream.ts'])
  if (scenarios.some((s) => s.redis)) {
    if (!hasBinary('redis-server')) fail('the global-limit scenario needs redis-server (apt-get install redis-server)')
    redis = await startRedis()
  }
  const configPath = join(ROOT, '.tmp', 'bench-gateway.json')
  await Bun.write(configPath, JSON.stringify(gatewayConfig(upstream.port, values.workers!, values.client, redis?.url)))
  const gateway = await startListening(['src/main.ts', '--config', configPath])
  const workers = workerPids(gateway.output()).length
  // The tls scenario: a second gateway, the same config, terminating TLS with a throwaway certificate.
  const tlsGateway = scenarios.some((s) => s.protocol === 'https' && !s.h2Port) ? await startTlsGateway(upstream.port) : undefined
  // The http2 scenarios: one more, with server.http2 on, loaded over h2 (h2load) and over HTTP/1.1.
  const usesH2 = scenarios.some((s) => s.protocol === 'h2' || s.h2Port)
  if (scenarios.some((s) => s.protocol === 'h2') && !Bun.which('h2load')) fail('the h2 scenario needs h2load (apt-get install nghttp2-client)')
  const h2Gateway = usesH2 ? await startTlsGateway(upstream.port, true) : undefined
  const localCacheGateway = scenarios.some((s) => s.localCacheOnly) ? await startLocalCacheGateway(upstream.port) : undefined
  // The floors: as many processes as the gateway has workers.
  const floorArgs = ['--upstream', `http://127.0.0.1:${upstream.port}`, '--workers', String(Math.max(1, workers))]
  const floors = {
    proxy: scenarios.some((s) => s.floorServer === 'proxy') ? await startListening(['bench/floor/proxy.ts', ...floorArgs]) : undefined,
    hit: scenarios.some((s) => s.floorServer === 'hit') ? await startListening(['bench/floor/hit.ts', ...floorArgs]) : undefined,
    'required-proxy': scenarios.some((s) => s.floorServer === 'required-proxy') ? await startListening(['bench/floor/required-proxy.ts', ...floorArgs]) : undefined,
    'required-hit': scenarios.some((s) => s.floorServer === 'required-hit') ? await startListening(['bench/floor/required-hit.ts', ...floorArgs]) : undefined,
  }
  if (values.compare === 'nginx') {
    const h2 = scenarios.some((s) => s.protocol === 'h2') ? { port: freePort(), ...benchCertificate() } : undefined
    nginx = await startNginx(upstream.port, Math.max(1, workers), freePort(), h2)
    if (!nginx) fail('--compare nginx: nginx is not installed (apt-get install nginx-light)')
  }

  // Pinned, every server under test runs on the servers' core (a gateway's later workers inherit it).
  if (pinning) {
    const servers = [gateway, tlsGateway, h2Gateway, localCacheGateway, ...Object.values(floors)].flatMap((x) => (x ? [x.pid] : []))
    for (const pid of [...servers, ...(nginx ? [nginx.pid] : [])]) pinTree(pid, pinning.servers)
    console.log(`pinned: servers on core ${pinning.servers}, the load tool and the upstream on ${pinning.load}`)
  }

  /** One load run against `port`, with the CPU the processes under `pid` spent on it. */
  const load = async (port: number, pid: number, s: Scenario, seconds: number): Promise<LoadResult> => {
    const scheme = s.protocol === 'https' || s.protocol === 'h2' ? 'https' : s.protocol === 'websocket' ? 'ws' : 'http'
    const options: LoadOptions = {
      url: `${scheme}://127.0.0.1:${port}${s.path}`,
      durationSeconds: seconds,
      connections: s.connections ?? connections,
      threads: 2,
      method: s.method,
      bodyBytes: s.bodyBytes,
      unique: s.unique,
      headers: s.headers,
      streams: s.streams,
    }
    const usage = measureUsage(pid)
    const result = s.protocol === 'websocket' ? await runWebSocketLoad(options) : await runLoad(s.protocol === 'h2' ? 'h2load' : tool, options)
    const { cpuMs, minorFaults } = usage.stop()
    const served = result.requests > 0
    return { ...result, cpuMs, cpuUsPerRequest: served ? (cpuMs * 1000) / result.requests : undefined, minorFaults, faultsPerRequest: served ? minorFaults / result.requests : undefined }
  }

  /**
   * The routes scenarios, together: two gateways each, booted one at a time (each boot timed
   * alone; a table's boot is its slower one) and warmed, then loaded in two rounds, the second
   * in reverse order and on each table's second gateway, so drift on a shared machine weighs on
   * each alike and no table's reading rests on one process's JIT, which can land slow for the
   * life of the process (docs/performance-optimization.md). They are compared with routes-1, not nginx.
   */
  const measureRoutes = async (group: Scenario[], first: number): Promise<ScenarioResult[]> => {
    const step = (j: number, text: string) => progress(`[${first + j + 1}/${scenarios.length}] ${group[j]!.name}: ${text}`)
    const started: { server: Server; bootMs: number }[][] = []
    for (const [j, s] of group.entries()) {
      step(j, `starting two gateways with ${s.routes!.count} routes`)
      started.push([await startRoutesGateway(upstream.port, s.routes!), await startRoutesGateway(upstream.port, s.routes!)])
    }
    for (const [j, s] of group.entries()) for (const { server } of started[j]!) await load(server.port, server.pid, s, warmup)
    const seconds = durationSeconds
    const runs = group.map(() => ({ loads: [] as LoadResult[], rss: {} as Record<string, number> }))
    for (const [round, order] of [[...group.keys()], [...group.keys()].reverse()].entries()) {
      for (const j of order) {
        const { server } = started[j]![round]!
        step(j, `${group[j]!.describe} (${seconds}s ×2, two gateways, alternating with the other route tables)`)
        const sampler = sampleRss(() => workerPids(server.output()))
        runs[j]!.loads.push(await load(server.port, server.pid, group[j]!, seconds))
        for (const [pid, mb] of Object.entries(sampler.stop())) runs[j]!.rss[pid] = Math.max(runs[j]!.rss[pid] ?? 0, mb)
      }
    }
    for (const pair of started) for (const { server } of pair) await stop(server)
    return group.map((s, j) => ({ name: s.name, describe: s.describe, gateway: merge(runs[j]!.loads), rssMbByWorker: runs[j]!.rss, bootMs: Math.max(...started[j]!.map((g) => g.bootMs)) }))
  }

  /** The server a scenario loads (the routes scenarios' are their own, see measureRoutes). */
  const serverOf = (s: Scenario): Server =>
    s.direct
      ? upstream
      : s.floorServer
        ? floors[s.floorServer]!
        : s.protocol === 'h2' || s.h2Port
          ? h2Gateway!
          : s.protocol === 'https'
            ? tlsGateway!
            : s.localCacheOnly
              ? localCacheGateway!
              : gateway
  /**
   * nginx is set up at the bench gateway's routes for plain HTTP (WebSocket included), and for
   * h2 over TLS: no HTTP/1.1 over TLS, no routes tables, no gateway without its shared tier.
   */
  const withNginx = (s: Scenario) =>
    nginx !== undefined && !s.direct && !s.floorServer && !s.routes && !s.h2Port && !s.localCacheOnly && (!s.protocol || s.protocol === 'h2' || s.protocol === 'websocket')
  const nginxPort = (s: Scenario) => (s.protocol === 'h2' ? nginx!.h2Port! : nginx!.port)

  // Warm every proxy once (JIT, pools, the cache entry the cache-hit scenarios read).
  // A worker's JIT is still compiling for several seconds under load: a gateway measured after
  // 1 s read ~15% more CPU per request than the same one after 10 s (docs/performance-optimization.md).
  const warmup = Number(values.warmup ?? (quick ? 1 : 5))
  for (const s of scenarios.filter((x) => !x.direct && !x.routes)) await load(serverOf(s).port, serverOf(s).pid, s, warmup)
  if (nginx) for (const s of scenarios.filter(withNginx)) await load(nginxPort(s), nginx.pid, s, warmup)

  // Results by scenario, reported in the scenarios' order (a floor is measured with its gateway scenario).
  const measured = new Map<string, ScenarioResult>()
  const routed = scenarios.filter((s) => s.routes)
  // Floors listed before their scenario wait for it: they are loaded in its rounds.
  const loadedWithTheirs = new Set(scenarios.flatMap((s) => companions(s, scenarios).map((f) => f.name)))
  for (const [i, s] of scenarios.entries()) {
    if (s.routes) {
      if (s === routed[0]) for (const r of await measureRoutes(routed, i)) measured.set(r.name, r)
      continue
    }
    if (measured.has(s.name) || loadedWithTheirs.has(s.name)) continue
    const seconds = Math.max(1, Math.round(durationSeconds * (s.durationShare ?? 1)))
    if (s.direct || s.floorServer) {
      progress(`[${i + 1}/${scenarios.length}] ${s.name}: ${s.describe} (${seconds}s)`)
      measured.set(s.name, { name: s.name, describe: s.describe, gateway: await load(serverOf(s).port, serverOf(s).pid, s, seconds) })
      continue
    }
    // The floor this scenario is compared with, and the required work over that floor, when
    // selected: loaded in the same rounds as the gateway (and nginx), so the ratios are side by side.
    const rounds = loadRounds(s, scenarios, withNginx(s), quick, new Set(measured.keys()), roundCount)
    // Each companion (a floor, the baseline gateway, or direct for health) loaded beside the gateway, by name, with its loads.
    const beside = new Map(rounds[0]!.flatMap((name) => scenarios.filter((x) => x.name === name && (x.floorServer || x.localCacheOnly || x.direct)).map((scenario): [string, Companion] => [name, { scenario, loads: [] }])))
    const others = rounds[0]!.slice(1)
    progress(`[${i + 1}/${scenarios.length}] ${s.name}: ${s.describe} (${seconds}s${rounds.length > 1 ? ` ×${rounds.length}` : ''}${others.length ? `, alternating with ${others.join(', ')}` : ''})`)
    const server = serverOf(s)
    const ours: LoadResult[] = []
    const theirs: LoadResult[] = []
    let rss: Record<string, number> = {}
    for (const order of rounds) {
      for (const target of order) {
        if (target === 'nginx') {
          theirs.push(await load(nginxPort(s), nginx!.pid, s, seconds))
          continue
        }
        if (target !== 'gateway') {
          const companion = beside.get(target)!
          const { scenario, loads } = companion
          // A gateway's workers' RSS, as its own scenario would report it.
          const sampler = scenario.localCacheOnly ? sampleRss(() => workerPids(serverOf(scenario).output())) : undefined
          loads.push(await load(serverOf(scenario).port, serverOf(scenario).pid, scenario, seconds))
          if (sampler) companion.rss = sampler.stop()
          continue
        }
        const sampler = sampleRss(() => workerPids(server.output()))
        ours.push(await load(server.port, server.pid, s, seconds))
        rss = sampler.stop()
      }
    }
    for (const { scenario, loads, rss } of beside.values()) measured.set(scenario.name, { name: scenario.name, describe: scenario.describe, gateway: merge(loads), ...(rss ? { rssMbByWorker: rss } : {}) })
    measured.set(s.name, { name: s.name, describe: s.describe, gateway: merge(ours), nginx: theirs.length ? merge(theirs) : undefined, rssMbByWorker: rss })
  }
  progress('')
  const results = scenarios.flatMap((s) => measured.get(s.name) ?? [])

  for (const r of results) {
    const baseline = scenarios.find((s) => s.name === r.name)?.baseline ?? 'direct'
    const direct = results.find((x) => x.name === baseline)
    if (direct && r !== direct && !scenarios.find((s) => s.name === r.name)?.direct) {
      r.ratioVsDirect = r.gateway.requestsPerSec / direct.gateway.requestsPerSec
      r.cpuRatioVsDirect = ratio(r.gateway.cpuUsPerRequest, direct.gateway.cpuUsPerRequest)
    }
    const floor = results.find((x) => x.name === scenarios.find((s) => s.name === r.name)?.floor)
    if (floor) {
      r.ratioVsFloor = r.gateway.requestsPerSec / floor.gateway.requestsPerSec
      r.cpuRatioVsFloor = ratio(r.gateway.cpuUsPerRequest, floor.gateway.cpuUsPerRequest)
    }
    if (r.nginx) {
      r.ratioVsNginx = r.gateway.requestsPerSec / r.nginx.requestsPerSec
      r.cpuRatioVsNginx = ratio(r.gateway.cpuUsPerRequest, r.nginx.cpuUsPerRequest)
      r.p99RatioVsNginx = ratio(r.gateway.p99, r.nginx.p99)
    }
  }
  const thresholds = (await Bun.file(join(import.meta.dir, 'thresholds.json')).json()) as Thresholds
  const report: BenchReport = {
    time: new Date().toISOString(),
    tool,
    machine: { cores: navigator.hardwareConcurrency, bun: Bun.version, platform: `${process.platform}-${process.arch}` },
    settings: { durationSeconds, connections, workers: values.workers!, quick, compare: values.compare, rounds: roundCount, pinned: pinning !== undefined, client: values.client },
    scenarios: results,
    failures: evaluate(results, thresholds),
  }
  console.log(table(report))
  mkdirSync(RESULTS, { recursive: true })
  const json = `${JSON.stringify(report, null, 2)}\n`
  await Bun.write(join(RESULTS, `${report.time.replace(/[:.]/g, '-')}.json`), json)
  await Bun.write(join(RESULTS, 'latest.json'), json)
  await Bun.write(join(RESULTS, 'latest.svg'), svgChart(report))
  console.log(`results: ${join(RESULTS, 'latest.json')}, ${join(RESULTS, 'latest.svg')}`)
  if (values['save-reference']) {
    const reference = join(import.meta.dir, 'results')
    await Bun.write(join(reference, 'reference.json'), json)
    await Bun.write(join(reference, 'reference.svg'), svgChart(report))
    console.log(`reference saved: ${join(reference, 'reference.json')}`)
  }
  if (report.failures.length) {
    console.error(`thresholds missed (bench/thresholds.json):\n  ${report.failures.join('\n  ')}`)
    process.exitCode = 1
  } else {
    console.log('thresholds: all met')
  }
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b
}

/** Rounds of one scenario, combined: requests/s averaged, worst latencies and all errors kept. */
function merge(runs: LoadResult[]): LoadResult {
  if (runs.length === 1) return runs[0]!
  const sum = (f: (r: LoadResult) => number) => runs.reduce((n, r) => n + f(r), 0)
  const max = (f: (r: LoadResult) => number) => Math.max(...runs.map(f))
  const cpuMs = sum((r) => r.cpuMs ?? 0)
  const minorFaults = sum((r) => r.minorFaults ?? 0)
  const requests = sum((r) => r.requests)
  return {
    tool: runs[0]!.tool,
    requestsPerSec: sum((r) => r.requestsPerSec) / runs.length,
    p50: max((r) => r.p50),
    p90: max((r) => r.p90),
    p99: max((r) => r.p99),
    requests,
    cpuMs,
    cpuUsPerRequest: requests > 0 ? (cpuMs * 1000) / requests : undefined,
    minorFaults,
    faultsPerRequest: requests > 0 ? minorFaults / requests : undefined,
    non2xx: sum((r) => r.non2xx),
    socketErrors: sum((r) => r.socketErrors),
  }
}

try {
  await main()
} finally {
  await stopAll()
}
