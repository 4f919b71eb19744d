/**
 * One process's own numbers, labelled `worker` (a worker's pid, or `primary`) so the
 * primary's merge keeps each process apart: CPU seconds, resident memory (what
 * server.maxWorkerRssMb recycles on), open and allowed file descriptors, start time (a
 * recycled worker shows as a new pid with a new start), and event-loop lag. Everything but
 * the lag is read at scrape time, the descriptors asynchronously from /proc (Linux; absent
 * elsewhere); nothing runs per request. prom-client's collectDefaultMetrics works on Bun but
 * reads /proc synchronously and samples the loop every 10 ms; this costs one 500 ms timer.
 */
import { readdir, readFile } from 'node:fs/promises'
import type { Registry } from 'prom-client'
import { registerCollected } from './family.ts'
import { METRICS } from './names.ts'

/** How often the lag probe fires, and how many of its delays the gauge looks back over (10 s). */
const PROBE_MS = 500
const WINDOW = 20

/**
 * Event-loop lag as Node's and prom-client's monitors define it, sampled cheaply: how much
 * later than asked a 500 ms timer fires. A long synchronous task (a big JSON parse, a
 * regex on a large body) delays every request by as much.
 */
export function createLagMonitor(probeMs = PROBE_MS, window = WINDOW) {
  const delays = new Float64Array(window)
  let next = 0
  let expected = performance.now() + probeMs
  const timer = setInterval(() => {
    const now = performance.now()
    delays[next] = Math.max(0, now - expected)
    next = (next + 1) % window
    expected = now + probeMs
  }, probeMs)
  timer.unref?.()
  return {
    /** The longest delay in the window, in seconds. */
    maxSeconds(): number {
      let max = 0
      for (const delay of delays) if (delay > max) max = delay
      return max / 1000
    },
    stop: () => clearInterval(timer),
  }
}

/** Open descriptors: the entries of /proc/self/fd, less the one readdir itself holds open. */
async function openFds(): Promise<number | undefined> {
  try {
    return (await readdir('/proc/self/fd')).length - 1
  } catch {
    return undefined
  }
}

/** The soft limit on open files, from /proc/self/limits ("unlimited" is left out). */
async function maxFds(): Promise<number | undefined> {
  try {
    const line = (await readFile('/proc/self/limits', 'utf8')).split('\n').find((l) => l.startsWith('Max open files'))
    const soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0])
    return Number.isFinite(soft) ? soft : undefined
  } catch {
    return undefined
  }
}

/** Registers this process's families in `registry`, labelled `worker`. */
export function registerProcessMetrics(registry: Registry, worker: string): void {
  const labels = { worker }
  const one = (value: number | undefined) => (value === undefined ? [] : [{ labels, value }])
  const lag = createLagMonitor()
  const startSeconds = Math.round(performance.timeOrigin) / 1000
  registerCollected(registry, METRICS.processCpu.name, 'CPU time (user and system) this process used, in seconds; worker is a worker\'s pid or "primary"', 'counter', () => {
    const { user, system } = process.cpuUsage()
    return one((user + system) / 1e6)
  })
  registerCollected(registry, METRICS.processRss.name, 'Resident memory of this process in bytes (what server.maxWorkerRssMb recycles a worker on); worker is a pid or "primary"', 'gauge', () => one(process.memoryUsage.rss()))
  registerCollected(registry, METRICS.processOpenFds.name, 'Open file descriptors of this process (sockets included), counted at scrape time from /proc/self/fd; worker is a pid or "primary"', 'gauge', async () => one(await openFds()))
  registerCollected(registry, METRICS.processMaxFds.name, 'The soft limit on open file descriptors of this process (RLIMIT_NOFILE); worker is a pid or "primary"', 'gauge', async () => one(await maxFds()))
  registerCollected(registry, METRICS.processStart.name, 'When this process started, as a unix time; a recycled or restarted worker is a new pid with a new start; worker is a pid or "primary"', 'gauge', () => one(startSeconds))
  registerCollected(registry, METRICS.eventLoopLag.name, 'Event-loop lag: the longest delay, in seconds, of a 500 ms timer over the last 10 s of this process; worker is a pid or "primary"', 'gauge', () => one(lag.maxSeconds()))
}
