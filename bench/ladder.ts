/**
 * `bun run bench:ladder`: what the gateway's required work costs at the least. The floor
 * (bench/floor/) and the same server with each required piece of work added in its leanest
 * hand-written form, one rung at a time (bench/floor/ladder.ts), loaded side by side with the
 * gateway itself. Every server runs in this one process (real sockets, the fixture upstream
 * in a process of its own), each round loads each in turn (in an order that changes) and reads this
 * process's CPU time for the window, so the rungs share one JIT and one heap and drift
 * between rounds cancels in the pairs. The report: each rung's median CPU per request, what
 * it adds over the rung below (the mean of the round pairs ± its standard error), and its
 * ratio to the floor. The last rung is the lower bound of any gateway in Bun that does that
 * work; the gateway's row says how far above it the gateway's own structure is.
 *
 * `--ends` loads only the floor, the top rung and the gateway (quicker, for before/after runs).
 *
 *   bun run bench:ladder [-- --kind proxy|hit --rounds 8 --duration 3 --connections 64 --ends]
 */
import { parseArgs } from 'node:util'
import { validateConfig } from '../src/config/load.ts'
import { silentLogger } from '../src/log.ts'
import { startWorker } from '../src/worker/server.ts'
import { HIT_RUNGS, ladderHit, ladderProxy, PROXY_RUNGS } from './floor/ladder.ts'
import { startListening } from './listening.ts'
import { pickTool, runLoad } from './load-tools/index.ts'
import { median, pairedDifference, roundOrder } from './paired.ts'
import { FIXTURE_ROUTES } from './scenarios.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    kind: { type: 'string', default: 'proxy' },
    rounds: { type: 'string', default: '8' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    ends: { type: 'boolean', default: false },
  },
})
if (values.kind !== 'proxy' && values.kind !== 'hit') throw new Error('--kind is proxy or hit')
const tool = pickTool()
if (!tool) throw new Error('neither oha nor wrk is installed')

const upstream = await startListening(['bench/fixture-upstream.ts'])
const origin = `http://127.0.0.1:${upstream.port}`
const proxy = values.kind === 'proxy'
const path = proxy ? '/api/small' : '/cached/small'

interface Rung {
  name: string
  port: number
  cpu: number[]
  rps: number[]
  stop(): void
}
const names = proxy ? PROXY_RUNGS : HIT_RUNGS
const rungs: Rung[] = names.flatMap((name, index) => {
  if (values.ends && index !== 0 && index !== names.length - 1) return []
  const serve = proxy ? ladderProxy(index, origin) : ladderHit(index, origin)
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, development: false, fetch: serve })
  return [{ name, port: server.port!, cpu: [], rps: [], stop: () => server.stop(true) }]
})
// The gateway, as bench/overhead.ts runs it in process: metrics on, access log off.
const checked = validateConfig({
  server: { host: '127.0.0.1', port: 0 },
  admin: { port: 0 },
  upstreams: { fixture: { targets: [origin] } },
  routes: FIXTURE_ROUTES,
})
if (!checked.ok) throw new Error(checked.errors.join('\n'))
const worker = startWorker(checked.config, silentLogger)
rungs.push({ name: 'the gateway', port: worker.port, cpu: [], rps: [], stop: () => void worker.stop(true) })

const load = (port: number, seconds: number) =>
  runLoad(tool, { url: `http://127.0.0.1:${port}${path}`, durationSeconds: seconds, connections: Number(values.connections), threads: 2 })
try {
  // Warm the JIT, the pools and the caches.
  for (const rung of rungs) await load(rung.port, 1)
  const rounds = Number(values.rounds)
  for (let round = 0; round < rounds; round++) {
    for (const i of roundOrder(rungs.length, round)) {
      const rung = rungs[i]!
      const start = process.cpuUsage()
      const result = await load(rung.port, Number(values.duration))
      const used = process.cpuUsage(start)
      if (result.non2xx > 0 || result.socketErrors > 0) throw new Error(`${rung.name}: ${result.non2xx} non-2xx, ${result.socketErrors} socket errors`)
      rung.cpu.push((used.user + used.system) / result.requests)
      rung.rps.push(result.requestsPerSec)
    }
  }
  const floor = rungs[0]!
  console.log(`${tool}, GET ${path}, ${rounds} rounds of ${values.duration}s at ${values.connections} connections, every server in this process`)
  console.log('rung                       CPU µs/req (median)   req/s   over the rung below (± standard error)   vs floor')
  for (const [index, rung] of rungs.entries()) {
    const below = index === 0 ? undefined : rungs[index - 1]!
    const step = below ? pairedDifference(rung.cpu, below.cpu) : undefined
    const over = step ? `${step.mean >= 0 ? '+' : ''}${step.mean.toFixed(1)} ± ${step.se.toFixed(1)}` : ''
    const ratio = (median(rung.cpu) / median(floor.cpu)).toFixed(2)
    console.log(`${rung.name.padEnd(26)} ${median(rung.cpu).toFixed(1).padStart(10)} ${median(rung.rps).toFixed(0).padStart(16)}   ${over.padEnd(38)} ${ratio}`)
  }
} finally {
  for (const rung of rungs) rung.stop()
  upstream.proc.kill()
}
process.exit(0)
