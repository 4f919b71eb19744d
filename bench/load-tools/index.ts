/**
 * One interface over the load tools: oha when installed (JSON output), else wrk with a Lua
 * JSON reporter. Both report requests/s, latency percentiles in seconds and error counts.
 */
import { join } from 'node:path'

export interface LoadResult {
  tool: 'oha' | 'wrk'
  requestsPerSec: number
  p50: number
  p99: number
  requests: number
  /** Responses with status ≥ 400 (wrk) or non-2xx (oha). */
  errorStatus: number
  socketErrors: number
}

export interface LoadOptions {
  url: string
  durationSeconds: number
  connections: number
  threads: number
}

export function pickTool(): 'oha' | 'wrk' | undefined {
  if (Bun.which('oha')) return 'oha'
  if (Bun.which('wrk')) return 'wrk'
  return undefined
}

export async function runLoad(tool: 'oha' | 'wrk', o: LoadOptions): Promise<LoadResult> {
  const cmd =
    tool === 'oha'
      ? ['oha', '--no-tui', '--output-format', 'json', '-z', `${o.durationSeconds}s`, '-c', String(o.connections), o.url]
      : ['wrk', `-t${o.threads}`, `-c${o.connections}`, `-d${o.durationSeconds}s`, '--latency', '-s', join(import.meta.dir, 'wrk-json.lua'), o.url]
  const proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe' })
  const text = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`${tool} failed: ${await new Response(proc.stderr).text()}`)
  return tool === 'oha' ? parseOha(text) : parseWrk(text)
}

/** Parses the last line of wrk output written by wrk-json.lua. */
export function parseWrk(text: string): LoadResult {
  const line = text.trim().split('\n').at(-1)!
  const j = JSON.parse(line)
  return {
    tool: 'wrk',
    requestsPerSec: j.summary.requestsPerSec,
    p50: j.latencyPercentiles.p50,
    p99: j.latencyPercentiles.p99,
    requests: j.requests,
    errorStatus: j.httpStatusGte400,
    socketErrors: j.socketErrors,
  }
}

/** Parses `oha --output-format json`. */
export function parseOha(text: string): LoadResult {
  const j = JSON.parse(text)
  const statuses = Object.entries(j.statusCodeDistribution as Record<string, number>)
  const requests = statuses.reduce((n, [, c]) => n + c, 0)
  const errors = Object.values((j.errorDistribution ?? {}) as Record<string, number>).reduce((n, c) => n + c, 0)
  return {
    tool: 'oha',
    requestsPerSec: j.summary.requestsPerSec,
    p50: j.latencyPercentiles.p50,
    p99: j.latencyPercentiles.p99,
    requests,
    errorStatus: statuses.filter(([s]) => !s.startsWith('2')).reduce((n, [, c]) => n + c, 0),
    socketErrors: errors,
  }
}
