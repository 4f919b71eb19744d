import { describe, expect, test } from 'bun:test'
import { measureCpu, processTree } from './cpu.ts'

describe('measureCpu', () => {
  test('counts the CPU a child process burns, and finds the child under its parent', async () => {
    const child = Bun.spawn([process.execPath, '-e', 'const end = Date.now() + 400; while (Date.now() < end) {}'])
    const cpu = measureCpu(process.pid)
    expect(processTree(process.pid)).toContain(child.pid)
    await Bun.sleep(300)
    const ms = cpu.stop()
    await child.exited
    expect(ms).toBeGreaterThan(100)
  })
})
