import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { measureCpu, measureUsage, processTree } from './cpu.ts'

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

describe('measureUsage', () => {
  test("counts the minor faults of a child that touches pages it has not touched yet, and not an idle child's", async () => {
    // Pages of a file mapping, written a byte each: a fault a page (a write is not faulted
    // around, and a file's pages are not made huge pages as anonymous memory may be).
    const dir = mkdtempSync(join(tmpdir(), 'bench-faults-'))
    const file = join(dir, 'pages')
    writeFileSync(file, new Uint8Array(32 * 1024 * 1024))
    const touch = `const b = Bun.mmap(${JSON.stringify(file)}); for (let i = 0; i < b.length; i += 4096) b[i] = 1; console.log("done"); await Bun.sleep(60_000)`
    const idle = 'console.log("done"); await Bun.sleep(60_000)'
    const measure = async (script: string) => {
      const child = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe' })
      // Measured from spawn until the script says it is done: its start-up faults count in both.
      const usage = measureUsage(child.pid)
      await child.stdout.getReader().read()
      const { minorFaults } = usage.stop()
      child.kill()
      await child.exited
      return minorFaults
    }
    try {
      const touched = await measure(touch)
      const idled = await measure(idle)
      // 8,192 pages.
      expect(touched - idled).toBeGreaterThan(4000)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
