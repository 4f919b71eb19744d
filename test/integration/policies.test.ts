/**
 * Route policies against a real gateway and upstream: API-key auth (header and query, keys
 * written as a digest, an env variable, a file or in clear), identity headers, the cache
 * per consumer, and overload protection (server.maxInflightPerWorker).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectCleanOutput, liveWorkerPids, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const KEYS = { alice: 'alice-key-0123456789', bob: 'bob-key-9876543210', carol: 'carol-key-from-env', dave: 'dave-key-from-file' }
const digest = (key: string) => new Bun.CryptoHasher('sha256').update(key).digest('hex')

let upstream: RecordingUpstream
let gw: GatewayProcess
let cached: Bun.Server<undefined>
const cachedHits: string[] = []

beforeAll(async () => {
  upstream = startRecordingUpstream()
  // A cacheable answer that names the consumer it was made for.
  cached = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const who = req.headers.get('x-consumer') ?? 'nobody'
      cachedHits.push(who)
      return new Response(`for ${who}`, { headers: { 'cache-control': 'public, max-age=600' } })
    },
  })
  const dir = mkdtempSync(join(tmpdir(), 'gw-keys-'))
  const keyFile = join(dir, 'dave.key')
  writeFileSync(keyFile, `${KEYS.dave}\n`)
  gw = await startGateway(
    {
      upstreams: {
        app: { targets: [upstream.origin], timeoutMs: 5000 },
        cached: { targets: [`http://127.0.0.1:${cached.port}`] },
      },
      routes: [
        { path: '/header', upstream: 'app', auth: { apiKey: {} } },
        { path: '/query', upstream: 'app', auth: { apiKey: { query: 'api_key' } } },
        { path: '/forwarded', upstream: 'app', auth: { apiKey: { header: 'x-key', forwardCredential: true }, consumerHeader: 'x-user' } },
        { path: '/cached', upstream: 'cached', auth: { apiKey: {} }, cache: { enabled: true } },
        { path: '/open', upstream: 'app' },
      ],
      consumers: [
        { name: 'alice', apiKeys: [`sha256:${digest(KEYS.alice)}`] },
        { name: 'bob', apiKeys: [KEYS.bob] },
        { name: 'carol', apiKeys: ['env:GW_TEST_CAROL_KEY'] },
        { name: 'dave', apiKeys: [`file:${keyFile}`] },
      ],
    },
    { GW_TEST_CAROL_KEY: KEYS.carol }
  )
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
  upstream.stop()
  cached.stop(true)
})

const last = () => upstream.requests.at(-1)!

/**
 * An upstream that holds every request until the test opens its gate: "in flight" is then a
 * state the test controls and can observe (`held()`), not a race against a slow timer.
 */
function startGatedUpstream() {
  let gate = Promise.withResolvers<void>()
  let held = 0
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    development: false,
    idleTimeout: 60,
    async fetch() {
      held++
      await gate.promise
      held--
      return new Response('released')
    },
  })
  return {
    origin: `http://127.0.0.1:${server.port}`,
    /** Requests that reached the upstream and wait at the gate. */
    held: () => held,
    /** Lets the held requests, and every later one, through. */
    open: () => gate.resolve(),
    /** Holds requests from now on. */
    close: () => void (gate = Promise.withResolvers<void>()),
    stop: () => (gate.resolve(), void server.stop(true)),
  }
}

