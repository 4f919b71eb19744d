/**
 * The native client's pool, with real sockets: a raw upstream counts the connections the
 * gateway opens, and can close each one right after its response (the keep-alive race).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'

interface CountingUpstream {
  port: number
  /** Connections accepted so far, and those still open. */
  accepted: number
  open: number
  /** Requests by method. */
  methods: string[]
  /** Most requests it was answering at once. */
  peakInFlight: number
  close(): void
}

/**
 * Answers `ok` to every request. `oneRequestPerConnection`: answers the first request of a
 * connection as keep-alive, then closes on the next one without a byte of response: the
 * stale keep-alive race, every time. `randomClose`: after each answer, closes the
 * connection with this probability, without saying so. `delayMs`: waits before answering.
 */
async function startCountingUpstream(
  options: { oneRequestPerConnection?: boolean; randomClose?: number; delayMs?: number; connectionClose?: boolean } = {}
): Promise<CountingUpstream> {
  const sockets = new Set<net.Socket>()
  const state = { accepted: 0, methods: [] as string[], inFlight: 0, peakInFlight: 0 }
  const server = net.createServer((socket) => {
    state.accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = ''
    let served = 0
    socket.on('data', (data) => {
      buffered += data.toString('latin1')
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffered.slice(0, end)
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (buffered.length < end + 4 + length) return
        buffered = buffered.slice(end + 4 + length)
        state.methods.push(head.split(' ')[0]!)
        if (options.oneRequestPerConnection && served++ > 0) {
          socket.end()
          return
        }
        state.inFlight++
        state.peakInFlight = Math.max(state.peakInFlight, state.inFlight)
        const answer = () => {
          state.inFlight--
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n${options.connectionClose ? 'Connection: close\r\n' : ''}\r\nok`)
          if (options.randomClose && Math.random() < options.randomClose) setTimeout(() => socket.end(), Math.random() * 3)
        }
        if (options.delayMs) setTimeout(answer, options.delayMs)
        else answer()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return state.accepted
    },
    get open() {
      return sockets.size
    },
    get methods() {
      return state.methods
    },
    get peakInFlight() {
      return state.peakInFlight
    },
    close() {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}

let steady: CountingUpstream
let idle: CountingUpstream
let closing: CountingUpstream
let slow: CountingUpstream
let flaky: CountingUpstream
let oneShot: CountingUpstream
let bursty: CountingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  ;[steady, idle, closing, slow] = await Promise.all([
    startCountingUpstream(),
    startCountingUpstream(),
    startCountingUpstream({ oneRequestPerConnection: true }),
    startCountingUpstream({ delayMs: 300 }),
  ])
  flaky = await startCountingUpstream({ randomClose: 0.3 })
  oneShot = await startCountingUpstream({ connectionClose: true, delayMs: 50 })
  bursty = await startCountingUpstream({ delayMs: 30 })
  const native = (port: number, keepAlive: Record<string, number> = {}) => ({
    targets: [`http://127.0.0.1:${port}`],
    client: 'native',
    keepAlive: { idleTimeoutSeconds: 1, ...keepAlive },
  })
  // Where a test counts connections to prove reuse, the idle timeout is far longer than the
  // test (30 s), so a slow machine cannot let a kept connection expire between two requests and
  // add a connect. Only `idle`, whose test is about the timeout, keeps 1 s.
  gw = await startGateway({
    upstreams: {
      steady: native(steady.port, { idleTimeoutSeconds: 30 }),
      idle: native(idle.port),
      closing: native(closing.port, { idleTimeoutSeconds: 30 }),
      slow: native(slow.port, { maxConnections: 1, queueSize: 1, queueTimeoutMs: 1000 }),
      flaky: native(flaky.port),
      oneShot: native(oneShot.port, { maxConnections: 1, queueSize: 10, queueTimeoutMs: 5000 }),
      bursty: native(bursty.port, { maxIdleSockets: 2, idleTimeoutSeconds: 30 }),
    },
    routes: [
      { path: '/steady', upstream: 'steady' },
      { path: '/idle', upstream: 'idle' },
      { path: '/closing', upstream: 'closing' },
      { path: '/slow', upstream: 'slow' },
      { path: '/flaky', upstream: 'flaky' },
      { path: '/one-shot', upstream: 'oneShot' },
      { path: '/bursty', upstream: 'bursty' },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  for (const u of [steady, idle, closing, slow, flaky, oneShot, bursty]) u.close()
  expectCleanOutput(gw.output())
})

describe('native client pool', () => {
  test('1,000 sequential requests share one upstream connection', async () => {
    for (let i = 0; i < 1000; i++) {
      const res = await fetch(gw.url(`/steady/${i}`))
      expect(await res.text()).toBe('ok')
    }
    expect(steady.accepted).toBe(1)
  }, 20_000)

  test('an idle connection is closed after idleTimeoutSeconds, and the next request opens a new one', async () => {
    // `idle` (1 s) is used by this test alone: its first request opens its first connection.
    expect(await (await fetch(gw.url('/idle/x'))).text()).toBe('ok')
    expect(await (await fetch(gw.url('/steady/x'))).text()).toBe('ok')
    expect(idle.accepted).toBe(1)
    await waitFor(() => idle.open === 0, 10_000, 'the idle connection to close')
    // Closed by its upstream's idle timeout, not by something that closes every idle
    // connection: steady's (30 s), idle since before, is still open.
    expect(steady.open).toBe(1)
    expect(await (await fetch(gw.url('/idle/y'))).text()).toBe('ok')
    expect(idle.accepted).toBe(2)
  }, 20_000)

  test('a reused connection closed before the response: GET is retried once on a fresh one', async () => {
    expect(await (await fetch(gw.url('/closing/a'))).text()).toBe('ok')
    const accepted = closing.accepted
    // Sent on the kept connection, which the upstream closes without answering.
    const get = await fetch(gw.url('/closing/b'))
    expect(get.status).toBe(200)
    expect(await get.text()).toBe('ok')
    expect(closing.accepted).toBe(accepted + 1)
    expect(closing.methods.filter((m) => m === 'GET')).toHaveLength(3)
  })

  test('the same race for a POST is a 502, and the POST is never sent twice', async () => {
    expect(await (await fetch(gw.url('/closing/c'))).text()).toBe('ok')
    const post = await fetch(gw.url('/closing/d'), { method: 'POST', body: 'x' })
    expect(post.status).toBe(502)
    await post.text()
    expect(closing.methods.filter((m) => m === 'POST')).toHaveLength(1)
  })

  test('maxConnections with a bounded queue: one served, one queued, the rest a fast 503 with Retry-After', async () => {
    const started = performance.now()
    const answers = await Promise.all(
      [0, 1, 2].map(async (i) => {
        await Bun.sleep(i * 20)
        const res = await fetch(gw.url(`/slow/${i}`), { keepalive: false })
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text(), at: performance.now() - started }
      })
    )
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 503])
    const refused = answers.find((a) => a.status === 503)!
    expect(refused.retryAfter).toBe('1')
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'overloaded', status: 503 })
    // Refused at once, not after waiting its turn: before the request ahead of it (held 300 ms
    // by the upstream) was answered. An order, not a clock bound a busy machine could miss.
    const served = answers.filter((a) => a.status === 200)
    expect(refused.at).toBeLessThan(Math.min(...served.map((a) => a.at)))
    expect(slow.accepted).toBe(1)
    // The refused try never left the gateway: the target counts the two that did.
    const metrics = await scrape(gw.adminPort)
    expect(sumOf(metrics, 'gateway_upstream_target_requests_total', { upstream: 'slow' })).toBe(2)
  })

  test('an upstream that closes keep-alive connections at random: 1,000 GETs, 8 at a time, all answered', async () => {
    let next = 0
    const statuses: number[] = []
    const worker = async () => {
      for (let i = next++; i < 1000; i = next++) {
        const res = await fetch(gw.url(`/flaky/${i}`))
        statuses.push(res.status)
        await res.text()
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect(flaky.accepted).toBeGreaterThan(50)
  }, 20_000)

  test('a connection that cannot be reused frees one place in the queue, not two: maxConnections holds', async () => {
    const answers = await Promise.all([0, 1, 2, 3, 4].map((i) => fetch(gw.url(`/one-shot/${i}`)).then((r) => r.status)))
    expect(answers).toEqual([200, 200, 200, 200, 200])
    expect(oneShot.accepted).toBe(5)
    expect(oneShot.peakInFlight).toBe(1)
  }, 10_000)

  test('load above maxIdleSockets reuses its connections instead of reopening them; the surplus closes once idle', async () => {
    // The test gateway runs one worker: 8 concurrent requests need 8 connections.
    const round = (r: number) => Promise.all(Array.from({ length: 8 }, (_, i) => fetch(gw.url(`/bursty/${r}/${i}`)).then((res) => res.text())))
    for (let r = 0; r < 5; r++) expect(await round(r)).toEqual(Array(8).fill('ok'))
    // Closing each connection past maxIdle at once (the old pool) opened 6 new ones per round.
    expect(bursty.accepted).toBe(8)
    // Once the load is gone, maxIdleSockets (2) is what stays.
    await waitFor(() => bursty.open === 2, 10_000, 'the surplus idle connections to close')
    expect(await round(5)).toEqual(Array(8).fill('ok'))
    expect(bursty.accepted).toBe(14)
  }, 20_000)
})
