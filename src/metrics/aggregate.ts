/**
 * The primary's view of every worker's metrics, merged with prom-client's
 * AggregatorRegistry. Counters and histograms never go backwards: when a worker exits
 * (crash, recycle, reload), its last report is folded into a "retired" total instead of
 * vanishing from the sum. Gauges of dead workers are dropped, since they describe a process
 * that no longer exists, and so are its process families (CPU seconds too), labelled with
 * its pid: each process is its own series, which ends with it.
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import { PROCESS_FAMILIES } from './names.ts'

export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[]

export function createMetricsAggregator() {
  /** The latest report of each live worker. */
  const latest = new Map<number, MetricsSnapshot>()
  let retired: MetricsSnapshot = []
  /** Serialises retirements, so a render never sees one half-applied. */
  let retiring: Promise<void> = Promise.resolve()

  return {
    /** Records a worker's report (a scrape answer, or its final report before exiting). */
    report(pid: number, snapshot: MetricsSnapshot): void {
      latest.set(pid, snapshot)
    },

    /** Folds an exited worker's last counters and histograms into the retired total. */
    retire(pid: number): Promise<void> {
      const last = latest.get(pid)
      latest.delete(pid)
      if (!last) return retiring
      // A process's own families (labelled with its pid) end with it: kept, they would add series forever.
      const kept = last.filter((metric) => ['counter', 'histogram'].includes(String(metric.type)) && !PROCESS_FAMILIES.has(metric.name))
      retiring = retiring.then(async () => {
        retired = (await AggregatorRegistry.aggregate([retired, kept]).getMetricsAsJSON()) as MetricsSnapshot
      })
      return retiring
    },

    /** The merged values as prom-client JSON (live workers and retired totals), for the admin page. */
    async merged(): Promise<MetricsSnapshot> {
      await retiring
      return (await AggregatorRegistry.aggregate([...latest.values(), retired]).getMetricsAsJSON()) as MetricsSnapshot
    },
    /** Each live worker's last report, by pid. */
    byPid: (): ReadonlyMap<number, MetricsSnapshot> => latest,
    /** The merged exposition text: live workers, retired totals and the primary's own metrics. */
    async render(own: MetricsSnapshot): Promise<string> {
      await retiring
      return AggregatorRegistry.aggregate([...latest.values(), retired, own]).metrics()
    },
  }
}
