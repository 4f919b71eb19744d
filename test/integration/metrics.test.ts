import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectCleanOutput, liveWorkerPids, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { waitForListeners } from '../fixtures/listeners.ts'
import { scrape, seriesCount, sumOf } from '../fixtures/metrics.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'
import { readFileSync } from 'node:fs'

const TOKEN = 'test-token-0123456789abcdef'

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway({
    server: { workers: 2 },
    metrics: { bearerToken: TOKEN },
    upstreams: { app: { targets: [upstream.origin] } },
    routes: [{ name: 'api', path: '/api', upstream: 'app' }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  expectCleanOutput(gw.output())
})

/** `n` requests, each on a new connection so both workers get some. */
async function requests(n: number, path = '/api/x') {
  for (let i = 0; i < n; i++) expect((await fetch(gw.url(path), { keepalive: false })).status).toBe(200)
}

const total = (text: string) => sumOf(text, 'gateway_http_requests_total', { route: 'api' })

describe('metrics across workers', () => {
  test('N requests spread over 2 workers raise the aggregated counter by exactly N', async () => {
    const before = total(await scrape(gw.adminPort, TOKEN))
    await requests(200)
    const after = await scrape(gw.adminPort, TOKEN)
    expect(total(after) - before).toBe(200)
    expect(sumOf(after, 'gateway_upstream_request_duration_seconds_count', { upstream: 'app', status_class: '2xx' })).toBeGreaterThanOrEqual(200)
    expect(sumOf(after, 'gateway_workers')).toBe(2)
    expect(sumOf(after, 'gateway_build_info')).toBe(1)
  })

  test('after kill -9 of a worker that served traffic, the counters are not lower', async () => {
    await requests(50)
    const before = total(await scrape(gw.adminPort, TOKEN))
    const [victim] = liveWorkerPids(gw.output())
    process.kill(victim!, 'SIGKILL')
    await waitForListeners(gw.port, 2, victim!)
    const after = await scrape(gw.adminPort, TOKEN)
    expect(total(after)).toBeGreaterThanOrEqual(before)
    expect(sumOf(after, 'gateway_worker_restarts_total', { reason: 'crash' })).toBe(1)
  })

  test('1,000 distinct unmatched paths add at most a handful of series', async () => {
    const before = seriesCount(await scrape(gw.adminPort, TOKEN))
    for (let i = 0; i < 1000; i++) await (await fetch(gw.url(`/random-${crypto.randomUUID()}`))).text()
    const after = await scrape(gw.adminPort, TOKEN)
    expect(seriesCount(after) - before).toBeLessThanOrEqual(40)
    expect(after).not.toContain('random-')
    expect(sumOf(after, 'gateway_http_requests_total', { route: '(none)', status: '404' })).toBeGreaterThanOrEqual(1000)
    expect(sumOf(after, 'gateway_rejected_requests_total', { reason: 'not_found' })).toBeGreaterThanOrEqual(1000)
  })
})

describe('exposure', () => {
  test('the public port does not serve /metrics', async () => {
    const res = await fetch(gw.url('/metrics'))
    expect(res.status).toBe(404)
    expect(await res.text()).not.toContain('gateway_')
  })

  test('the admin port binds loopback by default', () => {
    const hexPort = gw.adminPort.toString(16).toUpperCase().padStart(4, '0')
    const listening = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .filter((line) => line.trim().split(/\s+/)[1]?.endsWith(`:${hexPort}`) && line.trim().split(/\s+/)[3] === '0A')
    expect(listening.length).toBeGreaterThan(0)
    for (const line of listening) expect(line.trim().split(/\s+/)[1]).toBe(`0100007F:${hexPort}`)
  })

  test('with a bearer token set, /metrics wants it', async () => {
    const url = `http://127.0.0.1:${gw.adminPort}/metrics`
    expect((await fetch(url)).status).toBe(401)
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401)
    const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toStartWith('text/plain; version=0.0.4')
  })
})
