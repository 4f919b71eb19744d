import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { startScriptedUpstream, type ScriptedUpstream } from '../fixtures/raw.ts'

let scripted: ScriptedUpstream
let hanging: net.Server
let hangingPort: number
let gw: GatewayProcess

const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`

beforeAll(async () => {
  scripted = await startScriptedUpstream({
    '/ok': { bytes: ok('fine'), after: 'keep' },
    '/garbage': { bytes: 'NOT HTTP AT ALL\r\n\r\n', after: 'close' },
    '/empty': { bytes: '', after: 'close' },
    '/status-999': { bytes: 'HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok', after: 'close' },
    '/switching': { bytes: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n', after: 'hang' },
    '/cl-and-te': {
      bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      after: 'close',
    },
    '/cl-differs': { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc', after: 'close' },
    '/huge-header': { bytes: ok('x', `X-Big: ${'a'.repeat(70_000)}\r\n`), after: 'close' },
    '/truncated-cl': { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n123456789', after: 'destroy' },
    '/truncated-chunked': {
      bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
      after: 'destroy',
    },
    '/stall-body': { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', after: 'hang' },
    '/truncated-large': {
      bytes: `HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n${'x'.repeat(70_000)}`,
      after: 'destroy',
    },
    '/stall-large': { bytes: `HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n${'x'.repeat(1000)}`, after: 'hang' },
  })
  hanging = net.createServer(() => {}).listen(0, '127.0.0.1')
  await new Promise((r) => hanging.once('listening', r))
  hangingPort = (hanging.address() as net.AddressInfo).port
  gw = await startGateway({
    // Idle timeout shorter than the slow upstream's deadline: the deadline must still give a 504.
    server: { idleTimeoutSeconds: 1 },
    upstreams: {
      scripted: { targets: [scripted.origin], timeoutMs: 1500, maxResponseHeaderBytes: 65536 },
      hanging: { targets: [`http://127.0.0.1:${hangingPort}`], timeoutMs: 3000 },
      // Port 1: nothing listens there (a port just freed could be given to a gateway worker).
      closed: { targets: ['http://127.0.0.1:1'] },
    },
    routes: [
      { path: '/hang', upstream: 'hanging' },
      { path: '/closed', upstream: 'closed' },
      { path: '/', upstream: 'scripted' },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  scripted.close()
  hanging.close()
  expectCleanOutput(gw.output())
})

/** The gateway's error body: exactly the catalogue shape, nothing that names a file, runtime or upstream. */
async function expectGatewayError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toBe('application/json')
  const text = await res.text()
  expect(text).toMatch(/^\{"error":"[a-z_]+","status":\d{3},"requestId":"[0-9a-f-]{36}"\}$/)
  expect(JSON.parse(text)).toMatchObject({ error: code, status })
  // The pattern above leaves no room for a port: the closed target's ("1") could only show inside the request id.
  for (const leak of ['127.0.0.1', String(scripted.port), '.ts', 'ECONN', 'at ']) {
    expect(text).not.toContain(leak)
  }
}

const count = async (upstream: string, reason: string) =>
  sumOf(await scrape(gw.adminPort), 'gateway_upstream_errors_total', { upstream, reason })

describe('upstream failures', () => {
  test('connection refused: a 502 at once, not a wait for the deadline', async () => {
    const before = await count('closed', 'connect_refused')
    await expectGatewayError(await fetch(gw.url('/closed/x')), 502, 'bad_gateway')
    // Answered from the refusal itself: waiting out the 30 s default deadline would be a 504
    // counted as a timeout (and outlast this test).
    expect(await count('closed', 'connect_refused')).toBe(before + 1)
  })

  test('an upstream that never answers: 504 at the deadline, not a reset', async () => {
    const before = await count('hanging', 'headers_timeout')
    const started = performance.now()
    const res = await fetch(gw.url('/hang/x'))
    const elapsed = performance.now() - started
    await expectGatewayError(res, 504, 'gateway_timeout')
    // Never before the 3 s deadline (a lower bound a slow machine cannot miss), and the
    // deadline is what ended it: not the 1 s client idle timeout, not a reset.
    expect(elapsed).toBeGreaterThanOrEqual(2900)
    expect(await count('hanging', 'headers_timeout')).toBe(before + 1)
  }, 10_000)

  test.each([
    ['/garbage', 'a non-HTTP reply'],
    ['/empty', 'an empty reply'],
    ['/status-999', 'a status above 599'],
    ['/switching', 'an unrequested 101'],
    ['/cl-and-te', 'Content-Length with Transfer-Encoding'],
    ['/cl-differs', 'conflicting Content-Length values'],
    ['/huge-header', 'a header block over the limit'],
  ])('%s (%s): 502', async (path) => {
    await expectGatewayError(await fetch(gw.url(path)), 502, 'bad_gateway')
  })

  test('after a malformed reply the pool is clean: the next request succeeds', async () => {
    await (await fetch(gw.url('/cl-and-te'))).text()
    const res = await fetch(gw.url('/ok'))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('fine')
  })

  test('a small body cut short is a 502, never a short 200', async () => {
    await expectGatewayError(await fetch(gw.url('/truncated-cl')), 502, 'bad_gateway')
  })

  test('a small body that stalls is a 504 at the deadline', async () => {
    await expectGatewayError(await fetch(gw.url('/stall-body')), 504, 'gateway_timeout')
  })

  test.each(['/truncated-large', '/truncated-chunked', '/stall-large'])(
    '%s (streamed): the client sees a failed body, never a complete short one',
    async (path) => {
      const res = await fetch(gw.url(path))
      expect(res.status).toBe(200)
      await expect(res.arrayBuffer()).rejects.toBeDefined()
    }
  )
})

describe('upstream failures are counted by stable code (gateway_upstream_errors_total)', () => {
  // connect_refused and headers_timeout are counted by the first two tests above.
  test.each([
    ['scripted', 'malformed_head', '/status-999'],
    ['scripted', 'length_mismatch', '/truncated-cl'],
    ['scripted', 'body_timeout', '/stall-body'],
  ])('%s: %s', async (upstream, reason, path) => {
    const before = await count(upstream, reason)
    await (await fetch(gw.url(path))).text()
    expect(await count(upstream, reason)).toBe(before + 1)
  }, 10_000)

  // body_timeout is counted above (/stall-body); a stalled stream after this file's other
  // cases is seen as a client abort by Bun (req.signal aborted), so it is not listed here.
  test.each([
    ['/truncated-large', 'length_mismatch'],
    ['/truncated-chunked', 'reset'],
  ])('a streamed body that fails mid-way (%s) is counted as %s', async (path, reason) => {
    const before = await count('scripted', reason)
    const res = await fetch(gw.url(path), { keepalive: false })
    await res.arrayBuffer().catch(() => {})
    // The relay counts it as the body fails, which may be just after the client saw the cut.
    await waitFor(async () => (await count('scripted', reason)) > before, 3000, `${reason} to be counted`)
    expect(await count('scripted', reason)).toBe(before + 1)
  }, 10_000)
})
