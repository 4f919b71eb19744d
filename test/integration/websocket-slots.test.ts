/**
 * WebSocket slots (issue 21): an upgrade holds one of `maxConnectionsPerWorker` from the
 * moment it is admitted until its client socket is gone, whatever order Bun's open and close
 * handlers run in (an upstream that closes at once makes Bun run both inside upgrade()), or
 * until its upgrade fails; upstream handshakes under way count against the cap; the gauges
 * read what the cap counts; and an upgrade without a valid Sec-WebSocket-Key or Version is
 * refused before the upstream is contacted.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'

const CAP = 4
const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

let upstream: Bun.Server<{ path: string }>
let gw: GatewayProcess
/** Requests the upstream received, by path: every gateway handshake is one. */
const seen = new Map<string, number>()
const seenTotal = () => [...seen.values()].reduce((a, b) => a + b, 0)
/** Holds /slow handshakes until the test opens it. */
let gate = Promise.withResolvers<void>()

beforeAll(async () => {
  upstream = Bun.serve<{ path: string }>({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req, server) {
      const path = new URL(req.url).pathname
      seen.set(path, (seen.get(path) ?? 0) + 1)
      if (path === '/slow') await gate.promise
      if (server.upgrade(req, { data: { path } })) return undefined
      return new Response('not a websocket', { status: 400 })
    },
    websocket: {
      // An upstream that refuses after accepting, as one checking a token in the first frame would.
      open: (ws) => void (ws.data.path === '/reject' && ws.close(1008, 'bad token')),
      message: (ws, message) => void ws.send(message),
    },
  })
  gw = await startGateway({
    server: { websocket: { maxConnectionsPerWorker: CAP } },
    upstreams: { app: { targets: [`http://127.0.0.1:${upstream.port}`] } },
    routes: [{ path: '/ws', upstream: 'app', stripPrefix: true }],
  })
}, 20_000)

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
  upstream.stop(true)
})

const wsUrl = (path: string) => gw.url(path).replace('http://', 'ws://')

/** The two gauges the cap is made of, as /metrics reports them. */
async function gauges(): Promise<{ open: number; handshakes: number }> {
  const text = await scrape(gw.adminPort)
  return { open: sumOf(text, 'gateway_websocket_connections'), handshakes: sumOf(text, 'gateway_websocket_handshakes') }
}

/** Opens a socket with Bun's client and resolves with its close code (rejects if it never opens). */
function openAndClose(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path))
    let opened = false
    ws.onopen = () => (opened = true)
    ws.onclose = (e) => (opened ? resolve(e.code) : reject(new Error(`upgrade refused (close ${e.code})`)))
  })
}

function open(path: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path))
    ws.onopen = () => resolve(ws)
    ws.onerror = () => reject(new Error('upgrade refused'))
  })
}

