/**
 * No connection leak in the native client: 10,000 requests, every tenth aborted by its client
 * while the upstream is still answering, then the upstream connections are counted with ss.
 * Open connections never exceed what the pool may keep, and all close once idle.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'

let upstream: ReturnType<typeof Bun.serve>
let gw: GatewayProcess

/** Established TCP connections to `port` on loopback, as the kernel sees them. */
function connectionsTo(port: number): number {
  const out = Bun.spawnSync(['ss', '-Htn', 'state', 'established', `( dport = :${port} )`]).stdout.toString()
  return out.split('\n').filter((line) => line.trim() !== '').length
}

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const ms = Number(new URL(req.url).searchParams.get('ms') ?? 0)
      if (ms) await Bun.sleep(ms)
      return new Response('ok')
    },
  })
  gw = await startGateway({
    upstreams: {
      app: { targets: [`http://127.0.0.1:${upstream.port}`], client: 'native', keepAlive: { maxIdleSockets: 16, idleTimeoutSeconds: 1 } },
    },
    routes: [{ path: '/', upstream: 'app' }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop(true)
  expectCleanOutput(gw.output())
})

test('10,000 requests with client aborts: connections stay bounded and close when idle', async () => {
  let next = 0
  let aborted = 0
  let ok = 0
  let peak = 0
  const sampler = setInterval(() => (peak = Math.max(peak, connectionsTo(upstream.port!))), 100)
  const worker = async () => {
    for (let i = next++; i < 10_000; i = next++) {
      if (i % 10 === 0) {
        // Abort while the upstream is still answering: the gateway must drop that connection.
        const controller = new AbortController()
        const pending = fetch(gw.url(`/a/${i}?ms=20`), { signal: controller.signal }).catch(() => undefined)
        await Bun.sleep(5)
        controller.abort()
        await pending
        aborted++
      } else {
        const res = await fetch(gw.url(`/r/${i}`))
        if ((await res.text()) === 'ok') ok++
      }
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
  clearInterval(sampler)
  expect(ok).toBe(9000)
  expect(aborted).toBe(1000)
  // At most one connection per concurrent request (32), plus those of aborted requests not yet
  // closed: the gateway sees a client's abort at its deadline wheel's next tick (50 ms, later on
  // a loaded machine), and the test's worker has sent its next request meanwhile. 66 was seen
  // once in CI. A leak keeps every aborted request's connection (1,000 of them): far above this.
  expect(peak).toBeLessThanOrEqual(96)
  // Idle connections close after idleTimeoutSeconds; aborted ones were closed at once.
  await waitFor(() => connectionsTo(upstream.port!) === 0, 5000, 'upstream connections to close')
}, 60_000)
