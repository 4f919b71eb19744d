import { describe, expect, test } from 'bun:test'
import { availableCpus, cgroupCpuLimit } from './cpus.ts'

const files = (entries: Record<string, string>) => (path: string) => entries[path]

describe('cgroup CPU limits', () => {
  test.each([
    [{ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }, undefined],
    [{ '/sys/fs/cgroup/cpu.max': '200000 100000\n' }, 2],
    [{ '/sys/fs/cgroup/cpu.max': '150000 100000' }, 2],
    [{ '/sys/fs/cgroup/cpu.max': '50000 100000' }, 1],
    [{ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }, undefined],
    [{ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '300000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }, 3],
    [{}, undefined],
  ])('%j → %p', (entries, expected) => {
    expect(cgroupCpuLimit(files(entries))).toBe(expected as number)
  })

  test('auto takes the smaller of the machine and the quota', () => {
    expect(availableCpus(files({ '/sys/fs/cgroup/cpu.max': '200000 100000' }), 64)).toBe(2)
    expect(availableCpus(files({ '/sys/fs/cgroup/cpu.max': 'max 100000' }), 8)).toBe(8)
    expect(availableCpus(files({ '/sys/fs/cgroup/cpu.max': '800000 100000' }), 4)).toBe(4)
  })
})
