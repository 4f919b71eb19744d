import { describe, expect, test } from 'bun:test'
import { workerRuntimeEnv } from './worker-runtime.ts'

describe('workerRuntimeEnv', () => {
  test("sets the heap growth and the allocator's purging, and an operator's own values win", () => {
    expect(workerRuntimeEnv({})).toEqual({ BUN_JSC_heapGrowthMaxIncrease: '1', MIMALLOC_PURGE_DELAY: '1000', MIMALLOC_PURGE_HOLES: '0' })
    expect(workerRuntimeEnv({ MIMALLOC_PURGE_DELAY: '-1', MIMALLOC_PURGE_HOLES: '1', BUN_JSC_heapGrowthMaxIncrease: '2' })).toEqual({
      BUN_JSC_heapGrowthMaxIncrease: '2',
      MIMALLOC_PURGE_DELAY: '-1',
      MIMALLOC_PURGE_HOLES: '1',
    })
  })

  test("this Bun's allocator reads the options under those names (a Bun that renamed them would ignore them)", async () => {
    // mimalloc lists the options it read, with their values, when verbose.
    const proc = Bun.spawn([process.execPath, '-e', '1'], { env: { ...process.env, ...workerRuntimeEnv({}), MIMALLOC_VERBOSE: '1' }, stderr: 'pipe', stdout: 'ignore' })
    const printed = await new Response(proc.stderr).text()
    expect(await proc.exited).toBe(0)
    expect(printed).toMatch(/option 'purge_delay': 1000\b/)
    expect(printed).toMatch(/option 'purge_holes': 0\b/)
  })
})
