/** The primary's own metrics: live workers and restarts by reason (crash, recycle, reload). */
import { Counter, Gauge, Registry } from 'prom-client'
import { METRICS } from './names.ts'

export function createPrimaryMetrics(liveWorkers: () => number) {
  const registry = new Registry()
  const restarts = new Counter({
    name: METRICS.workerRestarts.name,
    help: 'Worker processes started after the first generation, by reason',
    labelNames: METRICS.workerRestarts.labels,
    registers: [registry],
  })
  new Gauge({
    name: METRICS.workers,
    help: 'Live worker processes',
    registers: [registry],
    collect() {
      this.set(liveWorkers())
    },
  })
  return {
    registry,
    restart: (reason: string) => restarts.inc({ reason }),
  }
}
