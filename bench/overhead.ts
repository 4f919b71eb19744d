/**
 * `bun run bench:overhead`: what metrics and access logs cost. Three single-process gateways
 * run side by side against one fixture upstream: metrics off, metrics on, metrics on +
 * access log (to /dev/null). Each round loads each of them in turn (the order changes, so
 * drift on a shared machine cancels out) and reads its CPU time from /proc; the report is
 * the median CPU per request of each variant and its cost over "off". With `--tracing`, the
 * variants are tracing off, on but unsampled (sampleRatio 0) and on and sampled (1), metrics
 * on in all three, exporting to bench/otlp-sink.ts (a process of its own, not measured).
 *
 * Small costs are lost in a shared machine's noise unless it is taken apart:
 * - Two processes of one build differ by up to ~3.5 µs per request for as long as they live
 *   (where the JIT and the allocator landed), more than tracing's budget. `--in-process` runs
 *   every variant as a worker (startWorker, real sockets) inside this one process, so they
 *   share one JIT and one heap and that bias is gone; `--processes K` instead starts K
 *   processes of each variant and averages them.
 * - Each round loads every variant once, so the report pairs them by round: the cost over
 *   "off" is the mean of the per-round differences, with its standard error (drift between
 *   rounds cancels in a pair; what is left is the ± to read the figure with).
 * - `--delay-ms N` gives each connection N ms between its requests (wrk's `delay`), so every
 *   variant serves the same offered rate. Flat out, a variant that costs more serves fewer
 *   requests per wake-up and is also charged more kernel time per request; at one rate, the
 *   difference is the feature's own CPU.
 * - `--twin` adds a second "off" variant: its cost over "off" should read as zero, and how
 *   far it misses says how far to trust the other rows (an A/A check).
 *
 *   bun run bench:overhead [-- --rounds 5 --duration 4 --connections 64 --path /api/small]
 *                          [--tracing] [--in-process | --processes 3] [--delay-ms 5] [--twin]
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { validateConfig } from '../src/config/load.ts'
import { silentLogger } from '../src/log.ts'
import { startWorker } from '../src/worker/server.ts'
import { measureCpu } from './cpu.ts'
import { pickTool, runLoad } from './load-tools/index.ts'
import { startListening } from './listening.ts'
import { mean, median, pairedDifference, roundOrder } from './paired.ts'
import { FIXTURE_ROUTES } from './scenarios.ts'

const ROOT = join(import.meta.dir, '..')
const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '4' },
    connections: { type: 'string', default: '64' },
    path: { type: 'string', default: '/api/small' },
    tracing: { type: 'boolean', default: false },
    processes: { type: 'string', default: '1' },
    'in-process': { type: 'boolean', default: false },
    'delay-ms': { type: 'string', default: '0' },
    twin: { type: 'boolean', default: false },
  },
})

const children: { kill(): void }[] = []
const stops: (() => Promise<void>)[] = []
async function start(args: string[]): Promise<{ port: number; pid: number }> {
  const started = await startListening(args)
  children.push(started.proc)
  return started
}


async function main() {
  const tool = pickTool()
  if (!tool) throw new Error('neither oha nor wrk is installed')
  const upstream = await start(['bench/fixture-upstream.ts'])
  const sink = values.tracing ? await start(['bench/otlp-sink.ts']) : undefined
  const endpoint = sink && `http://127.0.0.1:${sink.port}/v1/traces`
  const variants: { name: string; metrics: boolean; access: boolean; tracing?: Record<string, unknown> }[] = values.tracing
    ? [
        { name: 'tracing off', metrics: true, access: false },
        { name: 'tracing on, unsampled', metrics: true, access: false, tracing: { endpoint, sampleRatio: 0 } },
        { name: 'tracing on, sampled', metrics: true, access: false, tracing: { endpoint, sampleRatio: 1 } },
      ]
    : [
        { name: 'metrics off', metrics: false, access: false },
        { name: 'metrics on', metrics: true, access: false },
        { name: 'metrics on + access log', metrics: true, access: true },
      ]
  // The A/A check: a second "off", measured like the others, shows what a difference of nothing reads as.
  if (values.twin) variants.push({ ...variants[0]!, name: `${variants[0]!.name} (twin)` })
  const inProcess = values['in-process']
  const processes = inProcess ? 1 : Number(values.processes)
  const delayMs = Number(values['delay-ms'])
  const configOf = (v: (typeof variants)[number]) => ({
    server: { host: '127.0.0.1', port: 0 },
    admin: { port: 0 },
    metrics: { enabled: v.metrics },
    log: { access: v.access },
    ...(v.tracing ? { tracing: v.tracing } : {}),
    upstreams: { fixture: { targets: [`http://127.0.0.1:${upstream.port}`] } },
    routes: FIXTURE_ROUTES,
  })
  /** One gateway: its port and how to read the CPU it spends (µs) from now, and its system part when it is known. */
  interface Server {
    variant: number
    port: number
    cpuFrom(): () => { total: number; system?: number }
    cpu: number[]
    system: number[]
    rps: number[]
  }
  // This process's CPU: the variants in it take turns, so a window holds only the loaded one's work.
  const ownCpu = () => {
    const start = process.cpuUsage()
    return () => {
      const used = process.cpuUsage(start)
      return { total: used.user + used.system, system: used.system }
    }
  }
  // Process k of every variant before process k+1 of any: the order below alternates variants.
  const servers: Server[] = []
  for (let k = 0; k < processes; k++) {
    for (const [index, v] of variants.entries()) {
      if (inProcess) {
        const checked = validateConfig(configOf(v))
        if (!checked.ok) throw new Error(checked.errors.join('\n'))
        const worker = startWorker(checked.config, silentLogger)
        stops.push(() => worker.stop(true))
        servers.push({ variant: index, port: worker.port, cpuFrom: ownCpu, cpu: [], system: [], rps: [] })
        continue
      }
      const path = join(ROOT, '.tmp', `overhead-${servers.length}.json`)
      await Bun.write(path, JSON.stringify(configOf(v)))
      const { port, pid } = await start(['src/main.ts', '--single-process', '--config', path])
      servers.push({
        variant: index,
        port,
        cpuFrom: () => {
          const cpu = measureCpu(pid)
          return () => ({ total: cpu.stop() * 1000 })
        },
        cpu: [],
        system: [],
        rps: [],
      })
    }
  }
  const load = (port: number, seconds: number) =>
    runLoad(tool, {
      url: `http://127.0.0.1:${port}${values.path}`,
      durationSeconds: seconds,
      connections: Number(values.connections),
      threads: 2,
      delayMs: delayMs > 0 ? delayMs : undefined,
    })
  for (const s of servers) await load(s.port, 1) // warm the JIT and the pools
  const rounds = Number(values.rounds)
  for (let round = 0; round < rounds; round++) {
    for (const i of roundOrder(servers.length, round)) {
      const s = servers[i]!
      const spent = s.cpuFrom()
      const result = await load(s.port, Number(values.duration))
      const used = spent()
      s.cpu.push(used.total / result.requests)
      if (used.system !== undefined) s.system.push(used.system / result.requests)
      s.rps.push(result.requestsPerSec)
    }
  }
  // A variant's figure in a round: the mean over its processes.
  const byRound = variants.map((_, index) => {
    const mine = servers.filter((s) => s.variant === index)
    return { mine, rounds: Array.from({ length: rounds }, (_, round) => mean(mine.map((s) => s.cpu[round]!))) }
  })
  const off = byRound[0]!.rounds
  const pace = delayMs > 0 ? `, ${delayMs} ms between a connection's requests` : ''
  const where = inProcess ? 'all variants in this process' : `${processes} process(es) per variant`
  console.log(`${tool}, ${values.path}, ${rounds} rounds of ${values.duration}s at ${values.connections} connections${pace}, ${where}`)
  console.log('variant                    CPU µs/req (median)   req/s    over off (mean of round pairs ± standard error)')
  for (const [index, v] of variants.entries()) {
    const { mine, rounds: cpu } = byRound[index]!
    const medians = mine.map((s) => median(s.cpu))
    const spread = processes > 1 ? ` (processes ${Math.min(...medians).toFixed(1)}-${Math.max(...medians).toFixed(1)})` : ''
    let over = ''
    if (index > 0) {
      const { mean: m, se } = pairedDifference(cpu, off)
      over = `${m >= 0 ? '+' : ''}${m.toFixed(1)} ± ${se.toFixed(1)} µs (${((m / mean(off)) * 100).toFixed(1)}%)`
      // In process, the kernel's share of it (the export's writes are system time).
      if (inProcess) {
        const kernel = pairedDifference(mine[0]!.system, servers[0]!.system)
        over += `, system ${kernel.mean >= 0 ? '+' : ''}${kernel.mean.toFixed(1)} ± ${kernel.se.toFixed(1)}`
      }
    }
    console.log(`${v.name.padEnd(26)} ${median(cpu).toFixed(1).padStart(10)}${spread.padEnd(14)} ${mean(mine.map((s) => median(s.rps))).toFixed(0).padStart(8)}    ${over}`)
  }
}

try {
  await main()
} finally {
  for (const child of children) child.kill()
  await Promise.all(stops.map((stop) => stop()))
}
