/**
 * CPU time of a server's own processes (a root pid and its descendants: the gateway's
 * primary and workers, nginx's master and workers), read from /proc: user + system time,
 * fields 14 and 15 of /proc/<pid>/stat, in clock ticks. Divided by the requests served it
 * gives CPU per request, far steadier than req/s on a machine the load tool shares.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Clock ticks per second (`getconf CLK_TCK`): 100 on Linux builds in practice. */
const TICKS_PER_SECOND = 100

function readTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may contain spaces: count fields after its closing ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
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

/**
 * Starts counting the CPU of the tree under `root`; `stop()` returns the milliseconds used
 * since, by processes alive at both ends (a process that exits in between is not counted).
 */
export function measureCpu(root: number): { stop(): number } {
  const before = new Map<number, number>()
  for (const pid of processTree(root)) {
    const ticks = readTicks(pid)
    if (ticks !== undefined) before.set(pid, ticks)
  }
  return {
    stop() {
      let ticks = 0
      for (const pid of processTree(root)) {
        const now = readTicks(pid)
        if (now !== undefined) ticks += now - (before.get(pid) ?? 0)
      }
      return (ticks * 1000) / TICKS_PER_SECOND
    },
  }
}
