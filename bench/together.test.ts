import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { parseCpuList, allowedCpus } from './pin.ts'
import { pickTool } from './load-tools/index.ts'
import { envPairs, ratioSummary } from './together.ts'

test('--env-a/--env-b pairs: the value may hold "=", a pair without one is refused', () => {
  expect(envPairs(['MIMALLOC_PURGE_DELAY=100', 'BUN_OPTIONS=--smol --x=1'])).toEqual({ MIMALLOC_PURGE_DELAY: '100', BUN_OPTIONS: '--smol --x=1' })
  expect(() => envPairs(['NOVALUE'])).toThrow('--env-a/--env-b take KEY=VALUE, got "NOVALUE"')
  expect(() => envPairs(['=1'])).toThrow('KEY=VALUE')
})

test('the windows sum up to their median and range', () => {
  expect(ratioSummary([1.02, 0.97, 1.1, 1.0, 0.99])).toEqual({ median: 1.0, low: 0.97, high: 1.1 })
})

const usable = parseCpuList(allowedCpus(process.pid)).length >= 2 && Bun.which('taskset') !== null && pickTool() !== undefined

test.skipIf(!usable)('an A/A run: one checkout against itself, both served and measured on one core', async () => {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, 'together.ts'), '.', '.', '--windows', '2', '--duration', '1', '--connections', '8'], {
    cwd: join(import.meta.dir, '..'),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  expect(err).toBe('')
  expect(code).toBe(0)
  expect(out.match(/^window \d: /gm)).toHaveLength(2)
  const summary = /A ([\d.]+) µs, B ([\d.]+) µs a request \(medians\); B\/A ([\d.]+) \(range ([\d.]+)-([\d.]+)\)/.exec(out)
  expect(summary).not.toBeNull()
  const [a, b, ratio] = summary!.slice(1, 4).map(Number) as [number, number, number]
  // CPU per request of a gateway is tens of µs; two of one build are within 2x of each other however busy the machine.
  expect(a).toBeGreaterThan(1)
  expect(b).toBeGreaterThan(1)
  expect(ratio).toBeGreaterThan(0.5)
  expect(ratio).toBeLessThan(2)
}, 60_000)
