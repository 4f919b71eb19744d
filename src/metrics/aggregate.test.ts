import { describe, expect, test } from 'bun:test'
import { Counter, Gauge, Registry } from 'prom-client'
import { createMetricsAggregator, type MetricsSnapshot } from './aggregate.ts'
import { METRICS } from './names.ts'

async function snapshot(requests: number, inflight: number): Promise<MetricsSnapshot> {
  const registry = new Registry()
  new Counter({ name: 'gateway_http_requests_total', help: 'h', labelNames: ['route'], registers: [registry] }).inc({ route: 'api' }, requests)
  new Gauge({ name: 'gateway_inflight_requests', help: 'h', registers: [registry] }).set(inflight)
  return (await registry.getMetricsAsJSON()) as MetricsSnapshot
}

const value = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)

describe('createMetricsAggregator', () => {
  test('sums live workers', async () => {
    const agg = createMetricsAggregator()
    agg.report(1, await snapshot(10, 1))
    agg.report(2, await snapshot(5, 2))
    const text = await agg.render([])
    expect(value(text, 'gateway_http_requests_total')).toBe(15)
    expect(value(text, 'gateway_inflight_requests')).toBe(3)
  })

  test('an exited worker keeps its counters in the total, but not its gauges', async () => {
    const agg = createMetricsAggregator()
    agg.report(1, await snapshot(10, 4))
    agg.report(2, await snapshot(5, 2))
    await agg.retire(1)
    agg.report(3, await snapshot(1, 0))
    await agg.retire(3)
    const text = await agg.render([])
    expect(value(text, 'gateway_http_requests_total')).toBe(16)
    expect(value(text, 'gateway_inflight_requests')).toBe(2)
  })

  test('retiring a worker that never reported changes nothing', async () => {
    const agg = createMetricsAggregator()
    agg.report(1, await snapshot(3, 0))
    await agg.retire(99)
    expect(value(await agg.render([]), 'gateway_http_requests_total')).toBe(3)
  })

  test('an exited worker\'s process families (its CPU seconds too) go with it; its other counters stay in the total', async () => {
    const report = async (pid: number, cpu: number) => {
      const registry = new Registry()
      new Counter({ name: METRICS.processCpu.name, help: 'h', labelNames: ['worker'], registers: [registry] }).inc({ worker: String(pid) }, cpu)
      new Counter({ name: 'gateway_http_requests_total', help: 'h', registers: [registry] }).inc(cpu * 10)
      return (await registry.getMetricsAsJSON()) as MetricsSnapshot
    }
    const agg = createMetricsAggregator()
    agg.report(1, await report(1, 2))
    agg.report(2, await report(2, 3))
    await agg.retire(1)
    const text = await agg.render([])
    expect(text).not.toContain('worker="1"')
    expect(value(text, METRICS.processCpu.name)).toBe(3)
    expect(value(text, 'gateway_http_requests_total')).toBe(50)
  })
})
