/** `bun run bench` end to end on one-second scenarios: real processes, a real load tool. */
import { expect, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pickTool } from '../../bench/load-tools/index.ts'
import type { BenchReport, ScenarioResult } from '../../bench/report.ts'

const ROOT = join(import.meta.dir, '..', '..')

/**
 * `bun run bench` with `args` and one-second scenarios, warmed one second each: its output,
 * the report it wrote and where. Whether the thresholds held is not this test's business (one
 * second beside the rest of the suite says nothing of performance; CI's `bench --quick` run
 * judges them): the run must end with its verdict, exit 1 only when it names a missed one.
 */
async function bench(args: string[]): Promise<{ out: string; report: BenchReport; results: string }> {
  const results = mkdtempSync(join(tmpdir(), 'bench-results-'))
  const proc = Bun.spawn([process.execPath, 'bench/run.ts', '--duration', '1', '--warmup', '1', '--connections', '8', '--workers', '1', ...args, '--results', results], {
    cwd: ROOT,
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()])
  const exited = await proc.exited
  const report = (await Bun.file(join(results, 'latest.json')).json()) as BenchReport
  expect(exited, `${out}\n${err}`).toBe(report.failures.length === 0 ? 0 : 1)
  if (report.failures.length === 0) expect(out).toContain('thresholds: all met')
  else expect(err).toContain(`thresholds missed (bench/thresholds.json):\n  ${report.failures.join('\n  ')}`)
  return { out, report, results }
}

const named = (report: BenchReport, name: string): ScenarioResult => report.scenarios.find((s) => s.name === name)!

test.skipIf(pickTool() === undefined)('a one-second scenario runs end to end and writes its report', async () => {
  const { out, report, results } = await bench(['--scenario', 'health'])
  expect(out).toContain('load tool: ')
  expect(report.scenarios.map((s) => s.name)).toEqual(['direct', 'health'])
  expect(report.scenarios[1]!.gateway.requestsPerSec).toBeGreaterThan(0)
  expect(report.scenarios[1]!.ratioVsDirect).toBeGreaterThan(0)
  expect(Object.keys(report.scenarios[1]!.rssMbByWorker!)).toHaveLength(1)
  expect(report.machine.bun).toBe(Bun.version)
  expect(await Bun.file(join(results, 'latest.svg')).text()).toStartWith('<svg')
}, 30_000)

test.skipIf(pickTool() === undefined)('proxied and cache-hit are measured beside their floors, and the table shows the ratios', async () => {
  const { out, report } = await bench(['--scenario', 'proxied,cache-hit'])
  expect(report.scenarios.map((s) => s.name)).toEqual(['direct', 'floor-proxy', 'proxied', 'floor-hit', 'cache-hit'])
  for (const floor of ['floor-proxy', 'floor-hit']) {
    expect(named(report, floor).gateway.requests).toBeGreaterThan(0)
    expect(named(report, floor).gateway.cpuUsPerRequest).toBeGreaterThan(0)
  }
  // Zero errors and non-2xx on the floors too: they answer what the gateway answers.
  expect(report.scenarios.every((s) => s.gateway.non2xx === 0 && s.gateway.socketErrors === 0)).toBe(true)
  expect(named(report, 'proxied').cpuRatioVsFloor).toBeGreaterThan(0)
  expect(named(report, 'cache-hit').cpuRatioVsFloor).toBeGreaterThan(0)
  expect(out.split('\n').find((l) => l.startsWith('scenario'))).toContain('CPU vs floor')
}, 60_000)

test.skipIf(pickTool() === undefined)('a routes scenario boots two gateways with its table and reports the boot beside routes-1', async () => {
  const { out, report } = await bench(['--scenario', 'routes-1000'])
  expect(report.scenarios.map((s) => s.name)).toEqual(['direct', 'routes-1', 'routes-1000'])
  for (const name of ['routes-1', 'routes-1000']) {
    const r = named(report, name)
    expect(r.bootMs).toBeGreaterThan(0)
    expect(r.gateway.requests).toBeGreaterThan(0)
    expect(r.gateway.non2xx).toBe(0)
    // Two gateways of one worker each, both loaded (one a round): each worker's RSS is sampled.
    expect(Object.keys(r.rssMbByWorker!)).toHaveLength(2)
  }
  // routes-1000's ratios are against routes-1, its baseline.
  expect(named(report, 'routes-1000').cpuRatioVsDirect).toBeGreaterThan(0)
  expect(out.split('\n').find((l) => l.startsWith('scenario'))).toContain('boot s')
}, 90_000)
