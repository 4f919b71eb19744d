/**
 * `bun run bench -- --pin`: the servers under test on the last core, the bench, its upstream
 * and the load tool on the others. On a shared VM a neighbour can slow one vCPU by up to 2×
 * for seconds at a time (docs/performance-optimization.md, the twelfth session), and a process
 * the scheduler moves between a slow and a fast core reads that in its CPU per request. Pinned,
 * the gateway, nginx and the floors are each measured on the same core, with the load on
 * another; the ratios then compare the servers, not where they ran. Linux only (taskset, from
 * util-linux).
 */
import { readFileSync } from 'node:fs'
import { processTree } from './cpu.ts'

export interface PinPlan {
  /** The cores of the bench, its upstream and the load tool (a taskset list, e.g. "0" or "0,1,2"). */
  load: string
  /** The core of the servers under test. */
  servers: string
}

/** The plan for the cores this process may run on (`allowed`, ids as /proc lists them), or why there is none. */
export function pinPlan(allowed: readonly number[], hasTaskset: boolean): PinPlan | string {
  if (!hasTaskset) return '--pin needs taskset (util-linux)'
  if (allowed.length < 2) return `--pin needs 2 cores or more, this process may use ${allowed.length}`
  return { load: allowed.slice(0, -1).join(','), servers: String(allowed.at(-1)) }
}

/** The core ids of a /proc or taskset list: "0-2,5" is 0, 1, 2 and 5. */
export function parseCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number) as [number, number?]
    return Array.from({ length: to! - from + 1 }, (_, i) => from + i)
  })
}

/** Pins every thread of `root` and of every process under it to `cpus`; children started later inherit it. */
export function pinTree(root: number, cpus: string): void {
  for (const pid of processTree(root)) {
    const done = Bun.spawnSync(['taskset', '-a', '-p', '-c', cpus, String(pid)], { stdout: 'ignore', stderr: 'pipe' })
    // A process that ended while we looked is not an error.
    if (done.exitCode !== 0 && existsNow(pid)) throw new Error(`taskset ${cpus} ${pid}: ${done.stderr.toString().trim()}`)
  }
}

/** The cores `pid` may run on, as /proc says (`Cpus_allowed_list`). */
export function allowedCpus(pid: number): string {
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!
}

function existsNow(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`)
    return true
  } catch {
    return false
  }
}
