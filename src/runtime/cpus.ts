/**
 * How many CPUs this process may really use: the machine's count, lowered by a cgroup CPU
 * quota where one is set (a container limited to 2 CPUs on a 64-core host should run 2
 * workers, not 64). Read once at start.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

export type ReadText = (path: string) => string | undefined

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** CPUs allowed by the cgroup quota (v2 `cpu.max`, else v1 cfs files), or undefined when unlimited. */
export function cgroupCpuLimit(read: ReadText = readText): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max')?.trim()
  if (v2) {
    const [quota, period] = v2.split(/\s+/)
    if (quota === 'max') return undefined
    return quotaToCpus(Number(quota), Number(period))
  }
  const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim())
  const period = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim())
  return quota > 0 ? quotaToCpus(quota, period) : undefined
}

function quotaToCpus(quota: number, period: number): number | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined
  return Math.max(1, Math.ceil(quota / period))
}

/** Worker count for `workers: auto`. */
export function availableCpus(read: ReadText = readText, machine = availableParallelism()): number {
  const limit = cgroupCpuLimit(read)
  return Math.max(1, limit === undefined ? machine : Math.min(machine, limit))
}
