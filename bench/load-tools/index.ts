/**
 * One interface over the load tools: oha when installed (JSON output), else wrk with a Lua
 * JSON reporter; h2load (Debian's nghttp2-client) for the HTTP/2 scenarios. All report
 * requests/s, latency percentiles in seconds and error counts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type ToolName = 'oha' | 'wrk' | 'h2load'

export interface LoadResult {
  tool: ToolName
  requestsPerSec: number
  /** Seconds. */
  p50: number
  p90: number
  p99: number
  requests: number
  /** Responses that were not 2xx (oha), or had a status ≥ 400 (wrk counts only those). */
  non2xx: number
  /** Connect, read, write and timeout errors. */
  socketErrors: number
  /** CPU (user + system) the server's processes spent during the run, ms (filled by bench/run.ts). */
  cpuMs?: number
  /** cpuMs per request served, in µs. */
  cpuUsPerRequest?: number
  /** Minor page faults the server's processes took during the run (filled by bench/run.ts). */
  minorFaults?: number
  /** minorFaults per request served. */
  faultsPerRequest?: number
}

export interface LoadOptions {
  url: string
  durationSeconds: number
  connections: number
  threads: number
  method?: string
  bodyBytes?: number
  /** A different path per request (cache misses): the URL's path gets a unique suffix. */
  unique?: boolean
  /** Request headers sent with every request (credentials). */
  headers?: Record<string, string>
  /** h2load: concurrent streams per connection. */
  streams?: number
  /**
   * wrk: ms each connection waits between its requests, so that runs compared at different
   * costs see the same offered rate (bench:overhead). Not supported by the other tools.
   */
  delayMs?: number
}

/** oha if installed, else wrk; undefined when neither is. */
export function pickTool(which: (cmd: string) => string | null = Bun.which): ToolName | undefined {
  if (which('oha')) return 'oha'
  if (which('wrk')) return 'wrk'
  return undefined
}

/** The command line for `tool` (exported for tests); h2load writes each request to `logFile`. */
export function loadCommand(tool: ToolName, o: LoadOptions, logFile = '/dev/null'): { cmd: string[]; env: Record<string, string> } {
  if (tool === 'h2load') {
    // -D: a timed run; https:// negotiates h2 by ALPN, http:// is h2c prior knowledge.
    const cmd = ['h2load', '-c', String(o.connections), '-m', String(o.streams ?? 1), '-t', String(o.threads), '-D', String(o.durationSeconds), `--log-file=${logFile}`]
    for (const [name, value] of Object.entries(o.headers ?? {})) cmd.push('-H', `${name}: ${value}`)
    cmd.push(o.url)
    return { cmd, env: {} }
  }
  if (tool === 'oha') {
    const cmd = ['oha', '--no-tui', '--output-format', 'json', '-z', `${o.durationSeconds}s`, '-c', String(o.connections)]
    if (o.method) cmd.push('-m', o.method)
    for (const [name, value] of Object.entries(o.headers ?? {})) cmd.push('-H', `${name}: ${value}`)
    if (o.bodyBytes) cmd.push('-d', 'x'.repeat(o.bodyBytes), '-T', 'application/octet-stream')
    if (o.unique) cmd.push('--rand-regex-url', `${o.url.replace(/[.?*+^$()[\]{}|\\]/g, '\\$&')}-[a-z0-9]{16}`)
    else cmd.push(o.url)
    return { cmd, env: {} }
  }
  const env: Record<string, string> = {}
  if (o.method) env.BENCH_METHOD = o.method
  if (o.bodyBytes) env.BENCH_BODY_BYTES = String(o.bodyBytes)
  // A token of this run in every path: a later run (the measured one after the warm-up) never
  // asks again for a path an earlier one stored, so each of its requests is a miss.
  if (o.unique) env.BENCH_UNIQUE = crypto.randomUUID().slice(0, 8)
  if (o.delayMs) env.BENCH_DELAY_MS = String(o.delayMs)
  const script = join(import.meta.dir, 'wrk-json.lua')
  return {
    cmd: ['wrk', `-t${o.threads}`, `-c${o.connections}`, `-d${o.durationSeconds}s`, '--latency', ...Object.entries(o.headers ?? {}).flatMap(([n, v]) => ['-H', `${n}: ${v}`]), '-s', script, o.url],
    env,
  }
}

export async function runLoad(tool: ToolName, o: LoadOptions): Promise<LoadResult> {
  if (o.delayMs && tool !== 'wrk') throw new Error(`${tool} cannot pace its connections (delayMs): use wrk`)
  const dir = tool === 'h2load' ? mkdtempSync(join(tmpdir(), 'bench-h2load-')) : undefined
  const logFile = dir ? join(dir, 'requests.log') : undefined
  try {
    const { cmd, env } = loadCommand(tool, o, logFile)
    const proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, ...env } })
    const text = await new Response(proc.stdout).text()
    if ((await proc.exited) !== 0) throw new Error(`${tool} failed: ${await new Response(proc.stderr).text()}`)
    if (tool === 'h2load') return parseH2load(text, readFileSync(logFile!, 'utf8'))
    return tool === 'oha' ? parseOha(text) : parseWrk(text)
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Parses h2load's summary (requests/s, the request and status counts) and its --log-file, one
 * line per request ("start µs, status, duration µs"), for the percentiles it does not print.
 */
export function parseH2load(summary: string, log: string): LoadResult {
  const number = (pattern: RegExp) => Number(pattern.exec(summary)?.[1] ?? NaN)
  const durations = log
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => Number(line.split('\t')[2]) / 1e6)
    .sort((a, b) => a - b)
  const at = (q: number) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0
  const requests = number(/requests: \d+ total, \d+ started, (\d+) done/)
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(summary)
  return {
    tool: 'h2load',
    requestsPerSec: number(/finished in [\d.]+m?s, ([\d.]+) req\/s/),
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    requests,
    non2xx: statuses ? Number(statuses[2]) + Number(statuses[3]) + Number(statuses[4]) : 0,
    // "failed" counts every request that got no response (errored and timed out ones included).
    socketErrors: number(/(\d+) failed/),
  }
}

/** Parses the last line of wrk output written by wrk-json.lua. */
export function parseWrk(text: string): LoadResult {
  const line = text.trim().split('\n').at(-1)!
  const j = JSON.parse(line)
  return {
    tool: 'wrk',
    requestsPerSec: j.summary.requestsPerSec,
    p50: j.latencyPercentiles.p50,
    p90: j.latencyPercentiles.p90,
    p99: j.latencyPercentiles.p99,
    requests: j.requests,
    non2xx: j.httpStatusGte400,
    socketErrors: j.socketErrors,
  }
}

/** Parses `oha --output-format json` (oha ≥ 1.10; durations in seconds). */
export function parseOha(text: string): LoadResult {
  const j = JSON.parse(text)
  const statuses = Object.entries((j.statusCodeDistribution ?? {}) as Record<string, number>)
  const errors = Object.values((j.errorDistribution ?? {}) as Record<string, number>).reduce((n, c) => n + c, 0)
  return {
    tool: 'oha',
    requestsPerSec: j.summary.requestsPerSec,
    p50: j.latencyPercentiles.p50,
    p90: j.latencyPercentiles.p90,
    p99: j.latencyPercentiles.p99,
    requests: statuses.reduce((n, [, c]) => n + c, 0),
    non2xx: statuses.filter(([s]) => !s.startsWith('2')).reduce((n, [, c]) => n + c, 0),
    socketErrors: errors,
  }
}
