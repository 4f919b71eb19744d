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
  const targetHealthy = new Gauge({
    name: METRICS.targetHealthy.name,
    help: 'Active health of each checked upstream target: 1 healthy, 0 not',
    labelNames: METRICS.targetHealthy.labels,
    registers: [registry],
  })
  return {
    registry,
    restart: (reason: string) => restarts.inc({ reason }),
    targetHealth: (state: { upstream: string; target: string; healthy: boolean }) =>
      targetHealthy.set({ upstream: state.upstream, target: state.target }, state.healthy ? 1 : 0),
  }
}
