/**
 * Failed authentications are throttled per client address (routes[].auth.failureLimit):
 * past the limit an address gets 429 with Retry-After before any key is checked, a valid
 * key included, while another address (127.0.0.2, a loopback address of its own) is not
 * affected. Requests without any credential are not counted.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import net from 'node:net'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { statusOf } from '../fixtures/raw.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const KEY = 'a-valid-key-of-partner-0123'
const LIMIT = 5

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway({
    upstreams: { app: { targets: [upstream.origin] } },
    routes: [{ path: '/keyed', upstream: 'app', auth: { apiKey: {}, failureLimit: LIMIT } }],
    consumers: [{ name: 'partner', apiKeys: [KEY] }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
  upstream.stop()
})

const call = (key?: string) => fetch(gw.url('/keyed/x'), { headers: key === undefined ? {} : { 'x-api-key': key } })

/** A GET with `key` from `localAddress`, a loopback address other than 127.0.0.1; resolves with the raw reply. */
function callFrom(localAddress: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: gw.port, host: '127.0.0.1', localAddress })
    let reply = ''
    socket.on('data', (chunk) => (reply += chunk.toString('latin1')))
    socket.on('close', () => resolve(reply))
    socket.on('error', reject)
    socket.write(`GET /keyed/x HTTP/1.1\r\nHost: gw\r\nX-Api-Key: ${key}\r\nConnection: close\r\n\r\n`)
  })
}

test('requests without a credential are not counted', async () => {
  for (let i = 0; i < LIMIT * 2; i++) expect((await call()).status).toBe(401)
  expect((await call(KEY)).status).toBe(200)
})

test('past failureLimit wrong keys, the address gets 429 with Retry-After, even with a valid key; another address does not', async () => {
  for (let i = 0; i < LIMIT; i++) expect((await call(`wrong-key-number-${i}-0123456`)).status).toBe(401)
  const reached = upstream.requests.length
  const next = await call('wrong-key-number-x-0123456')
  expect(next.status).toBe(429)
  // 5 a minute: one more failure is allowed 12 s after the bucket ran dry (RFC 6585 §4).
  expect(Number(next.headers.get('retry-after'))).toBeGreaterThanOrEqual(11)
  expect(Number(next.headers.get('retry-after'))).toBeLessThanOrEqual(12)
  expect(((await next.json()) as { error: string }).error).toBe('auth_throttled')
  const valid = await call(KEY)
  expect(valid.status).toBe(429)
  expect(upstream.requests.length).toBe(reached)
  // Another client address is counted apart.
  expect(statusOf(await callFrom('127.0.0.2', KEY))).toBe(200)
  expect(upstream.requests.length).toBe(reached + 1)
  expect(sumOf(await scrape(gw.adminPort), 'gateway_rejected_requests_total', { reason: 'auth_throttled' })).toBe(2)
})
