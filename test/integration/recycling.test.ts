import { afterAll, beforeAll, expect, test } from 'bun:test'
import { events, expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { keepAliveLoad } from '../fixtures/load.ts'
import { configFor, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway(
    configFor(upstream.origin, {
      server: { workers: 2, maxRequestsPerWorker: 3000, maxRequestsJitter: 1000, recycleDrainMs: 1000 },
    })
  )
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  expectCleanOutput(gw.output())
})

test('workers recycle under sustained keep-alive load without a single failed request', async () => {
  const report = await keepAliveLoad({ port: gw.port, path: '/load', connections: 32, durationMs: 6000 })
  const recycles = events(gw.output(), 'worker_recycle')
  console.log(JSON.stringify({ ...report, recycles: recycles.length }))
  expect(recycles.length).toBeGreaterThanOrEqual(1)
  expect(recycles[0]).toMatchObject({ reason: 'max_requests' })
  expect(recycles[0]!.served).toBeGreaterThanOrEqual(3000)
  expect(report.ok).toBeGreaterThan(6000)
  expect(report.socketErrors).toBe(0)
  expect(report.badStatus).toBe(0)
  // Each recycled worker was replaced (spawned before it drained) and exited cleanly.
  expect(events(gw.output(), 'worker_spawn').filter((e) => e.reason === 'recycle').length).toBe(recycles.length)
  expect(events(gw.output(), 'worker_exit').filter((e) => e.reason === 'crash')).toEqual([])
}, 15_000)
