import { describe, expect, test } from 'bun:test'
import type { LoadResult } from './load-tools/index.ts'
import type { ScenarioResult } from './report.ts'
import { evaluate, type Thresholds } from './thresholds.ts'

const load = (rps: number, extra: Partial<LoadResult> = {}): LoadResult => ({
  tool: 'wrk', requestsPerSec: rps, p50: 0.001, p90: 0.002, p99: 0.003, requests: rps * 3, non2xx: 0, socketErrors: 0, ...extra,
})
const thresholds: Thresholds = { maxErrors: 0, maxNon2xx: 0, minRatioVsDirect: { proxied: 0.2 }, minRatioVsNginx: { proxied: 0.5 } }

describe('evaluate', () => {
  test('a run within every threshold passes', () => {
    const results: ScenarioResult[] = [
      { name: 'direct', describe: '', gateway: load(100) },
      { name: 'proxied', describe: '', gateway: load(30), nginx: load(50), ratioVsDirect: 0.3, ratioVsNginx: 0.6 },
    ]
    expect(evaluate(results, thresholds)).toEqual([])
  })

  test('each miss is named', () => {
    const results: ScenarioResult[] = [
      { name: 'proxied', describe: '', gateway: load(10, { socketErrors: 2, non2xx: 1 }), nginx: load(50), ratioVsDirect: 0.1, ratioVsNginx: 0.2 },
    ]
    expect(evaluate(results, thresholds)).toEqual([
      'proxied: 2 socket errors > 0',
      'proxied: 1 non-2xx responses > 0',
      'proxied: 0.10 of direct < 0.2',
      'proxied: 0.20 of nginx < 0.5',
    ])
  })

  test('CPU ratios above their maximum are named', () => {
    const cpu: Thresholds = { ...thresholds, maxCpuRatioVsDirect: { health: 1.3 }, maxCpuRatioVsNginx: { 'cache-hit': 1 } }
    const results: ScenarioResult[] = [
      { name: 'health', describe: '', gateway: load(100), cpuRatioVsDirect: 1.5 },
      { name: 'cache-hit', describe: '', gateway: load(100), nginx: load(100), cpuRatioVsNginx: 0.9 },
    ]
    expect(evaluate(results, cpu)).toEqual(["health: CPU per request 1.50x direct's > 1.3"])
  })

  test('CPU above its floor ratio and a slow boot are named', () => {
    const t: Thresholds = { ...thresholds, maxCpuRatioVsFloor: { proxied: 2, 'cache-hit': 1.5 }, maxBootMs: { 'routes-10000': 5000 } }
    const results: ScenarioResult[] = [
      { name: 'proxied', describe: '', gateway: load(100), cpuRatioVsFloor: 2.5 },
      { name: 'cache-hit', describe: '', gateway: load(100), cpuRatioVsFloor: 1.4 },
      { name: 'routes-10000', describe: '', gateway: load(100), bootMs: 6200 },
      { name: 'routes-1', describe: '', gateway: load(100), bootMs: 9000 },
    ]
    expect(evaluate(results, t)).toEqual(["proxied: CPU per request 2.50x the floor's > 2", 'routes-10000: boot 6.20 s > 5 s'])
  })

  test("a worker's RSS growing past its allowance over one route's is named", () => {
    const t: Thresholds = { ...thresholds, maxRssGrowthMbVsOneRoute: { 'routes-10000': 70, 'routes-1000-host': 70 } }
    const results: ScenarioResult[] = [
      { name: 'routes-1', describe: '', gateway: load(100), rssMbByWorker: { '1': 98, '2': 100 } },
      { name: 'routes-10000', describe: '', gateway: load(100), rssMbByWorker: { '3': 150, '4': 171 } },
      { name: 'routes-1000-host', describe: '', gateway: load(100), rssMbByWorker: { '5': 170 } },
    ]
    expect(evaluate(results, t)).toEqual(["routes-10000: worker RSS 171 MiB, +71 over one route's > +70"])
  })

  test('a p99 above its multiple of nginx is named', () => {
    const t: Thresholds = { ...thresholds, maxP99RatioVsNginx: { 'proxied-c256': 2 } }
    const results: ScenarioResult[] = [
      { name: 'proxied-c256', describe: '', gateway: load(100), nginx: load(100), p99RatioVsNginx: 2.4 },
      { name: 'proxied-c1024', describe: '', gateway: load(100), nginx: load(100), p99RatioVsNginx: 9 },
    ]
    expect(evaluate(results, t)).toEqual(["proxied-c256: p99 2.40x nginx's > 2"])
  })

  test("nginx's own errors do not fail the gateway's run", () => {
    const results: ScenarioResult[] = [{ name: 'cache-miss', describe: '', gateway: load(10), nginx: load(10, { non2xx: 53 }) }]
    expect(evaluate(results, thresholds)).toEqual([])
  })

  test('ratios without a threshold, or without a comparison, are not judged', () => {
    const results: ScenarioResult[] = [{ name: 'large', describe: '', gateway: load(1), ratioVsDirect: 0.01 }]
    expect(evaluate(results, thresholds)).toEqual([])
  })
})