describe('API keys', () => {
  test('missing, unknown, and wrong keys of other lengths all get the same 401 with a challenge', async () => {
    const before = upstream.requests.length
    const bodies: string[] = []
    for (const key of [undefined, '', 'x', KEYS.alice.slice(0, -1), `${KEYS.alice}0`, KEYS.alice.toUpperCase(), 'k'.repeat(4096)]) {
      const res = await fetch(gw.url('/header/a'), { headers: key === undefined ? {} : { 'x-api-key': key } })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('ApiKey realm="gateway", header="x-api-key"')
      expect(res.headers.get('cache-control')).toBe('no-store')
      const body = (await res.json()) as Record<string, unknown>
      expect(body.error).toBe('unauthorized')
      expect(body.requestId).toBe(res.headers.get('x-request-id')!)
      bodies.push(JSON.stringify({ ...body, requestId: '' }))
    }
    expect(new Set(bodies).size).toBe(1)
    // Nothing unauthenticated reached the upstream.
    expect(upstream.requests.length).toBe(before)
  })

  test('every key form identifies its consumer; the key is not forwarded, the consumer is', async () => {
    for (const [name, key] of Object.entries(KEYS)) {
      const res = await fetch(gw.url('/header/who'), { headers: { 'x-api-key': key } })
      expect(res.status).toBe(200)
      expect(last().headers['x-consumer']).toBe(name)
      expect(last().headers['x-api-key']).toBeUndefined()
    }
  })

  test('a client-sent consumer header is replaced on auth routes and removed on open ones', async () => {
    await fetch(gw.url('/header/spoof'), { headers: { 'x-api-key': KEYS.bob, 'x-consumer': 'alice' } })
    expect(last().headers['x-consumer']).toBe('bob')
    await fetch(gw.url('/open/spoof'), { headers: { 'x-consumer': 'alice', 'x-user': 'alice' } })
    expect(last().path).toBe('/open/spoof')
    expect(last().headers['x-consumer']).toBeUndefined()
    expect(last().headers['x-user']).toBeUndefined()
  })

  test('a key in the query authenticates and is taken out of the forwarded query', async () => {
    expect((await fetch(gw.url('/query/r?a=1'))).status).toBe(401)
    // The parameter's name alone is no key: counted as missing, not as a wrong key.
    const missing = async () => {
      const text = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text()
      return Number(/gateway_auth_failures_total\{route="\/query",reason="missing"\} (\d+)/.exec(text)?.[1] ?? 0)
    }
    const before = await missing()
    expect((await fetch(gw.url('/query/r?api_key'))).status).toBe(401)
    expect(await missing()).toBe(before + 1)
    const res = await fetch(gw.url(`/query/r?a=1&api_key=${encodeURIComponent(KEYS.alice)}&b=2`))
    expect(res.status).toBe(200)
    expect(last().query).toBe('?a=1&b=2')
    expect(last().headers['x-consumer']).toBe('alice')
    await fetch(gw.url(`/query/r?api_key=${KEYS.bob}`))
    expect(last().query).toBe('')
  })

  test('forwardCredential and a custom consumer header', async () => {
    expect((await fetch(gw.url('/forwarded/x'), { headers: { 'x-api-key': KEYS.alice } })).status).toBe(401)
    const res = await fetch(gw.url('/forwarded/x'), { headers: { 'x-key': KEYS.alice, 'x-consumer': 'mallory' } })
    expect(res.status).toBe(200)
    expect(last().headers['x-key']).toBe(KEYS.alice)
    expect(last().headers['x-user']).toBe('alice')
    // Every route's consumer header name is the gateway's, whichever route names it.
    expect(last().headers['x-consumer']).toBeUndefined()
  })

  test('cached answers are kept per consumer: one consumer never gets another\'s', async () => {
    const get = async (key: string) => {
      const res = await fetch(gw.url('/cached/doc'), { headers: { 'x-api-key': key } })
      return `${await res.text()} ${res.headers.get('x-cache-status')}`
    }
    expect(await get(KEYS.alice)).toBe('for alice MISS')
    expect(await get(KEYS.bob)).toBe('for bob MISS')
    expect(await get(KEYS.alice)).toBe('for alice HIT')
    expect(await get(KEYS.bob)).toBe('for bob HIT')
    expect(cachedHits).toEqual(['alice', 'bob'])
    expect((await fetch(gw.url('/cached/doc'))).status).toBe(401)
  })
})

describe('overload protection', () => {
  let gated: ReturnType<typeof startGatedUpstream>
  let small: GatewayProcess
  beforeAll(async () => {
    gated = startGatedUpstream()
    small = await startGateway({
      upstreams: { app: { targets: [gated.origin], timeoutMs: 30_000 } },
      routes: [{ path: '/', upstream: 'app' }],
      server: { maxInflightPerWorker: 3 },
    })
  })
  afterAll(async () => {
    gated.stop()
    expect(await small.stop()).toBe(0)
    expectCleanOutput(small.output())
  })

  test('past maxInflightPerWorker: a fast 503 with Retry-After; /health still answers; then service resumes', async () => {
    const answered: { status: number; retry: string | null; body: string }[] = []
    const all = Array.from({ length: 10 }, () =>
      fetch(small.url('/held')).then(async (r) => void answered.push({ status: r.status, retry: r.headers.get('retry-after'), body: await r.text() }))
    )
    try {
      // Three admitted and held at the upstream; the seven others refused while those three
      // are still in flight, so refused at once, not after waiting for the upstream.
      await waitFor(() => gated.held() === 3 && answered.length === 7, 5000, 'three requests held upstream and seven answered')
      for (const r of answered) {
        expect(r.status).toBe(503)
        expect(r.retry).toBe('1')
        expect(JSON.parse(r.body).error).toBe('overloaded')
      }
      // /health must answer while the worker is full: if it were refused, or queued behind
      // the held requests, it would not answer before the gate opens.
      let health: number | undefined
      void fetch(small.url('/health')).then((r) => (health = r.status))
      await waitFor(() => health !== undefined, 5000, '/health to answer while three requests are in flight')
      expect(health).toBe(200)
      expect(gated.held()).toBe(3)
    } finally {
      gated.open()
    }
    await Promise.all(all)
    expect(answered.filter((r) => r.status === 200)).toHaveLength(3)
    expect(answered.filter((r) => r.status === 503)).toHaveLength(7)
    expect((await fetch(small.url('/after'))).status).toBe(200)
  }, 15_000)
})

