/**
 * `bun run bench:overhead`: what metrics and access logs cost. Three single-process gateways
 * run side by side against one fixture upstream: metrics off, metrics on, metrics on +
 * access log (to /dev/null). Each round loads each of them in turn (the order rotates, so
 * drift on a shared machine cancels out) and reads its CPU time from /proc; the report is
 * the median CPU per request of each variant and its cost over "off". With `--tracing`, the
 * variants are tracing off, on but unsampled (sampleRatio 0) and on and sampled (1), metrics
 * on in all three, exporting to bench/otlp-sink.ts (a process of its own, not measured).
 *
 * Two settings make small costs measurable on a shared machine:
 * - `--processes K` starts K processes of each variant: two processes of the same build differ
 *   by up to ~1.5 µs per request for as long as they live (where the JIT and the allocator
 *   landed), more than the cost being measured. A variant's figure is the mean of its
 *   processes' medians, and the spread between them is printed.
 * - `--delay-ms N` gives each connection N ms between its requests (wrk's `delay`), so every
 *   variant serves the same offered rate. Flat out, a variant that costs more serves fewer
 *   requests per wake-up and is also charged more kernel time per request; at one rate, the
 *   difference is the feature's own CPU.
 *
 *   bun run bench:overhead [-- --rounds 5 --duration 4 --connections 64 --path /api/small]
 *                          [--tracing] [--processes 3] [--delay-ms 5]
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { measureCpu } from './cpu.ts'
import { pickTool, runLoad } from './load-tools/index.ts'
import { startListening } from './listening.ts'

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
    'delay-ms': { type: 'string', default: '0' },
  },
})

const children: { kill(): void }[] = []
async function start(args: string[]): Promise<{ port: number; pid: number }> {
  const started = await startListening(args)
  children.push(started.proc)
  return started
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

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
  const processes = Number(values.processes)
  const delayMs = Number(values['delay-ms'])
  // Process k of every variant before process k+1 of any: the rotation below alternates variants.
  const servers: { variant: number; port: number; pid: number; cpu: number[]; rps: number[] }[] = []
  for (let k = 0; k < processes; k++) {
    for (const [index, v] of variants.entries()) {
      const config = {
        server: { host: '127.0.0.1', port: 0 },
        admin: { port: 0 },
        metrics: { enabled: v.metrics },
        log: { access: v.access },
        ...(v.tracing ? { tracing: v.tracing } : {}),
        upstreams: { fixture: { targets: [`http://127.0.0.1:${upstream.port}`] } },
        routes: [
          { name: 'cached', path: '/cached', upstream: 'fixture', cache: { enabled: true } },
          { name: 'api', path: '/api', upstream: 'fixture', stripPrefix: true },
        ],
      }
      const path = join(ROOT, '.tmp', `overhead-${servers.length}.json`)
      await Bun.write(path, JSON.stringify(config))
      servers.push({ variant: index, ...(await start(['src/main.ts', '--single-process', '--config', path])), cpu: [] as number[], rps: [] as number[] })
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
    for (let i = 0; i < servers.length; i++) {
      const s = servers[(i + round) % servers.length]!
      const cpu = measureCpu(s.pid)
      const result = await load(s.port, Number(values.duration))
      s.cpu.push((cpu.stop() * 1000) / result.requests)
      s.rps.push(result.requestsPerSec)
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const results = variants.map((v, index) => {
    const mine = servers.filter((s) => s.variant === index)
    const medians = mine.map((s) => median(s.cpu))
    return { name: v.name, cpu: mean(medians), spread: Math.max(...medians) - Math.min(...medians), rps: mean(mine.map((s) => median(s.rps))) }
  })
  const off = results[0]!.cpu
  const pace = delayMs > 0 ? `, ${delayMs} ms between a connection's requests` : ''
  console.log(`${tool}, ${values.path}, ${rounds} rounds of ${values.duration}s at ${values.connections} connections${pace}, ${processes} process(es) per variant`)
  console.log('variant                    CPU µs/req   spread   req/s     over off')
  for (const r of results) {
    const over = r === results[0] ? '' : `${(r.cpu - off >= 0 ? '+' : '') + (r.cpu - off).toFixed(1)} µs (${((r.cpu / off - 1) * 100).toFixed(1)}%)`
    console.log(`${r.name.padEnd(26)} ${r.cpu.toFixed(1).padStart(10)}   ${processes > 1 ? r.spread.toFixed(1).padStart(6) : '     -'}   ${r.rps.toFixed(0).padStart(6)}    ${over}`)
  }
}

try {
  await main()
} finally {
  for (const child of children) child.kill()
}
