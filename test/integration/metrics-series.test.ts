/**
 * What /metrics shows after real traffic through a real gateway (2 workers): only series for
 * what happened, each process's own numbers by worker, tries and failures per target, body
 * bytes per route.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { expectCleanOutput, liveWorkerPids, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { waitForListeners } from '../fixtures/listeners.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let dead: string
/** Answers a head declaring 1,000 (or 1,000,000) bytes, sends 10, and closes: a body cut after the head. */
let cutter: net.Server
let cut: string
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  // Port 1: nothing listens there, so every connection is refused. Not a port that was just free: a server
  // started next (this file's own, or another's) may be given it again.
  dead = 'http://127.0.0.1:1'
  cutter = net.createServer((socket) => {
    socket.on('error', () => {})
    // /big declares more than bufferResponseBytes: the cut comes while the body streams to the client.
    socket.once('data', (head) => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${head.includes('/big') ? 1_000_000 : 1000}\r\n\r\n0123456789`))
  })
  await new Promise<void>((resolve) => cutter.listen(0, '127.0.0.1', resolve))
  cut = `http://127.0.0.1:${(cutter.address() as net.AddressInfo).port}`
  gw = await startGateway({
    server: { workers: 2 },
    upstreams: {
      app: { targets: [upstream.origin] },
      pair: { targets: [upstream.origin, dead], retries: { attempts: 2 } },
      cut: { targets: [cut] },
      // Never routed to: its targets must not show up in per-target series.
      checked: { targets: [upstream.origin, dead], healthCheck: { path: '/health', intervalSeconds: 60, timeoutMs: 1000 } },
    },
    routes: [
      { name: 'api', path: '/api', upstream: 'app' },
      { name: 'pair', path: '/pair', upstream: 'pair' },
      { name: 'cut', path: '/cut', upstream: 'cut' },
      { name: 'bytes', path: '/bytes', upstream: 'app', stripPrefix: true, methods: ['GET', 'HEAD', 'POST'] },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  cutter.close()
  expectCleanOutput(gw.output())
})

/** The sample lines of `name` (its _bucket/_sum/_count too) that carry all of `labels`. */
function lines(text: string, name: string, labels: Record<string, string> = {}): string[] {
  return text.split('\n').filter((line) => line.startsWith(name) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
}

describe('series exist only for what was seen', () => {
  test('after requests that all answered 200, the upstream histogram has a 2xx class only (no zero 1xx..5xx series)', async () => {
    for (let i = 0; i < 30; i++) expect((await fetch(gw.url('/api/x'), { keepalive: false })).status).toBe(200)
    const text = await scrape(gw.adminPort)
    const upstreamSeries = lines(text, 'gateway_upstream_request_duration_seconds', { upstream: 'app' })
    expect(upstreamSeries.length).toBeGreaterThan(0)
    expect(upstreamSeries.filter((line) => !line.includes('status_class="2xx"'))).toEqual([])
    expect(sumOf(text, 'gateway_upstream_request_duration_seconds_count', { upstream: 'app', status_class: '2xx' })).toBeGreaterThanOrEqual(30)
    // An upstream no request reached has no latency series at all.
    expect(lines(text, 'gateway_upstream_request_duration_seconds', { upstream: 'checked' })).toEqual([])
    expect(lines(text, 'gateway_http_requests_total', { route: 'api' }).filter((line) => !line.includes('status="200"'))).toEqual([])
    // No route caches: no cache series.
    expect(lines(text, 'gateway_cache_')).toEqual([])
  })
})

describe('process metrics per worker', () => {
  test('each live worker and the primary have RSS, CPU, open descriptors and lag, labelled worker', async () => {
    const pids = liveWorkerPids(gw.output())
    expect(pids).toHaveLength(2)
    const text = await scrape(gw.adminPort)
    for (const worker of [...pids.map(String), 'primary']) {
      expect(sumOf(text, 'gateway_process_resident_memory_bytes', { worker })).toBeGreaterThan(10 * 1024 * 1024)
      expect(sumOf(text, 'gateway_process_cpu_seconds_total', { worker })).toBeGreaterThan(0)
      expect(sumOf(text, 'gateway_process_open_fds', { worker })).toBeGreaterThan(2)
      expect(sumOf(text, 'gateway_process_max_fds', { worker })).toBeGreaterThan(0)
      expect(sumOf(text, 'gateway_process_start_time_seconds', { worker })).toBeGreaterThan(Date.now() / 1000 - 600)
      expect(lines(text, 'gateway_event_loop_lag_seconds', { worker })).toHaveLength(1)
    }
    expect(lines(text, 'gateway_process_resident_memory_bytes')).toHaveLength(3)
  })

  test('a killed worker\'s process series go with it (its CPU seconds are not kept as a retired total)', async () => {
    const [victim, survivor] = liveWorkerPids(gw.output())
    process.kill(victim!, 'SIGKILL')
    const replacement = (await waitForListeners(gw.port, 2, victim!)).find((pid) => pid !== survivor)!
    // The primary hears that the replacement listens over IPC, a moment after its socket does.
    let text = ''
    await waitFor(async () => {
      text = await scrape(gw.adminPort)
      return lines(text, 'gateway_process_resident_memory_bytes', { worker: String(replacement) }).length === 1
    }, 5000, "the replacement's series")
    expect(lines(text, 'gateway_process_cpu_seconds_total', { worker: String(victim) })).toEqual([])
    expect(lines(text, 'gateway_process_resident_memory_bytes', { worker: String(victim) })).toEqual([])
    expect(sumOf(text, 'gateway_process_resident_memory_bytes', { worker: String(replacement) })).toBeGreaterThan(0)
    expect(lines(text, 'gateway_process_cpu_seconds_total')).toHaveLength(3)
  })
})

describe('per-target requests and failures', () => {
  test('tries rise for the target that answered, failures (by reason) for the dead one, summed over workers', async () => {
    const before = await scrape(gw.adminPort)
    const at = (text: string, name: string, target: string) => sumOf(text, name, { upstream: 'pair', target })
    let ok = 0
    for (let i = 0; i < 20; i++) {
      const res = await fetch(gw.url('/pair/x'), { keepalive: false })
      await res.arrayBuffer()
      if (res.status === 200) ok++
    }
    const after = await scrape(gw.adminPort)
    const delta = (name: string, target: string) => at(after, name, target) - at(before, name, target)
    // A 200 is exactly one try of the live target; a retry never follows a success.
    expect(ok).toBeGreaterThan(0)
    expect(delta('gateway_upstream_target_requests_total', upstream.origin)).toBe(ok)
    expect(delta('gateway_upstream_target_failures_total', upstream.origin)).toBe(0)
    const deadTries = delta('gateway_upstream_target_requests_total', dead)
    expect(deadTries).toBeGreaterThan(0)
    expect(delta('gateway_upstream_target_failures_total', dead)).toBe(deadTries)
    expect(sumOf(after, 'gateway_upstream_target_failures_total', { upstream: 'pair', target: dead, reason: 'connect_refused' })).toBe(at(after, 'gateway_upstream_target_failures_total', dead))
    // Targets of an upstream no request used are not listed.
    expect(lines(after, 'gateway_upstream_target_requests_total', { upstream: 'checked' })).toEqual([])
  })

  test('a body cut after the head is a failure of the target that sent it, buffered or streamed', async () => {
    for (const path of ['/cut/small', '/cut/big']) {
      const res = await fetch(gw.url(path)).catch(() => undefined)
      await res?.arrayBuffer().catch(() => {})
    }
    // Each try the target answered with a cut body is its failure. A busy machine may have the
    // test's own client send a cut request again (Bun's fetch retries a GET whose reused
    // connection closed), so the counts are compared with each other, not with 2.
    const counts = async () => {
      const text = await scrape(gw.adminPort)
      const of = (name: string) => sumOf(text, name, { upstream: 'cut', target: cut, ...(name.endsWith('failures_total') ? { reason: 'length_mismatch' } : {}) })
      return { tries: of('gateway_upstream_target_requests_total'), failures: of('gateway_upstream_target_failures_total') }
    }
    // The streamed one fails as the relay reads it, which the client may see first.
    await waitFor(async () => {
      const { tries, failures } = await counts()
      return tries >= 2 && failures === tries
    }, 10_000, 'every cut counted')
  }, 20_000)
})

describe('body bytes per route', () => {
  test('request and response byte counters rise by exactly the bodies sent and received (HEAD carries none)', async () => {
    const before = await scrape(gw.adminPort)
    let sent = 0
    let received = 0
    for (const size of [777, 1, 4096]) {
      const res = await fetch(gw.url('/bytes/echo'), { method: 'POST', body: new Uint8Array(size).fill(98) })
      expect(res.status).toBe(200)
      sent += size
      received += (await res.arrayBuffer()).byteLength
    }
    // Buffered whole, and (past bufferResponseBytes) streamed: counted by the upstream's Content-Length either way.
    for (const size of [1000, 70_000]) {
      const body = await (await fetch(gw.url(`/bytes/big?bytes=${size}`))).arrayBuffer()
      expect(body.byteLength).toBe(size)
      received += size
    }
    const head = await fetch(gw.url('/bytes/big?bytes=5000'), { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe('5000')
    received += (await head.arrayBuffer()).byteLength
    // The gateway's own error body counts too: a 405 from the limits stage.
    const refused = await fetch(gw.url('/bytes/x'), { method: 'DELETE' })
    const refusedBody = (await refused.arrayBuffer()).byteLength
    const after = await scrape(gw.adminPort)
    const delta = (name: string) => sumOf(after, name, { route: 'bytes' }) - sumOf(before, name, { route: 'bytes' })
    expect(delta('gateway_http_request_bytes_total')).toBe(sent)
    expect(refused.status).toBe(405)
    expect(refusedBody).toBeGreaterThan(0)
    expect(delta('gateway_http_response_bytes_total')).toBe(received + refusedBody)
    // A route whose requests carried no body has no request-bytes series.
    expect(lines(after, 'gateway_http_request_bytes_total', { route: 'api' })).toEqual([])
  })
})
