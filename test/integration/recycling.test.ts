import { afterAll, beforeAll, expect, test } from 'bun:test'
import { pickTool, runLoad } from '../../bench/load-tools/index.ts'
import { events, expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
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

/** 32 keep-alive connections for 6 s: wrk or oha when installed, else the bounded raw-socket client. */
async function sustainedLoad(): Promise<{ ok: number; failed: number; tool: string }> {
  const tool = pickTool()
  if (tool) {
    const r = await runLoad(tool, { url: gw.url('/load'), durationSeconds: 6, connections: 32, threads: 2 })
    return { ok: r.requests - r.non2xx, failed: r.non2xx + r.socketErrors, tool }
  }
  const r = await keepAliveLoad({ port: gw.port, path: '/load', connections: 32, durationMs: 6000 })
  return { ok: r.ok, failed: r.badStatus + r.socketErrors, tool: 'raw sockets' }
}

test('workers recycle under sustained keep-alive load without a single failed request', async () => {
  const report = await sustainedLoad()
  const recycles = events(gw.output(), 'worker_recycle')
  console.log(JSON.stringify({ ...report, recycles: recycles.length }))
  expect(recycles.length).toBeGreaterThanOrEqual(1)
  expect(recycles[0]).toMatchObject({ reason: 'max_requests' })
  expect(recycles[0]!.served).toBeGreaterThanOrEqual(3000)
  expect(report.ok).toBeGreaterThan(6000)
  expect(report.failed).toBe(0)
  // Each recycled worker was replaced (spawned before it drained) and exited cleanly.
  await waitFor(() => events(gw.output(), 'worker_spawn').filter((e) => e.reason === 'recycle').length === recycles.length, 5000, 'replacements')
  expect(events(gw.output(), 'worker_exit').filter((e) => e.reason === 'crash')).toEqual([])
}, 20_000)

test('a worker over maxWorkerRssMb asks to be recycled', async () => {
  const small = await startGateway(configFor(upstream.origin, { server: { workers: 1, maxWorkerRssMb: 1 } }))
  try {
    // RSS is checked every 5 s; any Bun process is far above 1 MiB.
    await waitFor(() => events(small.output(), 'worker_recycle').length > 0, 8000, 'an RSS recycle')
    expect(events(small.output(), 'worker_recycle')[0]).toMatchObject({ reason: 'max_rss' })
    expect(events(small.output(), 'worker_recycle')[0]!.rssMb).toBeGreaterThan(1)
    expect((await fetch(small.url('/after'))).status).toBe(200)
  } finally {
    expect(await small.stop()).toBe(0)
  }
}, 15_000)
