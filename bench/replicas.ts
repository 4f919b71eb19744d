/**
 * `bun run bench:replicas`: how closely a global rate limit holds across replicas. Starts
 * redis-server, the fixture upstream and two gateway replicas (one worker each) sharing it,
 * loads both at once past the limit, and compares what they admitted together with what
 * the bucket allows (burst + rate × seconds).
 *
 *   bun run bench:replicas [-- --rate 2000 --duration 10 --connections 16]
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pickTool, runLoad } from './load-tools/index.ts'
import { hasBinary, startRedis } from '../test/fixtures/services.ts'
import { startListening as listening } from './listening.ts'

const ROOT = join(import.meta.dir, '..')
const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    rate: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
  },
})
const rate = Number(values.rate)
const seconds = Number(values.duration)
const tool = pickTool()
if (!tool) throw new Error('neither oha nor wrk is installed: apt-get install wrk')
if (!hasBinary('redis-server')) throw new Error('needs redis-server (apt-get install redis-server)')


const redis = await startRedis()
const upstream = await listening(['bench/fixture-upstream.ts'])
const config = {
  // Two replicas on one bus need the shared secret; without it the second refuses to start.
  redis: { url: redis.url, busSecret: crypto.randomUUID() + crypto.randomUUID() },
  server: { host: '127.0.0.1', port: 0, workers: 1 },
  admin: { port: 0 },
  upstreams: { fixture: { targets: [`http://127.0.0.1:${upstream.port}`] } },
  routes: [{ path: '/limited', upstream: 'fixture', rateLimit: { requestsPerSecond: rate, burst: rate, key: 'ip', scope: 'global' } }],
}
const configPath = join(ROOT, '.tmp', 'bench-replicas.json')
await Bun.write(configPath, JSON.stringify(config))
const replicas = [await listening(['src/main.ts', '--config', configPath]), await listening(['src/main.ts', '--config', configPath])]
try {
  const loads = await Promise.all(
    replicas.map((r) => runLoad(tool, { url: `http://127.0.0.1:${r.port}/limited/small`, durationSeconds: seconds, connections: Number(values.connections), threads: 1 }))
  )
  const admitted = loads.reduce((sum, l) => sum + l.requests - l.non2xx, 0)
  const refused = loads.reduce((sum, l) => sum + l.non2xx, 0)
  const allowed = rate + rate * seconds
  console.log(
    JSON.stringify({
      tool,
      rate,
      burst: rate,
      seconds,
      replicas: 2,
      offeredPerSec: Math.round(loads.reduce((sum, l) => sum + l.requestsPerSec, 0)),
      admittedByReplica: loads.map((l) => l.requests - l.non2xx),
      admitted,
      refused,
      allowed,
      error: Number(((admitted - allowed) / allowed).toFixed(4)),
    })
  )
} finally {
  for (const r of [...replicas, upstream]) r.proc.kill('SIGTERM')
  await redis.stop()
}
