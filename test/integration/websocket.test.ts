/**
 * WebSocket proxying with real clients (Bun's WebSocket and the `ws` package) and a Bun
 * WebSocket upstream: echo of text and a 512 KiB binary message, subprotocol choice,
 * a refusal relayed, close codes both ways, backpressure, idle timeout, 1001 on SIGTERM,
 * 200 sockets across 2 workers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import type WSType from 'ws'
import { expectCleanOutput, liveWorkerPids, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'

// The npm package itself: Bun answers a bare `import 'ws'` with its own built-in module,
// which would not be a second, independent implementation.
const WS_PACKAGE = '../../node_modules/ws/index.js'
const { default: WS } = (await import(WS_PACKAGE)) as { default: typeof WSType }

interface UpstreamData {
  path: string
  headers: Record<string, string>
}

let upstream: Bun.Server<UpstreamData>
let gw: GatewayProcess
const seenHeaders: Record<string, string>[] = []
let sentBytes = 0
const closesSeen: { code: number; reason: string }[] = []

beforeAll(async () => {
  upstream = Bun.serve<UpstreamData>({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req, server) {
      const url = new URL(req.url)
      if (url.pathname === '/forbidden') return new Response('go away', { status: 403, headers: { 'x-why': 'policy' } })
      const offered = (req.headers.get('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim())
      const headers: Record<string, string> = offered.length > 1 ? { 'sec-websocket-protocol': offered[1]! } : {}
      if (server.upgrade(req, { data: { path: url.pathname, headers: Object.fromEntries(req.headers) }, headers })) return undefined
      return new Response('not a websocket', { status: 400 })
    },
    websocket: {
      maxPayloadLength: 4 * 1024 * 1024,
      open(ws) {
        seenHeaders.push(ws.data.headers)
        if (ws.data.path === '/flood') {
          // 64 KiB messages as fast as the gateway takes them, for 2 s.
          const chunk = new Uint8Array(64 * 1024)
          const until = Date.now() + 2000
          const pump = () => {
            while (Date.now() < until) {
              sentBytes += chunk.byteLength
              if (ws.send(chunk) === -1) return
            }
          }
          ;(ws.data as UpstreamData & { pump?: () => void }).pump = pump
          pump()
        }
        if (ws.data.path === '/close-4001') ws.close(4001, 'upstream says bye')
      },
      drain(ws) {
        ;(ws.data as UpstreamData & { pump?: () => void }).pump?.()
      },
      message(ws, message) {
        ws.send(message)
      },
      close(_ws, code, reason) {
        closesSeen.push({ code, reason })
      },
    },
  })
  gw = await startGateway({
    server: { workers: 2, websocket: { idleTimeoutSeconds: 8 } },
    upstreams: { app: { targets: [`http://127.0.0.1:${upstream.port}`] } },
    routes: [
      { path: '/ws', upstream: 'app', stripPrefix: true },
      { path: '/plain', upstream: 'app', stripPrefix: true, websocket: false },
    ],
  })
}, 20_000)

afterAll(async () => {
  if (gw.proc.exitCode === null) {
    expect(await gw.stop()).toBe(0)
    expectCleanOutput(gw.output())
  }
  upstream.stop(true)
})

const wsUrl = (path: string) => gw.url(path).replace('http://', 'ws://')

function open(path: string, protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path), protocols)
    ws.binaryType = 'arraybuffer'
    ws.onopen = () => resolve(ws)
    ws.onerror = (e) => reject(new Error(`websocket error: ${(e as ErrorEvent).message}`))
  })
}

const next = (ws: WebSocket) => new Promise<MessageEvent>((resolve) => ws.addEventListener('message', resolve, { once: true }))
const closed = (ws: WebSocket) => new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve, { once: true }))

describe('WebSocket proxying', () => {
  test('text and a 512 KiB binary message echo back intact; forwarding headers reach the upstream', async () => {
    const ws = await open('/ws/echo')
    ws.send('hello')
    expect((await next(ws)).data).toBe('hello')
    const big = crypto.getRandomValues(new Uint8Array(512 * 1024))
    ws.send(big)
    const echoed = new Uint8Array((await next(ws)).data as ArrayBuffer)
    expect(echoed.byteLength).toBe(big.byteLength)
    expect(Buffer.compare(echoed, big)).toBe(0)
    ws.close()
    const headers = seenHeaders.at(-1)!
    expect(headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(headers['x-request-id']).toBeTruthy()
  })

  test('relayed messages and their payload bytes are counted by direction on /metrics', async () => {
    const counted = async () => {
      const text = await scrape(gw.adminPort)
      const of = (name: string, direction: string) => sumOf(text, `gateway_websocket_${name}_total`, { direction })
      return [of('messages', 'to_upstream'), of('messages', 'to_client'), of('bytes', 'to_upstream'), of('bytes', 'to_client')]
    }
    const before = await counted()
    const ws = await open('/ws/echo')
    for (const text of ['abc', 'hello', 'x']) {
      const reply = next(ws)
      ws.send(text)
      expect((await reply).data).toBe(text)
    }
    ws.close()
    // Three messages of 9 bytes in all each way (the echo); closes are not messages.
    const expected = [before[0]! + 3, before[1]! + 3, before[2]! + 9, before[3]! + 9]
    try {
      await waitFor(async () => (await counted()).every((n, i) => n === expected[i]), 3000, 'the counts')
    } catch {
      expect(await counted()).toEqual(expected)
    }
  })

  test('the subprotocol is the one the upstream chose (the second offered)', async () => {
    const ws = await open('/ws/proto', ['one', 'two', 'three'])
    expect(ws.protocol).toBe('two')
    ws.close()
  })

  test('an upstream refusal is relayed: 403 stays 403', async () => {
    const res = await fetch(gw.url('/ws/forbidden'), {
      headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('x-why')).toBe('policy')
    expect(await res.text()).toBe('go away')
  })

  test('close code 4001 and its reason pass both ways', async () => {
    const fromUpstream = await open('/ws/close-4001')
    const event = await closed(fromUpstream)
    expect([event.code, event.reason]).toEqual([4001, 'upstream says bye'])
    const fromClient = await open('/ws/echo')
    fromClient.close(4001, 'client says bye')
    await waitFor(() => closesSeen.some((c) => c.code === 4001 && c.reason === 'client says bye'), 3000, 'the upstream to see 4001')
  })

  test('a slow reader: the upstream is held back (not buffered, not dropped) until the client reads again', async () => {
    const ws = new WS(wsUrl('/ws/flood'))
    let received = 0
    ws.on('message', (data: Buffer) => void (received += data.byteLength))
    await new Promise((resolve) => ws.once('open', resolve))
    // Stop reading: the kernel buffers fill, then the gateway must hold the upstream back.
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause()
    const pids = liveWorkerPids(gw.output())
    const rss = () => pids.reduce((sum, pid) => sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024, 0)
    const before = rss()
    await Bun.sleep(2200)
    // Unchecked, the upstream pushes ~1.5 GB in those 2 s and Bun drops what is over the
    // client's backpressure limit; held back, it sends a few MiB.
    expect(sentBytes).toBeLessThan(256 * 1024 * 1024)
    expect(rss() - before).toBeLessThan(64)
    socket.resume()
    await waitFor(() => received === sentBytes, 10_000, 'every byte the upstream sent')
    ws.terminate()
  }, 20_000)

  test('the ws package as a second client: echo and a chosen subprotocol', async () => {
    const ws = new WS(wsUrl('/ws/echo2'), ['a', 'b'])
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)))
    expect(ws.protocol).toBe('b')
    const reply = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(String(data))))
    ws.send('over ws')
    expect(await reply).toBe('over ws')
    const big = Buffer.from(crypto.getRandomValues(new Uint8Array(512 * 1024)))
    const echoed = new Promise<Buffer>((resolve) => ws.once('message', (data: Buffer) => resolve(data)))
    ws.send(big)
    expect(Buffer.compare(await echoed, big)).toBe(0)
    ws.close(1000)
  })

  test('websocket: false forwards the upgrade as a plain request', async () => {
    const res = await fetch(gw.url('/plain/x'), { headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } })
    expect(res.status).toBe(400)
    expect(await res.text()).toBe('not a websocket')
  })

  test('200 sockets at once across 2 workers all echo', async () => {
    const sockets = await Promise.all(Array.from({ length: 200 }, () => open('/ws/many')))
    const replies = await Promise.all(
      sockets.map(async (ws, i) => {
        const reply = next(ws)
        ws.send(`m${i}`)
        return (await reply).data
      })
    )
    expect(replies).toEqual(sockets.map((_, i) => `m${i}`))
    for (const ws of sockets) ws.close()
  }, 15_000)

  test('an idle socket is closed after idleTimeoutSeconds', async () => {
    const ws = await open('/ws/idle')
    const started = performance.now()
    const event = await closed(ws)
    // Bun checks idle sockets on a coarse timer (4 s steps): closed within (4 s, 2 × 8 s).
    expect(performance.now() - started).toBeGreaterThan(3500)
    expect(performance.now() - started).toBeLessThan(16_000)
    expect(event.code).toBeGreaterThanOrEqual(1000)
  }, 20_000)

  test('SIGTERM: open sockets get 1001', async () => {
    const ws = await open('/ws/last')
    const event = closed(ws)
    gw.proc.kill('SIGTERM')
    expect((await event).code).toBe(1001)
    expect(await gw.proc.exited).toBe(0)
  }, 20_000)
})
