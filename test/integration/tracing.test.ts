/**
 * Tracing end to end: a real gateway exporting to an OTLP/HTTP receiver on loopback that
 * decodes with the official .proto files (test/fixtures/otlp-receiver.ts). Spans arrive at
 * the latest when the gateway stops (the export interval is long here): graceful shutdown
 * flushes them.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../fixtures/otlp-receiver.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

let receiver: OtlpReceiver
let upstream: RecordingUpstream
const cleanups: (() => void | Promise<void>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function start() {
  receiver = startOtlpReceiver()
  upstream = startRecordingUpstream()
  cleanups.push(() => receiver.stop(), () => upstream.stop())
}

async function gateway(tracing: Record<string, unknown>, extra: Record<string, any> = {}): Promise<GatewayProcess> {
  const gw = await startGateway({
    upstreams: { app: { targets: [upstream.origin], timeoutMs: 5000 }, ...extra.upstreams },
    routes: extra.routes ?? [{ path: '/api', upstream: 'app' }],
    tracing: { endpoint: receiver.url, intervalMs: 60_000, ...tracing },
    ...(extra.log ? { log: extra.log } : {}),
  })
  cleanups.push(async () => {
    if (gw.proc.exitCode === null) await gw.stop()
  })
  return gw
}

/** Stops the gateway (which flushes its spans) and checks it left cleanly. */
async function stopped(gw: GatewayProcess): Promise<void> {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
}

/** The traceparent parts the upstream received on its `index`th request. */
function upstreamParent(index: number) {
  const value = upstream.requests[index]!.headers.traceparent!
  const [version, traceId, spanId, flags] = value.split('-')
  return { version, traceId, spanId, flags }
}

const byKind = (spans: ReceivedSpan[], kind: number) => spans.filter((s) => s.kind === kind)

