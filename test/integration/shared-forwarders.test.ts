/**
 * Routes that send to one upstream share its forwarder when their forwarding settings are the
 * same (app.ts): what differs per route (the prefix stripped) is read from the request's route,
 * and routes whose settings differ (header rules, body limit) keep forwarders of their own.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { rawRequest, statusOf } from '../fixtures/raw.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway({
    upstreams: { app: { targets: [upstream.origin] } },
    routes: [
      { path: '/a', upstream: 'app', stripPrefix: true, methods: ['GET', 'POST'] },
      { path: '/bb', upstream: 'app', stripPrefix: true },
      { path: '/kept', upstream: 'app' },
      { path: '/ruled', upstream: 'app', stripPrefix: true, requestHeaders: { set: { 'x-route': 'ruled' } } },
      { path: '/small', upstream: 'app', methods: ['POST'], maxBodyBytes: 16 },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
  upstream.stop()
})

const seen = async (path: string) => {
  expect((await fetch(gw.url(path))).status).toBe(200)
  return upstream.requests.at(-1)!
}

test('each route strips its own prefix, or none', async () => {
  expect((await seen('/a/x')).path).toBe('/x')
  expect((await seen('/bb/x')).path).toBe('/x')
  expect((await seen('/kept/x')).path).toBe('/kept/x')
  expect((await seen('/a/x')).path).toBe('/x')
})

test("a route's header rules stay its own", async () => {
  expect((await seen('/ruled/x')).headers['x-route']).toBe('ruled')
  expect((await seen('/a/x')).headers['x-route']).toBeUndefined()
})

test("a route's body limit stays its own: a chunked body over it is refused there only", async () => {
  const chunked = (path: string) => rawRequest(gw.port, `POST ${path} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n20\r\n${'x'.repeat(32)}\r\n0\r\n\r\n`)
  expect(statusOf(await chunked('/small/x'))).toBe(413)
  expect(statusOf(await chunked('/a/x'))).toBe(200)
})
