/**
 * Fuzzing the native client's framing through real sockets: a raw upstream answers each
 * request with a response built from a seeded PRNG, then mutated (split into random writes,
 * a field duplicated, Content-Length changed, garbage inserted, the stream cut). Whatever
 * the bytes, the gateway must not crash a worker, hang past the deadline, or present a cut
 * or merged body as a complete 200. Every body names its request, so a merged body shows.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import net from 'node:net'
import { events, expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'

const REQUESTS = 2000
const CONCURRENCY = 16
const TIMEOUT_MS = 1000

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Mutation = 'split' | 'truncate' | 'duplicate' | 'length-longer' | 'length-shorter' | 'garbage'
const MUTATIONS: Mutation[] = ['split', 'truncate', 'duplicate', 'length-longer', 'length-shorter', 'garbage']

/** The body the upstream means for request `id`: self-describing, so a prefix or a merge is visible. */
const bodyFor = (id: string, size: number) => `<${id}:${'x'.repeat(size)}:${id}>`

interface Plan {
  mutation: Mutation
  body: string
  /** The response bytes to send, in writes. */
  writes: string[]
  /** Close the socket after the last write. */
  close: boolean
}

function plan(id: string, random: () => number): Plan {
  let mutation = MUTATIONS[Math.floor(random() * MUTATIONS.length)]!
  const body = bodyFor(id, Math.floor(random() * 3000))
  const chunked = random() < 0.4
  // A chunked message has no Content-Length to change: it stays a valid one.
  if (chunked && mutation.startsWith('length')) mutation = 'split'
  const fields = ['HTTP/1.1 200 OK', 'Content-Type: text/plain', 'X-Id: ' + id]
  let payload: string
  if (chunked) {
    fields.push('Transfer-Encoding: chunked')
    const cut = Math.floor(random() * body.length)
    const parts = [body.slice(0, cut), body.slice(cut)].filter((p) => p.length > 0)
    payload = parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n'
  } else {
    let length = body.length
    if (mutation === 'length-longer') length += 1 + Math.floor(random() * 10)
    if (mutation === 'length-shorter') length -= 1 + Math.floor(random() * Math.min(10, body.length - 1))
    fields.push(`Content-Length: ${length}`)
    payload = body
  }
  if (mutation === 'duplicate') {
    const at = 1 + Math.floor(random() * (fields.length - 1))
    fields.splice(at, 0, fields[at]!)
  }
  let bytes = `${fields.join('\r\n')}\r\n\r\n${payload}`
  if (mutation === 'garbage') {
    const at = Math.floor(random() * (fields.join('\r\n').length + 2))
    const junk = ['\0', '\n', '\r', ' ', ':', '\x7f', 'HTTP/1.1 200 OK\r\n'][Math.floor(random() * 7)]!
    bytes = bytes.slice(0, at) + junk + bytes.slice(at)
  }
  let close = mutation === 'length-longer' || mutation === 'length-shorter' || random() < 0.1
  if (mutation === 'truncate') {
    bytes = bytes.slice(0, Math.floor(random() * bytes.length))
    close = true
  }
  // Random split points: every framing state must survive arriving a byte at a time.
  const writes: string[] = []
  let at = 0
  while (at < bytes.length) {
    const size = random() < 0.3 ? 1 + Math.floor(random() * 8) : 1 + Math.floor(random() * 2000)
    writes.push(bytes.slice(at, at + size))
    at += size
  }
  return { mutation, body, writes, close }
}

/** The request ids a body names (`<id:` and `:id>` markers). */
function idsIn(body: string): string[] {
  return [...body.matchAll(/<(r\d+):|:(r\d+)>/g)].map((m) => m[1] ?? m[2]!)
}

const plans = new Map<string, Plan>()
let upstream: net.Server
let gw: GatewayProcess

beforeAll(async () => {
  const random = prng(20261201)
  upstream = net.createServer((socket) => {
    socket.on('error', () => {})
    let buffered = ''
    socket.on('data', async (data) => {
      buffered += data.toString('latin1')
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffered.slice(0, end)
        buffered = buffered.slice(end + 4)
        const id = /^GET \/f\/(\w+)/.exec(head)?.[1] ?? 'none'
        const p = plan(id, random)
        plans.set(id, p)
        for (const write of p.writes) {
          if (socket.destroyed) return
          socket.write(Buffer.from(write, 'latin1'))
          if (random() < 0.1) await Bun.sleep(1)
        }
        if (p.close) socket.end()
      }
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const port = (upstream.address() as net.AddressInfo).port
  gw = await startGateway({
    upstreams: { fuzz: { targets: [`http://127.0.0.1:${port}`], client: 'native', timeoutMs: TIMEOUT_MS, bufferResponseBytes: 1024 } },
    routes: [{ path: '/f', upstream: 'fuzz' }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.close()
  expectCleanOutput(gw.output())
})

test(`${REQUESTS} mutated responses: no crash, no hang, never a cut or merged body as a complete 200`, async () => {
  const problems: string[] = []
  const outcomes: Record<string, number> = {}
  let next = 0
  const one = async () => {
    for (let i = next++; i < REQUESTS; i = next++) {
      const id = `r${i}`
      const started = performance.now()
      let status = 0
      let body: string | undefined
      try {
        const res = await fetch(gw.url(`/f/${id}`), { signal: AbortSignal.timeout(TIMEOUT_MS + 2000) })
        status = res.status
        body = await res.text()
      } catch {
        body = undefined // the relay was aborted: the client saw a failed body, as it must
      }
      const elapsed = performance.now() - started
      const p = plans.get(id)
      if (!p) {
        problems.push(`${id}: no plan (status ${status})`)
        continue
      }
      outcomes[`${p.mutation} ${status} ${body === undefined ? 'aborted' : 'read'}`] = (outcomes[`${p.mutation} ${status} ${body === undefined ? 'aborted' : 'read'}`] ?? 0) + 1
      if (elapsed > TIMEOUT_MS + 1500) problems.push(`${id} ${p.mutation}: took ${Math.round(elapsed)} ms`)
      if (status !== 200 || body === undefined) continue
      // Never another request's bytes: every id marker in the body is this request's.
      if (idsIn(body).some((other) => other !== id)) problems.push(`${id} ${p.mutation}: another request's body`)
      // Garbage in the head may legally remove its framing (a broken field name leaves a
      // close-delimited body, RFC 9112 §6.3): only the merge check above applies then.
      if (p.mutation === 'garbage') continue
      if (p.mutation === 'truncate' || p.mutation === 'length-longer') problems.push(`${id} ${p.mutation}: cut body presented as a complete 200`)
      else if (p.mutation === 'length-shorter') {
        if (!p.body.startsWith(body) || body.length >= p.body.length) problems.push(`${id} ${p.mutation}: not the declared prefix`)
      } else if (body !== p.body) problems.push(`${id} ${p.mutation}: body differs (${body.length} vs ${p.body.length} bytes)`)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, one))
  expect(problems.slice(0, 10)).toEqual([])
  // Every mutation class was exercised, and the valid ones mostly came through whole.
  for (const mutation of MUTATIONS) expect(Object.keys(outcomes).some((k) => k.startsWith(mutation))).toBe(true)
  expect(outcomes['split 200 read'] ?? 0).toBeGreaterThan(100)
  // The worker never crashed and still answers.
  expect(events(gw.output(), 'worker_exit')).toEqual([])
  expect((await fetch(gw.url('/health'))).status).toBe(200)
}, 15_000)
