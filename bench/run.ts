/**
 * `bun run bench`: the small GET through the gateway (proxied, and as a cache hit) against
 * the upstream direct, on this machine, with oha or wrk. A first harness; more scenarios,
 * nginx comparison, thresholds and charts come with the bench issue.
 *
 *   bun run bench [-- --duration 10 --connections 64 --workers auto]
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pickTool, runLoad, type LoadResult } from './load-tools/index.ts'

const ROOT = join(import.meta.dir, '..')
const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    workers: { type: 'string', default: 'auto' },
  },
})
const durationSeconds = Number(values.duration)
const connections = Number(values.connections)

const children: { kill(signal?: number | NodeJS.Signals): void }[] = []
const stopAll = () => children.forEach((c) => c.kill('SIGTERM'))
process.on('SIGINT', () => (stopAll(), process.exit(130)))

/** Spawns a bun script and waits for its JSON "listening" line. */
async function startListening(args: string[]): Promise<{ port: number }> {
  const proc = Bun.spawn([process.execPath, ...args], { cwd: ROOT, stdout: 'pipe', stderr: 'inherit', env: { ...process.env, NODE_ENV: 'production' } })
  children.push(proc)
  const decoder = new TextDecoder()
  let text = ''
  const reader = proc.stdout.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) throw new Error(`${args.join(' ')} exited before listening`)
    text += decoder.decode(value)
    const line = text.split('\n').find((l) => l.includes('"event":"listening"'))
    if (!line) continue
    // Keep draining its output, so a full pipe never stalls the process.
    void (async () => {
      while (!(await reader.read()).done);
    })()
    return { port: JSON.parse(line).port }
  }
}

const tool = pickTool()
if (!tool) {
  console.error('neither oha nor wrk is installed: apt-get install wrk')
  process.exit(1)
}

try {
  const upstream = await startListening(['bench/upstream.ts'])
  const configPath = join(ROOT, '.tmp', 'bench-gateway.json')
  await Bun.write(
    configPath,
    JSON.stringify({
      server: { host: '127.0.0.1', port: 0, workers: values.workers === 'auto' ? 'auto' : Number(values.workers) },
      admin: { port: 0 },
      upstreams: { bench: { targets: [`http://127.0.0.1:${upstream.port}`] } },
      routes: [
        { path: '/cached', upstream: 'bench', cache: { enabled: true } },
        { path: '/', upstream: 'bench' },
      ],
    })
  )
  const gateway = await startListening(['src/main.ts', '--config', configPath])
  const load = (port: number, path: string, seconds = durationSeconds) =>
    runLoad(tool, { url: `http://127.0.0.1:${port}${path}`, durationSeconds: seconds, connections, threads: 2 })

  // Warm every path (JIT, pools, cache), then measure back to back.
  await load(gateway.port, '/items/42', 2)
  await load(gateway.port, '/cached/items/42', 1)
  const direct = await load(upstream.port, '/items/42')
  const proxied = await load(gateway.port, '/items/42')
  const cacheHit = await load(gateway.port, '/cached/items/42')
  const row = (name: string, r: LoadResult) =>
    `${name.padEnd(10)} ${r.requestsPerSec.toFixed(0).padStart(9)} ${(r.p50 * 1000).toFixed(2).padStart(8)} ${(r.p99 * 1000).toFixed(2).padStart(8)} ${String(r.errorStatus + r.socketErrors).padStart(7)}`
  console.log(
    `tool: ${tool}, ${durationSeconds}s, ${connections} connections, gateway workers: ${values.workers}, ` +
      `${navigator.hardwareConcurrency} cores shared by tool, gateway and upstream`
  )
  console.log(`${'scenario'.padEnd(10)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}`)
  console.log(row('direct', direct))
  console.log(row('proxied', proxied))
  console.log(row('cache hit', cacheHit))
  console.log(`proxied/direct: ${(proxied.requestsPerSec / direct.requestsPerSec).toFixed(2)}`)
  console.log(`cache hit/proxied: ${(cacheHit.requestsPerSec / proxied.requestsPerSec).toFixed(2)}`)
} finally {
  stopAll()
}
