/**
 * `bun run bench:history`: what a gateway's history costs its proxied path, in process. The
 * JIT compiles a function for the types it has seen; when other routes widen them (a POST's
 * body, another route's fields, an identity), code compiled for proxied alone is compiled
 * again, more generic, and can stay a tier lower for a long while. A production gateway
 * serves all its routes, so its proxied path runs the widened code; a bench that loads
 * proxied alone reads the narrow code (docs/performance-optimization.md, the eleventh session).
 *
 * Each history is served in fresh processes (the JIT's state is per process), one history
 * after another so drift weighs on each alike: the bench gateway's app over the recorded
 * upstream (fixture-app.ts), HISTORY_REQUESTS requests served as the history says, then
 * proxied measured in rounds (the median of each process is one reading):
 * - `alone`: /api/small only;
 * - `in-turn`: every kind of request in turn, proxied first, as `bun run bench` warms up;
 * - `interleaved`: every kind, one after another, request by request.
 *
 * `--kinds` narrows the other kinds served (proxied is always one): which route's types cost most.
 * `--cpu N` runs every process on core N (bench/pin.ts): on a VM whose neighbour slows one
 * vCPU at a time, an unpinned process's reading depends on the core it landed on.
 *
 *   bun run bench:history [-- --processes 4 --rounds 9 --kinds jwt,post-4k --cpu 1]
 */
import { parseArgs } from 'node:util'
import { benchApp } from './fixture-app.ts'
import { cpuOfRequests, LOOPBACK_SERVER } from './recorded.ts'
import { median } from './paired.ts'
import { pinTree } from './pin.ts'
import { SCENARIOS } from './scenarios.ts'

const HISTORIES = ['alone', 'in-turn', 'interleaved'] as const
type History = (typeof HISTORIES)[number]

const HISTORY_REQUESTS = 320_000
const ROUND_REQUESTS = 50_000

/** The kinds of request a history serves, by name: the bench scenarios' GETs, a 4 KiB POST, and cache misses (a new path each). */
export function requestKinds(): Record<string, () => Request> {
  const kinds: Record<string, () => Request> = {}
  for (const name of ['proxied', 'authenticated', 'jwt', 'plugin', 'hono-plugin', 'cache-hit']) {
    const s = SCENARIOS.find((x) => x.name === name)!
    const init = { headers: { host: '127.0.0.1:8080', 'user-agent': 'wrk', ...s.headers } }
    kinds[name] = () => new Request(`http://127.0.0.1:8080${s.path}`, init)
  }
  const body = 'x'.repeat(4096)
  kinds['post-4k'] = () => new Request('http://127.0.0.1:8080/api/echo', { method: 'POST', body, headers: { host: '127.0.0.1:8080', 'content-type': 'text/plain' } })
  let misses = 0
  kinds['cache-miss'] = () => new Request(`http://127.0.0.1:8080/cached/h${misses++}`, { headers: { host: '127.0.0.1:8080' } })
  return kinds
}

/** One process's reading: its history served, then proxied's median CPU µs a request over `rounds`. */
async function child(history: History, rounds: number, only: readonly string[] | undefined): Promise<number> {
  const { app } = await benchApp()
  const serve = (req: Request) => app.fetch(req, LOOPBACK_SERVER)
  const kinds = requestKinds()
  const names = Object.keys(kinds).filter((name) => name === 'proxied' || only === undefined || only.includes(name))
  const each = HISTORY_REQUESTS / names.length
  if (history === 'alone') await cpuOfRequests(serve, kinds.proxied!, HISTORY_REQUESTS)
  else if (history === 'in-turn') for (const name of names) await cpuOfRequests(serve, kinds[name]!, each)
  else await cpuOfRequests(serve, (i) => kinds[names[i % names.length]!]!(), HISTORY_REQUESTS)
  const readings: number[] = []
  for (let r = 0; r < rounds; r++) readings.push(await cpuOfRequests(serve, kinds.proxied!, ROUND_REQUESTS))
  return median(readings)
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { processes: { type: 'string', default: '4' }, rounds: { type: 'string', default: '9' }, kinds: { type: 'string' }, cpu: { type: 'string' }, child: { type: 'string' } },
  })
  const rounds = Number(values.rounds)
  const only = values.kinds?.split(',')
  const unknown = only?.filter((name) => !(name in requestKinds()))
  if (unknown?.length) throw new Error(`unknown kinds: ${unknown.join(', ')} (known: ${Object.keys(requestKinds()).join(', ')})`)
  if (values.child) {
    console.log(JSON.stringify({ history: values.child, us: await child(values.child as History, rounds, only) }))
    return
  }
  // The processes spawned below inherit the core.
  if (values.cpu !== undefined) pinTree(process.pid, values.cpu)
  const readings = new Map<History, number[]>(HISTORIES.map((h) => [h, []]))
  for (let p = 0; p < Number(values.processes); p++) {
    for (const history of HISTORIES) {
      const args = ['--child', history, '--rounds', String(rounds), ...(only ? ['--kinds', only.join(',')] : [])]
      const proc = Bun.spawn([process.execPath, import.meta.path, ...args], { stdout: 'pipe', stderr: 'inherit' })
      const out = await new Response(proc.stdout).text()
      if ((await proc.exited) !== 0) throw new Error(`the ${history} process failed`)
      readings.get(history)!.push(JSON.parse(out.trim().split('\n').at(-1)!).us)
    }
  }
  const alone = median(readings.get('alone')!)
  console.log(`proxied CPU µs a request in process after ${HISTORY_REQUESTS.toLocaleString('en')} requests of each history (the median of ${rounds} rounds of ${ROUND_REQUESTS.toLocaleString('en')} in each process):`)
  for (const [history, us] of readings) {
    const m = median(us)
    console.log(`  ${history.padEnd(12)} ${m.toFixed(2).padStart(6)}  ${history === 'alone' ? '' : `${m - alone >= 0 ? '+' : ''}${(m - alone).toFixed(2)}`.padEnd(7)}  processes: ${us.map((x) => x.toFixed(2)).join(', ')}`)
  }
}

if (import.meta.main) await main()