/** Sends a handshake on a raw socket; resolves with the answer's status and head, the socket left open. */
function rawUpgrade(path: string): Promise<{ status: number; head: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gw.port, '127.0.0.1')
    let text = ''
    socket.on('error', reject)
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.removeAllListeners('data')
      socket.on('error', () => {})
      resolve({ status: Number(text.slice(9, 12)), head: text.slice(0, end), socket })
    })
    socket.write(`GET ${path} HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  })
}

describe('WebSocket slots', () => {
  test('1,000 upgrades the upstream accepts and closes at once (1008) leave every slot free', async () => {
    // CAP at a time: the slot of each is free before its client hears the close.
    for (let i = 0; i < 1000; i += CAP) {
      const codes = await Promise.all(Array.from({ length: CAP }, () => openAndClose('/ws/reject')))
      expect(codes).toEqual(Array(CAP).fill(1008))
    }
    expect(seen.get('/reject')).toBe(1000)
    expect(await gauges()).toEqual({ open: 0, handshakes: 0 })

    // The whole cap is still there: CAP sockets open and echo, one more is refused.
    const sockets = await Promise.all(Array.from({ length: CAP }, () => open('/ws/echo')))
    const replies = await Promise.all(
      sockets.map((ws, i) => {
        const reply = new Promise<unknown>((resolve) => ws.addEventListener('message', (e) => resolve(e.data), { once: true }))
        ws.send(`m${i}`)
        return reply
      })
    )
    expect(replies).toEqual(sockets.map((_, i) => `m${i}`))
    expect(await gauges()).toEqual({ open: CAP, handshakes: 0 })
    const over = await rawUpgrade('/ws/echo')
    over.socket.destroy()
    expect(over.status).toBe(503)
    for (const ws of sockets) ws.close()
    await waitFor(async () => (await gauges()).open === 0, 5000, 'every socket closed')
  }, 60_000)

  test('simultaneous upgrades against a slow upstream handshake never exceed the cap; the rest get 503', async () => {
    gate = Promise.withResolvers<void>()
    const attempts = Array.from({ length: CAP * 3 }, () => rawUpgrade('/ws/slow'))
    const settled: { status: number; head: string; socket: net.Socket }[] = []
    for (const a of attempts) void a.then((r) => settled.push(r))
    try {
      // CAP handshakes reach the upstream and wait there; the others are refused at once.
      await waitFor(() => seen.get('/slow') === CAP && settled.length === CAP * 2, 5000, 'CAP handshakes pending, the rest refused')
      expect(settled.map((r) => r.status)).toEqual(Array(CAP * 2).fill(503))
      expect(await gauges()).toEqual({ open: 0, handshakes: CAP })
      gate.resolve()
      const all = await Promise.all(attempts)
      expect(all.filter((r) => r.status === 101)).toHaveLength(CAP)
      expect(seen.get('/slow')).toBe(CAP)
      expect(await gauges()).toEqual({ open: CAP, handshakes: 0 })
    } finally {
      gate.resolve()
      for (const r of await Promise.all(attempts)) r.socket.destroy()
    }
    await waitFor(async () => (await gauges()).open === 0, 5000, 'every socket closed')
  }, 20_000)

  test('clients that leave during the upstream handshake give their slots back once it completes', async () => {
    gate = Promise.withResolvers<void>()
    const before = seen.get('/slow') ?? 0
    const sockets = Array.from({ length: CAP }, () => {
      const socket = net.connect(gw.port, '127.0.0.1')
      socket.on('error', () => {})
      socket.write(`GET /ws/slow HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
      return socket
    })
    await waitFor(() => seen.get('/slow') === before + CAP, 5000, 'CAP handshakes at the upstream')
    for (const socket of sockets) socket.destroy()
    // The upstream accepts after the clients left: Bun's upgrade() then fails, and the slots must not stay taken.
    gate.resolve()
    await waitFor(async () => (await gauges()).handshakes === 0, 5000, 'the handshakes to end')
    expect(await gauges()).toEqual({ open: 0, handshakes: 0 })
    const codes = await Promise.all(Array.from({ length: CAP }, () => openAndClose('/ws/reject')))
    expect(codes).toEqual(Array(CAP).fill(1008))
  })

  const cases: [string, Record<string, string>][] = [
    ['no Sec-WebSocket-Key', { 'sec-websocket-version': '13' }],
    ['a key that is not base64 of 16 bytes', { 'sec-websocket-key': 'abc', 'sec-websocket-version': '13' }],
    ['a key of 15 bytes', { 'sec-websocket-key': 'AAAAAAAAAAAAAAAAAAAA', 'sec-websocket-version': '13' }],
    ['a key of 24 characters not ending in ==', { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQAA', 'sec-websocket-version': '13' }],
    ['no Sec-WebSocket-Version', { 'sec-websocket-key': KEY }],
    ['Sec-WebSocket-Version: 8', { 'sec-websocket-key': KEY, 'sec-websocket-version': '8' }],
  ]
  test.each(cases)('%s: 400 before the upstream is contacted', async (_, fields) => {
    const before = seenTotal()
    const res = await fetch(gw.url('/ws/echo'), { headers: { upgrade: 'websocket', connection: 'Upgrade', ...fields } })
    expect(seenTotal()).toBe(before)
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: string; status: number; requestId: string }
    expect(body).toEqual({ error: 'bad_request', status: 400, requestId: res.headers.get('x-request-id')! })
    // RFC 6455 §4.4: a version the server does not speak is answered with the one it does.
    expect(res.headers.get('sec-websocket-version')).toBe('13')
    expect(await gauges()).toEqual({ open: 0, handshakes: 0 })
  })
})
