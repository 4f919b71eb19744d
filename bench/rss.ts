/** Samples the resident memory of processes (the gateway's workers) from /proc while a scenario runs. */
import { readFileSync } from 'node:fs'

function rssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Math.round(Number(match[1]) / 1024) : undefined
  } catch {
    return undefined
  }
}

/** Starts sampling `pids()` every 500 ms; `stop()` returns the highest RSS seen per pid. */
export function sampleRss(pids: () => number[]): { stop(): Record<string, number> } {
  const peak: Record<string, number> = {}
  const sample = () => {
    for (const pid of pids()) {
      const mb = rssMb(pid)
      if (mb !== undefined) peak[pid] = Math.max(peak[pid] ?? 0, mb)
    }
  }
  sample()
  const timer = setInterval(sample, 500)
  return {
    stop() {
      clearInterval(timer)
      sample()
      return peak
    },
  }
}
