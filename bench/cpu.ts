/**
 * CPU time of a server's own processes (a root pid and its descendants: the gateway's
 * primary and workers, nginx's master and workers), read from /proc: user + system time,
 * fields 14 and 15 of /proc/<pid>/stat, in clock ticks. Divided by the requests served it
 * gives CPU per request, far steadier than req/s on a machine the load tool shares.
 *
 * Beside it, the minor page faults they took (field 10): a count, so a neighbour that slows
 * a core does not move it, and each one is a trip into the kernel (~2 µs on this VM) for a
 * page the allocator gave back to the OS and the heap then touched again.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Clock ticks per second (`getconf CLK_TCK`): 100 on Linux builds in practice. */
const TICKS_PER_SECOND = 100

interface Counters {
  ticks: number
  minorFaults: number
}

function readCounters(pid: number): Counters | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may contain spaces: count fields after its closing ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { ticks: Number(fields[11]) + Number(fields[12]), minorFaults: Number(fields[7]) }
  } catch {
    return undefined
  }
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const out = [root]
  for (let i = 0; i < out.length; i++) {
    const pid = out[i]!
    let tasks: string[] = []
    try {
      tasks = readdirSync(`/proc/${pid}/task`)
    } catch {
      continue
    }
    for (const task of tasks) {
      try {
        const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim()
        if (children) for (const child of children.split(' ')) out.push(Number(child))
      } catch {
        // The task ended while we looked.
      }
    }
  }
  return out
}

/** What a tree of processes spent between two readings. */
export interface Usage {
  cpuMs: number
  minorFaults: number
}

/**
 * Starts counting the CPU and the minor faults of the tree under `root`; `stop()` returns
 * what was spent since, by processes alive at both ends (a process that exits in between is
 * not counted).
 */
export function measureUsage(root: number): { stop(): Usage } {
  const before = new Map<number, Counters>()
  for (const pid of processTree(root)) {
    const counters = readCounters(pid)
    if (counters !== undefined) before.set(pid, counters)
  }
  return {
    stop() {
      let ticks = 0
      let minorFaults = 0
      for (const pid of processTree(root)) {
        const now = readCounters(pid)
        if (now === undefined) continue
        const then = before.get(pid)
        ticks += now.ticks - (then?.ticks ?? 0)
        minorFaults += now.minorFaults - (then?.minorFaults ?? 0)
      }
      return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, minorFaults }
    },
  }
}

/** `measureUsage`'s CPU alone, in ms. */
export function measureCpu(root: number): { stop(): number } {
  const usage = measureUsage(root)
  return { stop: () => usage.stop().cpuMs }
}
