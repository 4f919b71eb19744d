/**
 * `bun run bench:together -- A B`: two gateways on one core, loaded at the same time, each by
 * a load tool of its own on the other cores; per window, the CPU per request of each and the
 * ratio B / A. A neighbour that slows a core slows both alike, so the ratio stays where it is
 * while the microseconds move (docs/performance-optimization.md, the thirteenth and
 * fourteenth sessions: A/A 0.97-1.03 where runs in turn spread by 10-30%).
 *
 * A and B are checkouts of this repository (`.` twice is the A/A check), each started as
 * `bun <checkout>/src/main.ts` with one worker in front of the fixture upstream; `--env-a` and
 * `--env-b` (KEY=VALUE, repeatable) start one of them with a setting of its own, so one
 * checkout can be read against itself with another runtime setting. The two share one core:
 * this compares variants of one server. A server beside a different one (the floor, nginx)
 * suffers from the sharing in its own way, so the ratio of two different servers read this
 * way is not the ratio of their costs alone.
 *
 *   bun run bench:together -- A B [--path /api/small] [--windows 8] [--duration 3] [--connections 32] [--env-a K=V] [--env-b K=V]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { measureUsage } from './cpu.ts'
import { startAndWait, startListening } from './listening.ts'
import { pickTool, runLoad, type ToolName } from './load-tools/index.ts'
import { median } from './paired.ts'
import { allowedCpus, parseCpuList, pinPlan, pinTree } from './pin.ts'
import { gatewayConfig } from './scenarios.ts'

/** KEY=VALUE pairs as an environment; a pair without "=" is refused by name. */
export function envPairs(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new Error(`--env-a/--env-b take KEY=VALUE, got ${JSON.stringify(pair)}`)
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return env
}

/** The windows' ratios summed up: the median and the range. */
export function ratioSummary(ratios: readonly number[]): { median: number; low: number; high: number } {
  return { median: median(ratios), low: Math.min(...ratios), high: Math.max(...ratios) }
}

interface Side {
  name: string
  pid: number
  url: string
  stop(): void
}

async function startSide(name: string, root: string, upstreamPort: number, env: Record<string, string>, dir: string): Promise<Side> {
  const config = join(dir, `${name}.json`)
  writeFileSync(config, JSON.stringify(gatewayConfig(upstreamPort, '1')), { mode: 0o600 })
  const started = await startAndWait([process.execPath, join(root, 'src', 'main.ts'), '--config', config], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production', ...env },
  })
  const port = JSON.parse(started.line).port as number
  return { name, pid: started.proc.pid, url: `http://127.0.0.1:${port}`, stop: () => started.proc.kill() }
}

/** Both sides loaded at once for `seconds`; each one's CPU µs per request. */
async function window(sides: readonly Side[], tool: ToolName, path: string, seconds: number, connections: number): Promise<number[]> {
  const usages = sides.map((side) => measureUsage(side.pid))
  const results = await Promise.all(sides.map((side) => runLoad(tool, { url: side.url + path, durationSeconds: seconds, connections, threads: 1 })))
  const cpu = usages.map((usage) => usage.stop().cpuMs)
  return results.map((result, i) => {
    if (result.non2xx > 0 || result.socketErrors > 0) throw new Error(`${sides[i]!.name}: ${result.non2xx} non-2xx, ${result.socketErrors} socket errors`)
    return (cpu[i]! * 1000) / result.requests
  })
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Bun.argv.slice(2),
    allowPositionals: true,
    options: {
      path: { type: 'string', default: '/api/small' },
      windows: { type: 'string', default: '8' },
      duration: { type: 'string', default: '3' },
      connections: { type: 'string', default: '32' },
      'env-a': { type: 'string', multiple: true, default: [] },
      'env-b': { type: 'string', multiple: true, default: [] },
    },
  })
  if (positionals.length !== 2) throw new Error('usage: bun run bench:together -- A B (two checkouts; `. .` is the A/A check)')
  const tool = pickTool()
  if (!tool) throw new Error('neither oha nor wrk is installed')
  const plan = pinPlan(parseCpuList(allowedCpus(process.pid)), Bun.which('taskset') !== null)
  if (typeof plan === 'string') throw new Error(plan.replace('--pin', 'bench:together'))
  // This process, the upstream and the load tools on the load cores; the two gateways on the last one.
  pinTree(process.pid, plan.load)
  const dir = mkdtempSync(join(tmpdir(), 'bench-together-'))
  const upstream = await startListening(['bench/fixture-upstream.ts'])
  const sides: Side[] = []
  try {
    const [a, b] = positionals.map((p) => resolve(p)) as [string, string]
    sides.push(await startSide('A', a, upstream.port, envPairs(values['env-a']), dir))
    sides.push(await startSide('B', b, upstream.port, envPairs(values['env-b']), dir))
    for (const side of sides) pinTree(side.pid, plan.servers)
    const path = values.path
    const connections = Number(values.connections)
    await window(sides, tool, path, 2, connections)
    const ratios: number[] = []
    const micros: number[][] = [[], []]
    for (let w = 0; w < Number(values.windows); w++) {
      const [ua, ub] = (await window(sides, tool, path, Number(values.duration), connections)) as [number, number]
      micros[0]!.push(ua)
      micros[1]!.push(ub)
      ratios.push(ub / ua)
      console.log(`window ${w + 1}: A ${ua.toFixed(1)} µs, B ${ub.toFixed(1)} µs, B/A ${(ub / ua).toFixed(3)}`)
    }
    const s = ratioSummary(ratios)
    console.log(`GET ${path}, both on core ${plan.servers}, ${ratios.length} windows of ${values.duration} s, ${tool} -c${connections} each`)
    console.log(`A ${median(micros[0]!).toFixed(1)} µs, B ${median(micros[1]!).toFixed(1)} µs a request (medians); B/A ${s.median.toFixed(3)} (range ${s.low.toFixed(3)}-${s.high.toFixed(3)})`)
  } finally {
    for (const side of sides) side.stop()
    upstream.proc.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  await main()
  process.exit(0)
}
