/** The bench report: a terminal table, the JSON results and an SVG bar chart. */
import type { LoadResult, ToolName } from './load-tools/index.ts'

export interface ScenarioResult {
  name: string
  describe: string
  /** The gateway's result (the upstream's, for the direct baseline). */
  gateway: LoadResult
  nginx?: LoadResult
  ratioVsDirect?: number
  ratioVsNginx?: number
  /** CPU per request against the direct baseline's (the bare upstream). */
  cpuRatioVsDirect?: number
  /** CPU per request against nginx's. */
  cpuRatioVsNginx?: number
  /** p99 latency against nginx's. */
  p99RatioVsNginx?: number
  /** req/s against the scenario's floor (the leanest Bun server doing the same, bench/floor/). */
  ratioVsFloor?: number
  /** CPU per request against the floor's. */
  cpuRatioVsFloor?: number
  /** A routes scenario's gateway: spawn to its `listening` line, ms. */
  bootMs?: number
  /** Highest RSS per gateway worker pid during the scenario, MiB. */
  rssMbByWorker?: Record<string, number>
}

export interface BenchReport {
  time: string
  tool: ToolName
  machine: { cores: number; bun: string; platform: string }
  settings: { durationSeconds: number; connections: number; workers: string; quick: boolean; compare?: string; rounds?: number; pinned?: boolean; client?: string }
  scenarios: ScenarioResult[]
  failures: string[]
}

const ms = (seconds: number) => (seconds * 1000).toFixed(2)
const us = (value: number | undefined) => (value === undefined ? '' : value.toFixed(1))
const x = (value: number | undefined) => (value === undefined ? '' : value.toFixed(2))
const faults = (value: number | undefined) => (value === undefined ? '' : value.toFixed(3))

/** The table's columns; one empty in every row (no nginx, no routes scenario) is left out. */
const COLUMNS: [string, (r: ScenarioResult) => string][] = [
  ['scenario', (r) => r.name],
  ['req/s', (r) => r.gateway.requestsPerSec.toFixed(0)],
  ['p50 ms', (r) => ms(r.gateway.p50)],
  ['p99 ms', (r) => ms(r.gateway.p99)],
  ['errors', (r) => String(r.gateway.socketErrors)],
  ['non-2xx', (r) => String(r.gateway.non2xx)],
  ['CPU µs/req', (r) => us(r.gateway.cpuUsPerRequest)],
  ['faults/req', (r) => faults(r.gateway.faultsPerRequest)],
  ['vs direct', (r) => x(r.ratioVsDirect)],
  ['CPU vs direct', (r) => x(r.cpuRatioVsDirect)],
  ['CPU vs floor', (r) => x(r.cpuRatioVsFloor)],
  ['nginx req/s', (r) => (r.nginx ? r.nginx.requestsPerSec.toFixed(0) : '')],
  ['nginx p50', (r) => (r.nginx ? ms(r.nginx.p50) : '')],
  ['nginx p99', (r) => (r.nginx ? ms(r.nginx.p99) : '')],
  ['nginx err', (r) => (r.nginx ? String(r.nginx.socketErrors + r.nginx.non2xx) : '')],
  ['nginx CPU µs/req', (r) => us(r.nginx?.cpuUsPerRequest)],
  ['nginx faults/req', (r) => faults(r.nginx?.faultsPerRequest)],
  ['vs nginx', (r) => x(r.ratioVsNginx)],
  ['CPU vs nginx', (r) => x(r.cpuRatioVsNginx)],
  ['p99 vs nginx', (r) => x(r.p99RatioVsNginx)],
  ['boot s', (r) => (r.bootMs === undefined ? '' : (r.bootMs / 1000).toFixed(2))],
  ['max RSS MiB', (r) => (r.rssMbByWorker && Object.keys(r.rssMbByWorker).length ? String(Math.max(...Object.values(r.rssMbByWorker))) : '')],
]

export function table(report: BenchReport): string {
  const all = COLUMNS.map(([name, cell]) => [name, ...report.scenarios.map(cell)])
  const shown = all.filter((column) => column.slice(1).some((c) => c !== ''))
  const head = shown.map((column) => column[0]!)
  const rows = report.scenarios.map((_, i) => shown.map((column) => column[i + 1]!))
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), ...rows.map(line)].join('\n')
}

/** A horizontal bar chart of req/s per scenario: gateway, and nginx when compared. */
export function svgChart(report: BenchReport): string {
  const rows = report.scenarios
  const max = Math.max(...rows.flatMap((r) => [r.gateway.requestsPerSec, r.nginx?.requestsPerSec ?? 0]))
  const barH = 14
  const rowH = rows.some((r) => r.nginx) ? 2 * barH + 10 : barH + 10
  const left = 110
  const width = 720
  const scale = (v: number) => ((width - left - 90) * v) / max
  const height = 50 + rows.length * rowH
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">bun run bench: requests/s (${report.tool}, ${report.settings.connections} connections, ${report.machine.cores} cores, ${report.time.slice(0, 10)})</text>`,
  ]
  rows.forEach((r, i) => {
    const y = 40 + i * rowH
    parts.push(`<text x="10" y="${y + barH - 3}">${r.name}</text>`)
    parts.push(`<rect x="${left}" y="${y}" width="${scale(r.gateway.requestsPerSec).toFixed(1)}" height="${barH}" fill="${r.name === 'direct' || r.name.startsWith('floor-') ? '#999' : '#f4a21c'}"/>`)
    parts.push(`<text x="${left + scale(r.gateway.requestsPerSec) + 4}" y="${y + barH - 3}">${r.gateway.requestsPerSec.toFixed(0)}</text>`)
    if (r.nginx) {
      const y2 = y + barH + 2
      parts.push(`<rect x="${left}" y="${y2}" width="${scale(r.nginx.requestsPerSec).toFixed(1)}" height="${barH}" fill="#2a9d8f"/>`)
      parts.push(`<text x="${left + scale(r.nginx.requestsPerSec) + 4}" y="${y2 + barH - 3}">${r.nginx.requestsPerSec.toFixed(0)} nginx</text>`)
    }
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
