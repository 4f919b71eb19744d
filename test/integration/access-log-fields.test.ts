/**
 * The access log's fields on a real gateway and real upstreams: who answered (the gateway, with
 * its error code, or an upstream, with its status, target and tries), who asked (consumer, Host,
 * User-Agent), and the bytes both ways, on every kind of answer.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { events, expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const KEY = 'access-log-fields-key-0123456789'
let up: RecordingUpstream
let gw: GatewayProcess
let live: string
let dead: string

beforeAll(async () => {
  up = startRecordingUpstream()
  live = `127.0.0.1:${up.server.port}`
  // Port 1, which nothing listens on: a port that was just free may be given to a server started next.
  dead = '127.0.0.1:1'
  gw = await startGateway({
    log: { access: true },
    upstreams: {
      rec: { targets: [up.origin] },
      // Round-robin: every other request tries the closed port first, then the live target.
      pair: { targets: [`http://${dead}`, up.origin], retries: { budgetPercent: 100 }, outlierDetection: { consecutiveFailures: 0 } },
    },
    routes: [
      { name: 'limited', path: '/limited', upstream: 'rec', rateLimit: { requestsPerSecond: 1, burst: 1 } },
      { name: 'keyed', path: '/keyed', upstream: 'rec', auth: { apiKey: {} } },
      { name: 'pair', path: '/pair', upstream: 'pair' },
      { name: 'api', path: '/api', upstream: 'rec', stripPrefix: true, methods: ['GET', 'POST'] },
    ],
    consumers: [{ name: 'partner', apiKeys: [KEY] }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  up.stop()
  expectCleanOutput(gw.output())
})

/** The access line of the response `res` (by its X-Request-Id), once written. */
async function lineOf(res: Response): Promise<Record<string, any>> {
  const id = res.headers.get('x-request-id')!
  const find = () => events(gw.output(), 'access').find((line) => line.requestId === id)
  await waitFor(() => find() !== undefined, 5000, `the access line of ${id}`)
  return find()!
}

test('a 401 refused before forwarding: its error code and bytes, no upstream, no tries', async () => {
  const res = await fetch(gw.url('/keyed/x'), { headers: { 'user-agent': 'probe/1.0' } })
  const body = await res.bytes()
  expect(res.status).toBe(401)
  const line = await lineOf(res)
  expect(line).toMatchObject({ event: 'access', status: 401, error: 'unauthorized', route: 'keyed', bytes: body.byteLength, userAgent: 'probe/1.0', host: `127.0.0.1:${gw.port}`, requestBytes: 0 })
  for (const field of ['upstream', 'target', 'tries', 'upstreamStatus', 'consumer', 'tls']) expect(line).not.toHaveProperty(field)
})

test('an authenticated request names its consumer, and the upstream that answered', async () => {
  const res = await fetch(gw.url('/keyed/x'), { headers: { 'x-api-key': KEY } })
  await res.text()
  expect(res.status).toBe(200)
  expect(await lineOf(res)).toMatchObject({ status: 200, consumer: 'partner', upstream: 'rec', target: live, tries: 1, upstreamStatus: 200 })
  expect(JSON.stringify(await lineOf(res))).not.toContain(KEY)
})

test("the gateway's 429 and an upstream's 429 are told apart", async () => {
  const answers: Response[] = []
  // A burst of 1: the second within the second is the gateway's own 429.
  for (let i = 0; i < 2; i++) answers.push(await fetch(gw.url('/limited/x')))
  await Promise.all(answers.map((r) => r.text()))
  const limited = answers.find((r) => r.status === 429)!
  expect(limited).toBeDefined()
  const gateway = await lineOf(limited)
  expect(gateway).toMatchObject({ status: 429, error: 'rate_limited', route: 'limited' })
  expect(gateway).not.toHaveProperty('upstream')
  expect(gateway).not.toHaveProperty('upstreamStatus')

  const fromUpstream = await fetch(gw.url('/api/status/429'))
  const body = await fromUpstream.bytes()
  expect(fromUpstream.status).toBe(429)
  const upstream = await lineOf(fromUpstream)
  expect(upstream).toMatchObject({ status: 429, upstream: 'rec', upstreamStatus: 429, target: live, tries: 1, bytes: body.byteLength })
  expect(upstream).not.toHaveProperty('error')
})

test("a 404 error body's bytes are counted", async () => {
  const res = await fetch(gw.url('/nowhere'))
  const body = await res.bytes()
  expect(res.status).toBe(404)
  expect(await lineOf(res)).toMatchObject({ status: 404, error: 'not_found', bytes: body.byteLength })
})

test('request bytes: a POST with Content-Length, and a streamed one without', async () => {
  const sized = await fetch(gw.url('/api/echo'), { method: 'POST', body: 'x'.repeat(1234) })
  await sized.text()
  expect(await lineOf(sized)).toMatchObject({ method: 'POST', status: 200, requestBytes: 1234 })

  const chunks = ['a'.repeat(1000), 'b'.repeat(500)]
  const streamed = await fetch(gw.url('/api/echo'), {
    method: 'POST',
    body: new ReadableStream({
      pull(controller) {
        const next = chunks.shift()
        if (next === undefined) controller.close()
        else controller.enqueue(new TextEncoder().encode(next))
      },
    }),
  })
  expect(((await streamed.json()) as { bodyBytes: number }).bodyBytes).toBe(1500)
  expect(await lineOf(streamed)).toMatchObject({ method: 'POST', status: 200, requestBytes: 1500 })
})

test("a streamed body of unknown length: its bytes are counted, the line written once it ended", async () => {
  const res = await fetch(gw.url('/api/stream?chunks=4&gapMs=20'))
  const body = await res.bytes()
  expect(res.headers.get('content-length')).toBeNull()
  expect(await lineOf(res)).toMatchObject({ status: 200, bytes: body.byteLength })
})

test('a retried request: two tries, and the target that answered', async () => {
  const answers = [await fetch(gw.url('/pair/x')), await fetch(gw.url('/pair/y'))]
  await Promise.all(answers.map((r) => r.text()))
  expect(answers.map((r) => r.status)).toEqual([200, 200])
  const lines = await Promise.all(answers.map(lineOf))
  // One of the two went to the closed port first.
  expect(lines.map((l) => l.tries).sort()).toEqual([1, 2])
  for (const line of lines) expect(line).toMatchObject({ upstream: 'pair', target: live, upstreamStatus: 200 })
  expect(lines.every((l) => l.error === undefined)).toBe(true)
})

test('a client that leaves mid-stream still gets its line, with the bytes relayed so far', async () => {
  const leaving = new AbortController()
  const res = await fetch(gw.url('/api/stream?chunks=100&gapMs=50'), { signal: leaving.signal })
  await res.body!.getReader().read()
  leaving.abort()
  const line = await lineOf(res)
  expect(line.status).toBe(200)
  expect(line.bytes).toBeGreaterThanOrEqual('chunk 0\n'.length)
  expect(line.bytes).toBeLessThan(100 * 'chunk 0\n'.length)
})