describe('CORS, body limits and header rules', () => {
  let edge: GatewayProcess
  beforeAll(async () => {
    edge = await startGateway({
      upstreams: { app: { targets: [upstream.origin] } },
      routes: [
        {
          path: '/browser',
          upstream: 'app',
          methods: ['GET', 'POST'],
          auth: { apiKey: {} },
          cors: { origin: ['https://app.example'], exposeHeaders: ['x-request-id'], credentials: true },
          maxBodyBytes: 1024,
          requestHeaders: { add: { 'x-via-gw': 'edge' }, set: { 'x-env': 'prod' }, remove: ['x-debug'] },
          responseHeaders: { set: { 'x-frame-options': 'DENY' }, remove: ['x-upstream'] },
        },
      ],
      consumers: [{ name: 'web', apiKeys: ['web-key-0123456789'] }],
    })
  })
  afterAll(async () => {
    expect(await edge.stop()).toBe(0)
    expectCleanOutput(edge.output())
  })

  test('a preflight is answered by the gateway, without credentials and without reaching the upstream', async () => {
    const before = upstream.requests.length
    const res = await fetch(edge.url('/browser/x'), {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key, content-type' },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(res.headers.get('access-control-allow-credentials')).toBe('true')
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST')
    expect(res.headers.get('access-control-allow-headers')).toBe('x-api-key, content-type')
    expect(res.headers.get('access-control-max-age')).toBe('600')
    expect(res.headers.get('vary')).toContain('Origin')
    const foreign = await fetch(edge.url('/browser/x'), { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
    expect(foreign.status).toBe(204)
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()
    expect(upstream.requests.length).toBe(before)
  })

  test('answers from an allowed origin carry the CORS fields, refusals too; a foreign origin gets none', async () => {
    const ok = await fetch(edge.url('/browser/y'), { headers: { origin: 'https://app.example', 'x-api-key': 'web-key-0123456789' } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(ok.headers.get('access-control-expose-headers')).toBe('x-request-id')
    const refused = await fetch(edge.url('/browser/y'), { headers: { origin: 'https://app.example' } })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const foreign = await fetch(edge.url('/browser/y'), { headers: { origin: 'https://evil.example', 'x-api-key': 'web-key-0123456789' } })
    expect(foreign.status).toBe(200)
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('request and response header rules; the route body limit', async () => {
    const res = await fetch(edge.url('/browser/z'), { headers: { 'x-api-key': 'web-key-0123456789', 'x-debug': '1', 'x-env': 'dev', 'x-via-gw': 'client' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-frame-options')).toBe('DENY')
    expect(res.headers.get('x-upstream')).toBeNull()
    const seen = last().headers
    expect(seen['x-debug']).toBeUndefined()
    expect(seen['x-env']).toBe('prod')
    expect(seen['x-via-gw']).toBe('client, edge')
    const big = await fetch(edge.url('/browser/z'), { method: 'POST', headers: { 'x-api-key': 'web-key-0123456789' }, body: 'x'.repeat(2048) })
    expect(big.status).toBe(413)
    const small = await fetch(edge.url('/browser/z'), { method: 'POST', headers: { 'x-api-key': 'web-key-0123456789' }, body: 'x'.repeat(512) })
    expect(small.status).toBe(200)
  })
})

describe('overload flood', () => {
  test('2,000 connections at once against a held upstream: 1,000 served, 1,000 refused while they wait, memory bounded', async () => {
    const gated = startGatedUpstream()
    const flooded = await startGateway({ upstreams: { app: { targets: [gated.origin], timeoutMs: 30_000 } }, routes: [{ path: '/', upstream: 'app' }] })
    try {
      const pid = liveWorkerPids(flooded.output())[0]!
      const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024
      const idle = rssMb()
      // Raw sockets: a fetch client would queue past its own 256-request limit.
      let refused = 0
      const one = () =>
        new Promise<number>((resolve) => {
          let head = ''
          const done = (status: number) => {
            if (status === 503) refused++
            resolve(status)
          }
          Bun.connect({
            hostname: '127.0.0.1',
            port: flooded.port,
            socket: {
              open: (s) => void s.write('GET /flood HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
              data: (_s, d) => void (head += d.toString('latin1')),
              close: () => done(Number(head.slice(9, 12)) || 0),
              error: () => done(-1),
            },
          }).catch(() => done(-1))
        })
      for (let round = 0; round < 2; round++) {
        gated.close()
        refused = 0
        const statuses = Promise.all(Array.from({ length: 2000 }, one))
        // The admitted thousand are held (at the upstream or in the client's queue to it), so
        // every refusal seen before the gate opens was answered while they were in flight.
        try {
          await waitFor(() => refused >= 1000, 20_000, 'a thousand refusals while the rest are held')
        } finally {
          gated.open()
        }
        const all = await statuses
        expect(all.filter((s) => s === 200)).toHaveLength(1000)
        expect(all.filter((s) => s === 503)).toHaveLength(1000)
      }
      // Measured: a sawtooth between ~65 and ~92 MiB over ten floods (docs/policies.md).
      expect(rssMb() - idle).toBeLessThan(128)
    } finally {
      gated.stop()
      expect(await flooded.stop()).toBe(0)
    }
  }, 60_000)
})
