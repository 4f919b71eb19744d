/**
 * gRPC through the gateway (docs/proxying.md, "gRPC"): it cannot be carried (Bun.serve sends no
 * HTTP/2 trailers), so a call is answered as gRPC does, a Trailers-Only response with
 * grpc-status 12 UNIMPLEMENTED, and never reaches the upstream. A real gRPC client
 * (@grpc/grpc-js, on Bun's node:http2) reads that status. gRPC-Web is plain HTTP and passes.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'bun:test'
import * as grpc from '@grpc/grpc-js'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { connectH2, FLAG, FRAME } from '../fixtures/h2.ts'
import { configFor, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway({ ...configFor(upstream.origin, { server: { h2c: true } }), metrics: { enabled: true } })
})

beforeEach(() => {
  upstream.requests.length = 0
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  expectCleanOutput(gw.output())
})

const identity = (bytes: Buffer) => bytes

/** One unary call with raw bytes as the message (no .proto needed): the status it ended with. */
function unary(path: string): Promise<grpc.ServiceError | undefined> {
  const client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure())
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, identity, identity, Buffer.from('hello'), (err) => {
      client.close()
      resolve(err ?? undefined)
    })
  })
}

test('a gRPC call gets UNIMPLEMENTED with the reason, from a Trailers-Only answer, and nothing is forwarded', async () => {
  const err = await unary('/helloworld.Greeter/SayHello')
  expect(err?.code).toBe(grpc.status.UNIMPLEMENTED)
  expect(err?.details).toContain('cannot proxy gRPC')
  expect(upstream.requests).toHaveLength(0)
  // Counted as a refusal, under its own code.
  const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text()
  expect(metrics).toMatch(/gateway_rejected_requests_total\{reason="grpc_unimplemented"[^}]*\} 1/)
})

test('on the wire: HTTP 200, content-type application/grpc, grpc-status 12, in one HEADERS frame that ends the stream', async () => {
  const client = await connectH2(gw.port)
  await client.request(1, '/pkg.Service/Method', { method: 'POST', headers: [['content-type', 'application/grpc+proto'], ['te', 'trailers']], body: '\0\0\0\0\0' })
  const answer = await client.response(1)
  expect(answer.status).toBe(200)
  const fields = Object.fromEntries(answer.headers)
  expect(fields['content-type']).toBe('application/grpc')
  expect(fields['grpc-status']).toBe('12')
  expect(fields['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  expect(answer.body.length).toBe(0)
  // Trailers-Only: the stream's only HEADERS frame carries END_STREAM, and no DATA follows (a
  // RST_STREAM(NO_ERROR) may, for a request body the gateway did not read: RFC 9113 §8.1).
  const frames = client.frames.filter((f) => f.stream === 1 && f.type !== FRAME.RST_STREAM)
  expect(frames.map((f) => [f.type, f.flags & FLAG.END_STREAM])).toEqual([[FRAME.HEADERS, FLAG.END_STREAM]])
  expect(upstream.requests).toHaveLength(0)
  client.close()
})

test('gRPC-Web (its trailers travel in the body) is plain HTTP and is proxied', async () => {
  const res = await fetch(gw.url('/pkg.Service/Method'), { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto' }, body: new Uint8Array(5) })
  expect(res.status).toBe(200)
  expect(upstream.requests.map((r) => r.headers['content-type'])).toEqual(['application/grpc-web+proto'])
})
