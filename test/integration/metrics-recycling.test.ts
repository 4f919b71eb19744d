import { expect, test } from 'bun:test'
import { events, expectCleanOutput, startGateway, waitFor } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { startRecordingUpstream } from '../fixtures/upstream.ts'

test('recycled workers report their final counts: the total stays exact', async () => {
  const upstream = startRecordingUpstream()
  const gw = await startGateway({
    server: { workers: 2, maxRequestsPerWorker: 100, maxRequestsJitter: 20, recycleDrainMs: 100 },
    upstreams: { app: { targets: [upstream.origin] } },
    routes: [{ name: 'api', path: '/api', upstream: 'app' }],
  })
  try {
    for (let i = 0; i < 600; i++) expect((await fetch(gw.url('/api/x'))).status).toBe(200)
    await waitFor(() => events(gw.output(), 'worker_exit').some((e) => e.reason === 'recycle'), 10_000, 'a recycle')
    // Let in-progress recycles finish, so every drained worker has sent its final report.
    await waitFor(
      () => events(gw.output(), 'worker_recycle').length === events(gw.output(), 'worker_exit').filter((e) => e.reason === 'recycle').length,
      10_000,
      'drains to complete'
    )
    const text = await scrape(gw.adminPort)
    expect(sumOf(text, 'gateway_http_requests_total', { route: 'api' })).toBe(600)
    expect(sumOf(text, 'gateway_worker_restarts_total', { reason: 'recycle' })).toBeGreaterThanOrEqual(1)
    expect(await gw.stop()).toBe(0)
    expectCleanOutput(gw.output())
  } finally {
    upstream.stop()
  }
}, 30_000)
