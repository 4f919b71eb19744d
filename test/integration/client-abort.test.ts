import { afterAll, beforeAll, expect, test } from 'bun:test'
import net from 'node:net'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { configFor, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway(configFor(upstream.origin))
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  expectCleanOutput(gw.output())
})

test('a client that disconnects cancels its upstream request, quietly', async () => {
  const before = gw.output().length
  for (let i = 0; i < 5; i++) {
    const socket = net.connect(gw.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(`GET /slow?ms=3000&i=${i} HTTP/1.1\r\nHost: a\r\n\r\n`)
    await waitFor(() => upstream.requests.some((r) => r.query === `?ms=3000&i=${i}`), 3000, 'the upstream request')
    socket.destroy()
  }
  await waitFor(() => upstream.requests.filter((r) => r.path === '/slow').every((r) => r.aborted), 3000, 'upstream aborts')
  // No log line per disconnect.
  expect(gw.output().slice(before)).toBe('')
})

test('after a client leaves mid-body the gateway keeps serving', async () => {
  const res = await fetch(gw.url('/stream?chunks=50&gapMs=50'))
  const reader = res.body!.getReader()
  await reader.read()
  await reader.cancel()
  const next = await fetch(gw.url('/after'))
  expect(next.status).toBe(200)
})
