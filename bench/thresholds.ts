/** Automatic validation of a bench run against bench/thresholds.json. */
import type { ScenarioResult } from './report.ts'

export interface Thresholds {
  maxErrors: number
  maxNon2xx: number
  minRatioVsDirect: Record<string, number>
  minRatioVsNginx: Record<string, number>
  /** Most CPU per request as a multiple of the direct baseline's, by scenario. */
  maxCpuRatioVsDirect?: Record<string, number>
  /** Most CPU per request as a multiple of nginx's, by scenario. */
  maxCpuRatioVsNginx?: Record<string, number>
  /** Most CPU per request as a multiple of the scenario's floor's (the leanest Bun server, bench/floor/). */
  maxCpuRatioVsFloor?: Record<string, number>
  /** Highest p99 latency as a multiple of nginx's at the same load, by scenario. */
  maxP99RatioVsNginx?: Record<string, number>
  /** Longest boot (spawn to `listening`) of a routes scenario's gateway, ms. */
  maxBootMs?: Record<string, number>
  /** Most growth of a routes scenario's highest worker RSS over routes-1's (one route), MiB. */
  maxRssGrowthMbVsOneRoute?: Record<string, number>
}

const highestRss = (r: ScenarioResult | undefined) => (r?.rssMbByWorker && Object.keys(r.rssMbByWorker).length ? Math.max(...Object.values(r.rssMbByWorker)) : undefined)

/** Every missed threshold, as a sentence; empty when the run passes. */
export function evaluate(results: readonly ScenarioResult[], t: Thresholds): string[] {
  const failures: string[] = []
  const oneRouteRss = highestRss(results.find((r) => r.name === 'routes-1'))
  for (const r of results) {
    // Errors are judged for the gateway only; nginx's show in the table and the JSON.
    const load = r.gateway
    if (load.socketErrors > t.maxErrors) failures.push(`${r.name}: ${load.socketErrors} socket errors > ${t.maxErrors}`)
    if (load.non2xx > t.maxNon2xx) failures.push(`${r.name}: ${load.non2xx} non-2xx responses > ${t.maxNon2xx}`)
    const vsDirect = t.minRatioVsDirect[r.name]
    if (vsDirect !== undefined && r.ratioVsDirect !== undefined && r.ratioVsDirect < vsDirect) {
      failures.push(`${r.name}: ${r.ratioVsDirect.toFixed(2)} of direct < ${vsDirect}`)
    }
    const cpuVsDirect = t.maxCpuRatioVsDirect?.[r.name]
    if (cpuVsDirect !== undefined && r.cpuRatioVsDirect !== undefined && r.cpuRatioVsDirect > cpuVsDirect) {
      failures.push(`${r.name}: CPU per request ${r.cpuRatioVsDirect.toFixed(2)}x direct's > ${cpuVsDirect}`)
    }
    const cpuVsNginx = t.maxCpuRatioVsNginx?.[r.name]
    if (cpuVsNginx !== undefined && r.cpuRatioVsNginx !== undefined && r.cpuRatioVsNginx > cpuVsNginx) {
      failures.push(`${r.name}: CPU per request ${r.cpuRatioVsNginx.toFixed(2)}x nginx's > ${cpuVsNginx}`)
    }
    const cpuVsFloor = t.maxCpuRatioVsFloor?.[r.name]
    if (cpuVsFloor !== undefined && r.cpuRatioVsFloor !== undefined && r.cpuRatioVsFloor > cpuVsFloor) {
      failures.push(`${r.name}: CPU per request ${r.cpuRatioVsFloor.toFixed(2)}x the floor's > ${cpuVsFloor}`)
    }
    const p99VsNginx = t.maxP99RatioVsNginx?.[r.name]
    if (p99VsNginx !== undefined && r.p99RatioVsNginx !== undefined && r.p99RatioVsNginx > p99VsNginx) {
      failures.push(`${r.name}: p99 ${r.p99RatioVsNginx.toFixed(2)}x nginx's > ${p99VsNginx}`)
    }
    const boot = t.maxBootMs?.[r.name]
    if (boot !== undefined && r.bootMs !== undefined && r.bootMs > boot) {
      failures.push(`${r.name}: boot ${(r.bootMs / 1000).toFixed(2)} s > ${boot / 1000} s`)
    }
    const growth = t.maxRssGrowthMbVsOneRoute?.[r.name]
    const rss = highestRss(r)
    if (growth !== undefined && rss !== undefined && oneRouteRss !== undefined && rss - oneRouteRss > growth) {
      failures.push(`${r.name}: worker RSS ${rss} MiB, +${rss - oneRouteRss} over one route's > +${growth}`)
    }
    const vsNginx = t.minRatioVsNginx[r.name]
    if (vsNginx !== undefined && r.ratioVsNginx !== undefined && r.ratioVsNginx < vsNginx) {
      failures.push(`${r.name}: ${r.ratioVsNginx.toFixed(2)} of nginx < ${vsNginx}`)
    }
  }
  return failures
}
