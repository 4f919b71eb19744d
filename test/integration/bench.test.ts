/** `bun run bench` end to end on a one-second scenario: real processes, a real load tool. */
import { expect, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pickTool } from '../../bench/load-tools/index.ts'

const ROOT = join(import.meta.dir, '..', '..')

test.skipIf(pickTool() === undefined)('a one-second scenario runs end to end and writes its report', async () => {
  const results = mkdtempSync(join(tmpdir(), 'bench-results-'))
  const proc = Bun.spawn(
    [process.execPath, 'bench/run.ts', '--duration', '1', '--connections', '8', '--workers', '1', '--scenario', 'health', '--results', results],
    { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' }
  )
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()])
  expect(await proc.exited, `${out}\n${err}`).toBe(0)
  expect(out).toContain('load tool: ')
  expect(out).toContain('thresholds: all met')
  const report = await Bun.file(join(results, 'latest.json')).json()
  expect(report.scenarios.map((s: { name: string }) => s.name)).toEqual(['direct', 'health'])
  expect(report.scenarios[1].gateway.requestsPerSec).toBeGreaterThan(0)
  expect(report.scenarios[1].ratioVsDirect).toBeGreaterThan(0)
  expect(Object.keys(report.scenarios[1].rssMbByWorker)).toHaveLength(1)
  expect(report.machine.bun).toBe(Bun.version)
  expect(await Bun.file(join(results, 'latest.svg')).text()).toStartWith('<svg')
}, 30_000)
