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
  /** Highest RSS per gateway worker pid during the scenario, MiB. */
  rssMbByWorker?: Record<string, number>
}

export interface BenchReport {
  time: string
  tool: ToolName
  machine: { cores: number; bun: string; platform: string }
  settings: { durationSeconds: number; connections: number; workers: string; quick: boolean; compare?: string; client?: string }
  scenarios: ScenarioResult[]
  failures: string[]
}

const ms = (seconds: number) => (seconds * 1000).toFixed(2)
const us = (value: number | undefined) => (value === undefined ? '' : value.toFixed(1))
const x = (value: number | undefined) => (value === undefined ? '' : value.toFixed(2))

export function table(report: BenchReport): string {
  const head = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'non-2xx',
    'CPU µs/req',
    'vs direct',
    'CPU vs direct',
    'nginx req/s',
    'nginx p99',
    'nginx err',
    'nginx CPU µs/req',
    'vs nginx',
    'CPU vs nginx',
    'max RSS MiB',
  ]
  const rows = report.scenarios.map((r) => [
    r.name,
    r.gateway.requestsPerSec.toFixed(0),
    ms(r.gateway.p50),
    ms(r.gateway.p99),
    String(r.gateway.socketErrors),
    String(r.gateway.non2xx),
    us(r.gateway.cpuUsPerRequest),
    x(r.ratioVsDirect),
    x(r.cpuRatioVsDirect),
    r.nginx ? r.nginx.requestsPerSec.toFixed(0) : '',
    r.nginx ? ms(r.nginx.p99) : '',
    r.nginx ? String(r.nginx.socketErrors + r.nginx.non2xx) : '',
    us(r.nginx?.cpuUsPerRequest),
    x(r.ratioVsNginx),
    x(r.cpuRatioVsNginx),
    r.rssMbByWorker ? String(Math.max(...Object.values(r.rssMbByWorker))) : '',
  ])
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
    parts.push(`<rect x="${left}" y="${y}" width="${scale(r.gateway.requestsPerSec).toFixed(1)}" height="${barH}" fill="${r.name === 'direct' ? '#999' : '#f4a21c'}"/>`)
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
