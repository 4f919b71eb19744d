import { describe, expect, test } from 'bun:test'
import { companions, loadRounds, routesTable, selectScenarios } from './scenarios.ts'

const names = (selection: string | undefined) => selectScenarios(selection).map((s) => s.name)

describe('selectScenarios', () => {
  test('a default run has the floors beside proxied and cache-hit, and no routes or concurrency groups', () => {
    const all = names(undefined)
    expect(all.slice(0, 6)).toEqual(['direct', 'health', 'floor-proxy', 'proxied', 'floor-hit', 'cache-hit'])
    expect(all.some((n) => n.startsWith('routes-') || n.startsWith('proxied-c') || n.startsWith('required-'))).toBe(false)
  })

  test('a scenario brings the floor and the baseline it is compared with', () => {
    expect(names('cache-hit')).toEqual(['direct', 'floor-hit', 'cache-hit'])
    expect(names('routes-10000')).toEqual(['direct', 'routes-1', 'routes-10000'])
  })

  test('a group name selects its members', () => {
    expect(names('routes')).toEqual(['direct', 'routes-1', 'routes-1000', 'routes-10000', 'routes-10000-match', 'routes-1000-host'])
    expect(names('concurrency')).toEqual(['direct', 'proxied-c64', 'proxied-c256', 'proxied-c1024'])
    expect(names('http2')).toEqual(['direct', 'tls', 'h2', 'tls-h2-port'])
    expect(names('compression')).toEqual(['direct', 'proxied-4k', 'compressed', 'compressed-hit'])
    // The required work's servers, each beside its floor, which its ratio is taken against.
    expect(names('proxied,cache-hit,required')).toEqual(['direct', 'floor-proxy', 'required-proxy', 'proxied', 'floor-hit', 'required-hit', 'cache-hit'])
  })

  test('an unknown name is refused', () => {
    expect(() => selectScenarios('proxied,nope')).toThrow('unknown scenario nope')
  })

  test('the routes scenarios request the middle route of their table', () => {
    const [ten] = selectScenarios('routes-10000').filter((s) => s.name === 'routes-10000')
    expect(routesTable(10_000).filter((r) => ten!.path.startsWith(`${r.path}/`))).toHaveLength(1)
    expect(routesTable(10_000)[5000]!.path).toBe('/svc5000')
    const [host] = selectScenarios('routes-1000-host').filter((s) => s.name === 'routes-1000-host')
    expect(routesTable(1_000, true).find((r) => r.host === host!.headers!.Host)?.path).toBe('/api')
  })
})

describe('loadRounds', () => {
  const selected = selectScenarios('proxied,cache-hit,required')
  const scenario = (name: string) => selected.find((s) => s.name === name)!

  test('a scenario is loaded in the same rounds as its floor and the required rung, the second round reversed', () => {
    expect(loadRounds(scenario('proxied'), selected, true, false)).toEqual([
      ['gateway', 'nginx', 'floor-proxy', 'required-proxy'],
      ['required-proxy', 'floor-proxy', 'nginx', 'gateway'],
    ])
    expect(loadRounds(scenario('cache-hit'), selected, false, false)).toEqual([
      ['gateway', 'floor-hit', 'required-hit'],
      ['required-hit', 'floor-hit', 'gateway'],
    ])
  })

  test('--rounds alternates the order round by round; quick and a lone gateway take one round', () => {
    const order = ['gateway', 'nginx', 'floor-proxy', 'required-proxy']
    const reversed = [...order].reverse()
    expect(loadRounds(scenario('proxied'), selected, true, false, new Set(), 5)).toEqual([order, reversed, order, reversed, order])
    expect(loadRounds(scenario('proxied'), selected, true, false, new Set(), 1)).toEqual([order])
    expect(loadRounds(scenario('proxied'), selected, true, true, new Set(), 5)).toEqual([order])
    expect(loadRounds(scenario('floor-proxy'), selected, false, false, new Set(), 5)).toEqual([['gateway']])
  })

  test("a floor waits for its scenario: it and the required rung are that scenario's companions, and a floor has none", () => {
    expect(companions(scenario('proxied'), selected).map((s) => s.name)).toEqual(['floor-proxy', 'required-proxy'])
    expect(companions(scenario('floor-proxy'), selected)).toEqual([])
    expect(companions(scenario('required-proxy'), selected)).toEqual([])
  })

  test('/health is loaded in the same rounds as bare Bun.serve (direct), the ratio its goal is read by', () => {
    const chosen = selectScenarios('health,proxied')
    const health = chosen.find((s) => s.name === 'health')!
    expect(companions(health, chosen).map((s) => s.name)).toEqual(['direct'])
    expect(loadRounds(health, chosen, true, false)).toEqual([
      ['gateway', 'nginx', 'direct'],
      ['direct', 'nginx', 'gateway'],
    ])
    // Other scenarios still read their ratio to direct, measured once, without loading it again.
    expect(companions(chosen.find((s) => s.name === 'proxied')!, chosen).map((s) => s.name)).toEqual(['floor-proxy'])
  })

  test('the shared tier\'s miss is loaded in the same rounds as the miss without it', () => {
    const misses = selectScenarios('cache-miss')
    const miss = misses.find((s) => s.name === 'cache-miss')!
    expect(companions(miss, misses).map((s) => s.name)).toEqual(['cache-miss-local'])
    expect(loadRounds(miss, misses, false, false)).toEqual([
      ['gateway', 'cache-miss-local'],
      ['cache-miss-local', 'gateway'],
    ])
    expect(companions(misses.find((s) => s.name === 'cache-miss-local')!, misses)).toEqual([])
  })

  test('one round when quick, or when nothing is loaded beside the gateway; a floor measured already is not loaded again', () => {
    expect(loadRounds(scenario('proxied'), selected, true, true)).toEqual([['gateway', 'nginx', 'floor-proxy', 'required-proxy']])
    const websocket = selectScenarios('websocket').find((s) => s.name === 'websocket')!
    expect(loadRounds(websocket, selected, false, false)).toEqual([['gateway']])
    expect(loadRounds(scenario('proxied'), selected, false, false, new Set(['floor-proxy', 'required-proxy']))).toEqual([['gateway']])
  })
})
