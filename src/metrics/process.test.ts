import { describe, expect, test } from 'bun:test'
import { Registry } from 'prom-client'
import { waitFor } from '../../test/fixtures/process.ts'
import { METRICS } from './names.ts'
import { createLagMonitor, registerProcessMetrics } from './process.ts'

describe('createLagMonitor', () => {
  test('a loop blocked for 150 ms shows a lag of about that; then the window forgets it', async () => {
    const lag = createLagMonitor(20, 5)
    try {
      await Bun.sleep(50)
      const blockedUntil = performance.now() + 150
      while (performance.now() < blockedUntil) {
        // The synchronous task every request would wait behind.
      }
      await waitFor(() => lag.maxSeconds() >= 0.12, 2000, 'the probe to see the block')
      expect(lag.maxSeconds()).toBeLessThan(1)
      await waitFor(() => lag.maxSeconds() < 0.12, 2000, 'the block to leave the window')
    } finally {
      lag.stop()
    }
  })
})

describe('registerProcessMetrics', () => {
  test('every family carries the worker label, with values read at scrape time', async () => {
    const registry = new Registry()
    registerProcessMetrics(registry, '4242')
    const json = await registry.getMetricsAsJSON()
    const byName = new Map(json.map((m) => [m.name, m.values]))
    for (const name of [METRICS.processCpu, METRICS.processRss, METRICS.processOpenFds, METRICS.processMaxFds, METRICS.processStart, METRICS.eventLoopLag].map((m) => m.name)) {
      const values = byName.get(name)!
      expect(values).toHaveLength(1)
      expect(values[0]!.labels).toEqual({ worker: '4242' })
    }
    expect(byName.get(METRICS.processRss.name)![0]!.value).toBeGreaterThan(1024 * 1024)
    expect(byName.get(METRICS.processOpenFds.name)![0]!.value).toBeGreaterThan(2)
  })
})
