/**
 * `bun run bench:overhead`: what metrics and access logs cost. Three single-process gateways
 * run side by side against one fixture upstream: metrics off, metrics on, metrics on +
 * access log (to /dev/null). Each round loads each of them in turn (the order rotates, so
 * drift on a shared machine cancels out) and reads its CPU time from /proc; the report is
 * the median CPU per request of each variant and its cost over "off". With `--tracing`, the
 * variants are tracing off, on but unsampled (sampleRatio 0) and on and sampled (1), metrics
 * on in all three, exporting to bench/otlp-sink.ts (a process of its own, not measured).
 *
 *   bun run bench:overhead [-- --rounds 5 --duration 4 --connections 64 --path /api/small] [--tracing]
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
  const servers = []
  for (const v of variants) {
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
    servers.push({ ...v, ...(await start(['src/main.ts', '--single-process', '--config', path])), cpu: [] as number[], rps: [] as number[] })
  }
  const load = (port: number, seconds: number) =>
    runLoad(tool, {
      url: `http://127.0.0.1:${port}${values.path}`,
      durationSeconds: seconds,
      connections: Number(values.connections),
      threads: 2,
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
  const off = median(servers[0]!.cpu)
  console.log(`${tool}, ${values.path}, ${rounds} rounds of ${values.duration}s at ${values.connections} connections, one process each`)
  console.log('variant                    CPU µs/req (median)   req/s (median)   CPU vs off')
  for (const s of servers) {
    const cpu = median(s.cpu)
    console.log(
      `${s.name.padEnd(26)} ${cpu.toFixed(1).padStart(10)}            ${median(s.rps).toFixed(0).padStart(8)}        ${s === servers[0] ? '' : `${((cpu / off - 1) * 100).toFixed(1)}%`}`
    )
  }
}

try {
  await main()
} finally {
  for (const child of children) child.kill()
}