describe('tracing', () => {
  test('a request makes a server span and a client span; the upstream is told the client span; an untrusted traceparent is replaced', async () => {
    start()
    const gw = await gateway({}, { log: { access: true } })
    const res = await fetch(gw.url('/api/users?id=7'), {
      headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1', 'user-agent': 'trace-test/1' },
    })
    expect(res.status).toBe(200)
    const refused = await fetch(gw.url('/elsewhere'))
    expect(refused.status).toBe(404)
    await stopped(gw)

    const servers = byKind(receiver.spans, 2)
    const clients = byKind(receiver.spans, 3)
    expect(servers).toHaveLength(2)
    expect(clients).toHaveLength(1)
    const [server, notFound] = servers
    const client = clients[0]!
    // Not the caller's trace: trustIncoming is false by default.
    expect(server!.traceId).not.toBe(TRACE)
    expect(server!.parentSpanId).toBe('')
    expect(client.traceId).toBe(server!.traceId)
    expect(client.parentSpanId).toBe(server!.spanId)
    expect(server!.name).toBe('GET /api')
    expect(server!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/api',
      'url.path': '/api/users',
      'url.scheme': 'http',
      'http.response.status_code': 200,
      'client.address': '127.0.0.1',
      'user_agent.original': 'trace-test/1',
      'server.address': '127.0.0.1',
      'server.port': gw.port,
      'gateway.route': '/api',
    })
    expect(server!.resource['service.name']).toBe('bun-gateway')
    expect(server!.startNanos <= client.startNanos && client.endNanos <= server!.endNanos).toBe(true)
    expect(client.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(upstream.origin).port),
      'url.full': `${upstream.origin}/api/users`,
      'http.response.status_code': 200,
    })
    // Semconv: resend_count only on a resent request.
    expect('http.request.resend_count' in client.attributes).toBe(false)
    // The upstream saw the client span as its parent, and not the caller's tracestate.
    expect(upstreamParent(0)).toEqual({ version: '00', traceId: server!.traceId, spanId: client.spanId, flags: '01' })
    expect(upstream.requests[0]!.headers.tracestate).toBeUndefined()
    // A refusal has its span too, with the gateway's error code.
    expect(notFound!.name).toBe('GET')
    expect(notFound!.attributes).toMatchObject({ 'http.response.status_code': 404, 'gateway.error.code': 'not_found', 'gateway.route': '(none)' })
    expect(notFound!.attributes['http.route']).toBeUndefined()
    expect(notFound!.statusCode).toBe(0)
    // The access log names the same trace, so a line leads to its spans.
    const access = gw
      .output()
      .split('\n')
      .filter((line) => line.includes('"event":"access"'))
      .map((line) => JSON.parse(line))
    expect(access.find((line) => line.path === '/api/users?id=7')?.traceId).toBe(server!.traceId)
    expect(access.find((line) => line.status === 404)?.traceId).toBe(notFound!.traceId)
  }, 20_000)

  test('a retried request has two client spans, the second with resend_count 1, under one server span; a 502 is an error', async () => {
    start()
    const dead = 'http://127.0.0.1:1' // port 1: nothing listens there
    const gw = await gateway(
      {},
      {
        upstreams: {
          // perTryTimeoutMs: each try is sent as a copy of the request (retry.ts), which must keep its trace.
          app: { targets: [dead, upstream.origin], timeoutMs: 5000, outlierDetection: { consecutiveFailures: 0 }, retries: { budgetPercent: 100, perTryTimeoutMs: 4000 } },
          gone: { targets: [dead], timeoutMs: 5000 },
        },
        routes: [
          { path: '/api', upstream: 'app' },
          { path: '/gone', upstream: 'gone' },
        ],
      }
    )
    // Round-robin: one of the first two requests tries the dead target first.
    for (let i = 0; i < 2; i++) expect((await fetch(gw.url('/api/x'))).status).toBe(200)
    expect((await fetch(gw.url('/gone'))).status).toBe(502)
    await stopped(gw)

    const servers = byKind(receiver.spans, 2)
    const clients = byKind(receiver.spans, 3)
    const retried = servers.find((s) => clients.filter((c) => c.parentSpanId === s.spanId).length === 2)!
    expect(retried).toBeDefined()
    const tries = clients.filter((c) => c.parentSpanId === retried.spanId).sort((a, b) => Number(a.startNanos - b.startNanos))
    expect(tries.map((t) => t.attributes['http.request.resend_count'])).toEqual([undefined, 1])
    expect(tries.every((t) => t.traceId === retried.traceId)).toBe(true)
    expect(tries[0]!.attributes).toMatchObject({ 'server.port': Number(new URL(dead).port), 'error.type': 'connect_refused' })
    expect(tries[0]!.statusCode).toBe(2)
    expect(tries[1]!.attributes).toMatchObject({ 'server.port': Number(new URL(upstream.origin).port), 'http.response.status_code': 200 })
    expect(tries[1]!.statusCode).toBe(0)
    // The upstream was told the second try's span.
    const seen = upstream.requests.map((_, i) => upstreamParent(i))
    expect(seen).toContainEqual({ version: '00', traceId: retried.traceId, spanId: tries[1]!.spanId, flags: '01' })

    const failed = servers.find((s) => s.attributes['gateway.route'] === '/gone')!
    expect(failed.statusCode).toBe(2)
    expect(failed.attributes['http.response.status_code']).toBe(502)
    expect(failed.attributes['error.type']).toBe(failed.attributes['gateway.error.code'])
    expect(clients.find((c) => c.parentSpanId === failed.spanId)!.attributes['error.type']).toBe('connect_refused')
  }, 20_000)

  test('a trusted caller’s trace is continued, its sampled flag wins; an untrusted peer’s is not', async () => {
    start()
    const trusted = await gateway({ trustIncoming: ['127.0.0.0/8'], sampleRatio: 1 })
    const headers = { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' }
    expect((await fetch(trusted.url('/api/a'), { headers })).status).toBe(200)
    // Not sampled by the caller: nothing recorded, the decision passed on.
    expect((await fetch(trusted.url('/api/b'), { headers: { traceparent: `00-${TRACE}-${PARENT}-00` } })).status).toBe(200)
    await stopped(trusted)

    expect(receiver.spans).toHaveLength(2)
    const server = byKind(receiver.spans, 2)[0]!
    const client = byKind(receiver.spans, 3)[0]!
    expect(server.traceId).toBe(TRACE)
    expect(server.parentSpanId).toBe(PARENT)
    expect(server.traceState).toBe(headers.tracestate)
    expect(server.flags).toBe(0x301)
    expect(upstreamParent(0)).toEqual({ version: '00', traceId: TRACE, spanId: client.spanId, flags: '01' })
    expect(upstream.requests[0]!.headers.tracestate).toBe(headers.tracestate)
    const unsampled = upstreamParent(1)
    expect(unsampled).toMatchObject({ traceId: TRACE, flags: '00' })
    expect(unsampled.spanId).not.toBe(PARENT)

    // The same traceparent from a peer outside trustIncoming starts a trace of the gateway's own.
    const untrusted = await gateway({ trustIncoming: ['10.0.0.0/8'] })
    expect((await fetch(untrusted.url('/api/c'), { headers })).status).toBe(200)
    await stopped(untrusted)
    const own = byKind(receiver.spans, 2)[1]!
    expect(own.traceId).not.toBe(TRACE)
    expect(own.parentSpanId).toBe('')
    expect(upstreamParent(2).traceId).toBe(own.traceId)
    expect(upstream.requests[2]!.headers.tracestate).toBeUndefined()
  }, 20_000)

  test('the fetch base client sends the same fields: the try’s traceparent and the trusted tracestate, once each', async () => {
    start()
    const gw = await gateway(
      { trustIncoming: true, sampleRatio: 1 },
      { upstreams: { app: { targets: [upstream.origin], timeoutMs: 5000, client: 'fetch' } } }
    )
    const tracestate = 'rojo=00f067aa0ba902b7'
    expect((await fetch(gw.url('/api/a'), { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate } })).status).toBe(200)
    // Not traced by the caller: the gateway's own trace, and no tracestate at all.
    expect((await fetch(gw.url('/api/b'))).status).toBe(200)
    await stopped(gw)

    const client = byKind(receiver.spans, 3).find((span) => span.traceId === TRACE)!
    // One value each: the client's own fields were not copied beside the gateway's.
    expect(upstream.requests[0]!.headers.traceparent).toBe(`00-${TRACE}-${client.spanId}-01`)
    expect(upstream.requests[0]!.headers.tracestate).toBe(tracestate)
    expect(upstreamParent(1).traceId).not.toBe(TRACE)
    expect(upstream.requests[1]!.headers.tracestate).toBeUndefined()
  }, 20_000)

  test('a WebSocket handshake is sent upstream under the request’s span, never the client’s traceparent', async () => {
    start()
    let handshake: Record<string, string> | undefined
    const wsUpstream = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(req, server) {
        handshake = Object.fromEntries(req.headers)
        return server.upgrade(req, { data: undefined }) ? undefined : new Response('no', { status: 400 })
      },
      websocket: { message: (ws, message) => void ws.send(message) },
    })
    cleanups.push(() => void wsUpstream.stop(true))
    const gw = await gateway({}, { upstreams: { ws: { targets: [`http://127.0.0.1:${wsUpstream.port}`], timeoutMs: 5000 } }, routes: [{ path: '/ws', upstream: 'ws' }] })
    const ws = new WebSocket(gw.url('/ws').replace('http:', 'ws:'), { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1' } } as unknown as string[])
    await new Promise((resolve, reject) => {
      ws.onopen = resolve
      ws.onerror = reject
    })
    ws.close()
    await stopped(gw)
    const server = byKind(receiver.spans, 2)[0]!
    expect(server.traceId).not.toBe(TRACE)
    expect(handshake!.traceparent).toBe(`00-${server.traceId}-${server.spanId}-01`)
    expect(handshake!.tracestate).toBeUndefined()
  }, 20_000)

  test('sampleRatio 0 exports nothing; the upstream still gets a traceparent, flag 00, and only the gateway’s', async () => {
    start()
    // A route's header rule on the trace fields does not add a second traceparent or a tracestate.
    const routes = [{ path: '/api', upstream: 'app', requestHeaders: { set: { traceparent: 'from-a-rule', tracestate: 'rule=1' } } }]
    const gw = await gateway({ sampleRatio: 0 }, { routes })
    for (let i = 0; i < 3; i++) expect((await fetch(gw.url('/api/n'))).status).toBe(200)
    await stopped(gw)
    expect(receiver.requests).toHaveLength(0)
    const parents = upstream.requests.map((_, i) => upstreamParent(i))
    expect(parents.every((p) => p.version === '00' && p.flags === '00' && /^[0-9a-f]{32}$/.test(p.traceId!) && /^[0-9a-f]{16}$/.test(p.spanId!))).toBe(true)
    expect(new Set(parents.map((p) => p.traceId)).size).toBe(3)
    expect(upstream.requests.map((r) => r.headers.tracestate)).toEqual([undefined, undefined, undefined])
  }, 20_000)

  test('a dead collector: requests still answer 200, the lost spans are counted and said once', async () => {
    start()
    const gw = await gateway({ endpoint: 'http://127.0.0.1:1/v1/traces', intervalMs: 100, batchSize: 2 })
    for (let i = 0; i < 6; i++) expect((await fetch(gw.url('/api/d'))).status).toBe(200)
    let dropped = 0
    await waitFor(
      async () => {
        dropped = sumOf(await scrape(gw.adminPort), 'gateway_tracing_spans_dropped_total', { reason: 'export_failed' })
        return dropped >= 12
      },
      10_000,
      'the failed exports to be counted'
    )
    expect(dropped).toBe(12)
    const warnings = gw.output().split('\n').filter((line) => line.includes('"event":"tracing_export_failed"'))
    expect(warnings.length).toBeGreaterThanOrEqual(1)
    expect(warnings.length).toBeLessThan(6)
    await stopped(gw)
  }, 20_000)

  test('spans the collector accepted are counted; no drop is', async () => {
    start()
    const gw = await gateway({ sampleRatio: 1, intervalMs: 100, batchSize: 2 })
    for (let i = 0; i < 3; i++) expect((await fetch(gw.url('/api/e'))).status).toBe(200)
    await waitFor(() => receiver.spans.length === 6, 10_000, 'six spans at the collector')
    let exported = 0
    await waitFor(
      async () => {
        exported = sumOf(await scrape(gw.adminPort), 'gateway_tracing_spans_exported_total')
        return exported >= 6
      },
      10_000,
      'the exports to be counted'
    )
    expect(exported).toBe(6)
    expect(sumOf(await scrape(gw.adminPort), 'gateway_tracing_spans_dropped_total')).toBe(0)
    await stopped(gw)
  }, 20_000)
})
