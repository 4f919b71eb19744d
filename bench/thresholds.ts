/** Automatic validation of a bench run against bench/thresholds.json. */
import type { ScenarioResult } from './report.ts'

export interface Thresholds {
  maxErrors: number
  maxNon2xx: number
  minRatioVsDirect: Record<string, number>
  minRatioVsNginx: Record<string, number>
}

/** Every missed threshold, as a sentence; empty when the run passes. */
export function evaluate(results: readonly ScenarioResult[], t: Thresholds): string[] {
  const failures: string[] = []
  for (const r of results) {
    // Errors are judged for the gateway only; nginx's show in the table and the JSON.
    const load = r.gateway
    if (load.socketErrors > t.maxErrors) failures.push(`${r.name}: ${load.socketErrors} socket errors > ${t.maxErrors}`)
    if (load.non2xx > t.maxNon2xx) failures.push(`${r.name}: ${load.non2xx} non-2xx responses > ${t.maxNon2xx}`)
    const vsDirect = t.minRatioVsDirect[r.name]
    if (vsDirect !== undefined && r.ratioVsDirect !== undefined && r.ratioVsDirect < vsDirect) {
      failures.push(`${r.name}: ${r.ratioVsDirect.toFixed(2)} of direct < ${vsDirect}`)
    }
    const vsNginx = t.minRatioVsNginx[r.name]
    if (vsNginx !== undefined && r.ratioVsNginx !== undefined && r.ratioVsNginx < vsNginx) {
      failures.push(`${r.name}: ${r.ratioVsNginx.toFixed(2)} of nginx < ${vsNginx}`)
    }
  }
  return failures
}
