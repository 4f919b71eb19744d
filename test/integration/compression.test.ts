/**
 * Response compression through the real start path, against a real upstream on loopback:
 * what arrives is decoded with zlib's decompressors and compared with what the upstream sent.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import * as zlib from 'node:zlib'
import type { Server } from 'bun'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { rawRequest } from '../fixtures/raw.ts'

type Coding = 'zstd' | 'br' | 'gzip'

function decode(coding: string | null, bytes: Uint8Array): string {
  if (coding === 'gzip') return zlib.gunzipSync(bytes).toString()
  if (coding === 'br') return zlib.brotliDecompressSync(bytes).toString()
  if (coding === 'zstd') return zlib.zstdDecompressSync(bytes).toString()
  return new TextDecoder().decode(bytes)
}

/** A compressible body of exactly `bytes` bytes, the same for the same length. */
const bodyOf = (bytes: number) => {
  let text = ''
  for (let i = 0; text.length < bytes; i++) text += `{"id":${i},"name":"item ${i}","tags":["a","b"]},`
  return text.slice(0, bytes)
}

/** Weak comparison (RFC 9110 §8.8.3.2), as If-None-Match wants. */
const opaque = (tag: string) => tag.trim().replace(/^W\//, '')

interface Seen {
  path: string
  acceptEncoding: string | null
  ifNoneMatch: string | null
}

/** The upstream: `/body?bytes=&type=&etag=&cache-control=&vary=` and a few special paths. */
function startOrigin() {
  const seen: Seen[] = []
  /** SSE events the test has decoded: the upstream sends the next only after that. */
  const delivered = new Set<number>()
  let sentEarly = false
  const server: Server<undefined> = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    development: false,
    idleTimeout: 30,
    async fetch(req) {
      const url = new URL(req.url)
      const p = url.searchParams
      seen.push({ path: url.pathname, acceptEncoding: req.headers.get('accept-encoding'), ifNoneMatch: req.headers.get('if-none-match') })
      const headers = new Headers({ 'content-type': p.get('type') ?? 'application/json' })
      for (const name of ['etag', 'cache-control', 'vary']) if (p.has(name)) headers.set(name, p.get(name)!)
      const body = bodyOf(Number(p.get('bytes') ?? 4000))
      switch (url.pathname) {
        case '/body': {
          const etag = p.get('etag')
          const inm = req.headers.get('if-none-match')
          if (etag && inm && inm.split(',').some((tag) => opaque(tag) === opaque(etag))) return new Response(null, { status: 304, headers })
          headers.set('accept-ranges', 'bytes')
          // A HEAD says how long the GET's body is, as real servers do.
          if (req.method === 'HEAD') headers.set('content-length', String(body.length))
          return new Response(req.method === 'HEAD' ? null : body, { headers })
        }
        case '/gzipped':
          headers.set('content-encoding', 'gzip')
          return new Response(Bun.gzipSync(new TextEncoder().encode(body)), { headers })
        case '/chunked': {
          const parts = [body.slice(0, body.length / 2), body.slice(body.length / 2)]
          return new Response(new ReadableStream({ pull: (c) => (parts.length ? c.enqueue(new TextEncoder().encode(parts.shift()!)) : c.close()) }), { headers })
        }
        case '/range':
          headers.set('content-range', `bytes 0-1999/${body.length}`)
          return new Response(body.slice(0, 2000), { status: 206, headers })
        case '/empty':
          return new Response(null, { status: 204 })
        case '/sse': {
          const events = Number(p.get('events') ?? 4)
          let i = 0
          return new Response(
            new ReadableStream({
              async pull(controller) {
                if (i > 0) {
                  // The next event only once the client decoded this one (or after a while, noted).
                  const deadline = Date.now() + 3000
                  while (!delivered.has(i - 1) && Date.now() < deadline) await Bun.sleep(5)
                  if (!delivered.has(i - 1)) sentEarly = true
                }
                if (i === events) return controller.close()
                controller.enqueue(new TextEncoder().encode(`id: ${i}\ndata: {"token":"event ${i}","text":"${'lorem ipsum '.repeat(4)}"}\n\n`))
                i++
              },
            }),
            { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } }
          )
        }
        default:
          return new Response('not found', { status: 404 })
      }
    },
  })
  return {
    origin: `http://127.0.0.1:${server.port}`,
    seen,
    count: (path: string) => seen.filter((s) => s.path === path).length,
    last: (path: string) => seen.findLast((s) => s.path === path)!,
    sse: { delivered, sentEarly: () => sentEarly, reset: () => (delivered.clear(), (sentEarly = false)) },
    stop: () => server.stop(true),
  }
}

let origin: ReturnType<typeof startOrigin>
let gw: GatewayProcess

beforeAll(async () => {
  origin = startOrigin()
  const route = (path: string, extra: Record<string, unknown> = {}) => ({ path, upstream: 'origin', stripPrefix: true, ...extra })
  gw = await startGateway({
    log: { access: true },
    compression: { enabled: true },
    upstreams: { origin: { targets: [origin.origin] }, down: { targets: ['http://127.0.0.1:1'] } },
    routes: [
      route('/c'),
      route('/off', { compression: false }),
      route('/gzip-only', { compression: { encodings: ['gzip'] } }),
      route('/cached', { cache: { enabled: true } }),
      { path: '/down', upstream: 'down', compression: { minBytes: 0 } },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  origin.stop()
  expectCleanOutput(gw.output())
})

async function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(gw.url(path), { method, headers, decompress: false } as RequestInit)
  const bytes = await res.bytes()
  const coding = res.headers.get('content-encoding')
  return { status: res.status, headers: res.headers, bytes, coding, text: coding ? decode(coding, bytes) : new TextDecoder().decode(bytes) }
}

describe('negotiation end to end', () => {
  test.each([
    ['gzip, deflate, br, zstd', '/c', 'zstd'],
    ['gzip, deflate, br', '/c', 'br'],
    ['gzip', '/c', 'gzip'],
    ['br;q=0.5, gzip', '/c', 'gzip'],
    ['zstd, br', '/gzip-only', null],
    ['gzip;q=0, identity', '/c', null],
  ] as const)('Accept-Encoding %p on %s → %p, the bytes decode to what the upstream sent', async (acceptEncoding, prefix, expected) => {
    const res = await get(`${prefix}/body?bytes=5000`, { 'accept-encoding': acceptEncoding })
    expect(res.status).toBe(200)
    expect(res.coding).toBe(expected)
    expect(res.text).toBe(bodyOf(5000))
    expect(res.headers.get('content-length')).toBe(String(res.bytes.byteLength))
    if (expected) expect(res.bytes.byteLength).toBeLessThan(5000 / 3)
    expect(res.headers.get('vary')).toBe('Accept-Encoding')
    // The upstream is asked for the negotiated coding only: what the cache keys on is what it gets.
    expect(origin.last('/body').acceptEncoding).toBe(expected ?? 'identity')
  })

  test('without Accept-Encoding: not compressed, and Vary says another request may differ', async () => {
    const res = await get('/c/body?bytes=5000')
    expect(res.coding).toBeNull()
    expect(res.headers.get('vary')).toBe('Accept-Encoding')
    expect(res.text).toBe(bodyOf(5000))
  })

  test('curl --compressed gets the body', async () => {
    const curl = Bun.spawn(['curl', '-s', '--compressed', '-m', '5', '-D', '-', gw.url('/c/body?bytes=20000')], { stdout: 'pipe' })
    const out = await new Response(curl.stdout).text()
    expect(await curl.exited).toBe(0)
    const split = out.indexOf('\r\n\r\n')
    expect(out.slice(0, split).toLowerCase()).toMatch(/content-encoding: (zstd|br|gzip)/)
    expect(out.slice(split + 4)).toBe(bodyOf(20000))
  })
})

describe('what is never compressed', () => {
  const br = { 'accept-encoding': 'br' }
  test.each([
    ['a body under minBytes', '/c/body?bytes=1000', false],
    ['a type not listed', '/c/body?type=image%2Fpng', false],
    ['Cache-Control: no-transform', '/c/body?cache-control=public%2C%20no-transform', false],
    ['a route with compression: false', '/off/body', false],
  ])('%s', async (_what, path, vary) => {
    const res = await get(path, br)
    expect(res.status).toBe(200)
    expect(res.coding).toBeNull()
    expect(res.text).toBe(bodyOf(path.includes('1000') ? 1000 : 4000))
    expect(res.headers.has('vary')).toBe(vary)
  })

  test('a route with compression: false forwards the client Accept-Encoding as it came', async () => {
    await get('/off/body', { 'accept-encoding': 'gzip, br' })
    expect(origin.last('/body').acceptEncoding).toBe('gzip, br')
  })

  test('a body the upstream encoded passes as it is (never compressed twice)', async () => {
    const res = await get('/c/gzipped?bytes=50000', { 'accept-encoding': 'gzip' })
    expect(res.coding).toBe('gzip')
    expect(res.bytes.byteLength).toBeGreaterThan(1024)
    expect(res.text).toBe(bodyOf(50000))
  })

  test('HEAD: the upstream head as it is', async () => {
    const res = await get('/c/body?bytes=5000', br, 'HEAD')
    expect(res.status).toBe(200)
    expect(res.coding).toBeNull()
    expect(res.headers.get('content-length')).toBe('5000')
    expect(res.headers.has('vary')).toBe(false)
  })

  test('204 and 206 pass untouched', async () => {
    expect((await get('/c/empty', br)).status).toBe(204)
    const partial = await get('/c/range?bytes=5000', br)
    expect(partial.status).toBe(206)
    expect(partial.coding).toBeNull()
    expect(partial.text).toBe(bodyOf(5000).slice(0, 2000))
  })

  test("the gateway's own error JSON is not compressed", async () => {
    const res = await get('/down/x', br)
    expect(res.status).toBe(502)
    expect(res.coding).toBeNull()
    expect(JSON.parse(res.text).error).toBe('bad_gateway')
    expect(res.headers.has('vary')).toBe(false)
  })
})

describe('headers of a compressed answer', () => {
  test('Vary is merged with the upstream one, once', async () => {
    expect((await get('/c/body?vary=Origin', { 'accept-encoding': 'br' })).headers.get('vary')).toBe('Origin, Accept-Encoding')
    expect((await get('/c/body?vary=accept-encoding', { 'accept-encoding': 'br' })).headers.get('vary')).toBe('accept-encoding')
  })

  test('a strong ETag is made weak, Accept-Ranges dropped; a weak one stays as it is', async () => {
    const strong = await get('/c/body?etag=%22v1%22', { 'accept-encoding': 'br' })
    expect(strong.headers.get('etag')).toBe('W/"v1"')
    expect(strong.headers.has('accept-ranges')).toBe(false)
    expect((await get('/c/body?etag=W%2F%22v2%22', { 'accept-encoding': 'br' })).headers.get('etag')).toBe('W/"v2"')
    // Not compressed: the ETag stays strong.
    expect((await get('/c/body?etag=%22v3%22')).headers.get('etag')).toBe('"v3"')
  })

  test("If-None-Match with the weak tag gets a 304 from the upstream, with the tag the client holds", async () => {
    const first = await get('/c/body?etag=%22v4%22&vary=Origin', { 'accept-encoding': 'gzip' })
    const again = await get('/c/body?etag=%22v4%22&vary=Origin', { 'accept-encoding': 'gzip', 'if-none-match': first.headers.get('etag')! })
    expect(again.status).toBe(304)
    expect(origin.last('/body').ifNoneMatch).toBe('W/"v4"')
    expect(again.headers.get('etag')).toBe('W/"v4"')
    expect(again.headers.get('vary')).toBe('Origin, Accept-Encoding')
  })
})

/** The access lines of requests whose path contains `marker`. */
async function accessLines(marker: string): Promise<{ bytes: number }[]> {
  const lines = () => gw.output().split('\n').filter((l) => l.includes('"event":"access"') && l.includes(marker))
  await waitFor(() => lines().length > 0, 5000, 'the access line')
  return lines().map((line) => JSON.parse(line))
}

describe('streamed bodies', () => {
  test('a buffered answer: the access log counts the bytes sent', async () => {
    const res = await get('/c/body?bytes=30000&marker=buffered', { 'accept-encoding': 'gzip' })
    expect(res.coding).toBe('gzip')
    expect(await accessLines('marker=buffered')).toEqual([expect.objectContaining({ bytes: res.bytes.byteLength })])
  })

  test.each(['zstd', 'br', 'gzip'] as const)('%s: a body over 64 KiB streams compressed; the access log counts the bytes sent', async (coding) => {
    const res = await get(`/c/body?bytes=200000&coding=${coding}`, { 'accept-encoding': coding })
    expect(res.coding).toBe(coding)
    expect(res.headers.has('content-length')).toBe(false)
    expect(res.text).toBe(bodyOf(200000))
    expect(await accessLines(`coding=${coding}`)).toEqual([expect.objectContaining({ bytes: res.bytes.byteLength })])
  })

  test('a body of unknown length is compressed', async () => {
    const res = await get('/c/chunked?bytes=300', { 'accept-encoding': 'gzip' })
    expect(res.coding).toBe('gzip')
    expect(res.text).toBe(bodyOf(300))
  })

  test.each(['zstd', 'br', 'gzip'] as const)('%s: each SSE event arrives before the upstream sends the next', async (coding) => {
    origin.sse.reset()
    const res = await fetch(gw.url('/c/sse?events=4'), { headers: { 'accept-encoding': coding }, decompress: false } as RequestInit)
    expect(res.headers.get('content-encoding')).toBe(coding)
    const decoder = coding === 'gzip' ? zlib.createGunzip() : coding === 'br' ? zlib.createBrotliDecompress() : zlib.createZstdDecompress()
    let text = ''
    decoder.on('data', (chunk: Buffer) => (text += chunk.toString()))
    const reader = res.body!.getReader()
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return decoder.end()
        decoder.write(value)
      }
    })()
    for (let i = 0; i < 4; i++) {
      await waitFor(() => text.includes(`"token":"event ${i}"`), 2000, `event ${i} decoded`)
      origin.sse.delivered.add(i)
    }
    await reading
    expect(origin.sse.sentEarly()).toBe(false)
    expect(text.match(/^id: /gm)?.length).toBe(4)
  })
})

describe('with the cache', () => {
  const compressedCount = async (encoding: Coding) => sumOf(await scrape(gw.adminPort), 'gateway_compressed_responses_total', { route: '/cached', encoding })

  test('a miss is compressed and stored; hits send the stored bytes without compressing again', async () => {
    const path = '/cached/body?bytes=8000&cache-control=max-age%3D60&k=hits'
    const before = await compressedCount('br')
    const miss = await get(path, { 'accept-encoding': 'br' })
    const hit = await get(path, { 'accept-encoding': 'br' })
    const hit2 = await get(path, { 'accept-encoding': 'gzip, br' })
    expect([miss.headers.get('x-cache-status'), hit.headers.get('x-cache-status'), hit2.headers.get('x-cache-status')]).toEqual(['MISS', 'HIT', 'HIT'])
    for (const res of [miss, hit, hit2]) {
      expect(res.coding).toBe('br')
      expect(res.text).toBe(bodyOf(8000))
    }
    expect(Buffer.from(hit.bytes).equals(Buffer.from(miss.bytes))).toBe(true)
    expect((await compressedCount('br')) - before).toBe(1)
    expect(origin.count('/body')).toBeGreaterThan(0)
  })

  test('variants are keyed by the negotiated coding, not the raw header: one per coding', async () => {
    const path = '/cached/body?bytes=6000&cache-control=max-age%3D60&k=variants'
    const upstreamBefore = origin.seen.length
    const statuses = []
    for (const acceptEncoding of ['gzip, deflate, br', 'br, gzip', 'br;q=1, gzip;q=0.5', 'gzip', 'x-gzip, deflate', 'deflate', 'identity']) {
      const res = await get(path, { 'accept-encoding': acceptEncoding })
      expect(res.text).toBe(bodyOf(6000))
      statuses.push(`${res.coding ?? 'identity'} ${res.headers.get('x-cache-status')}`)
    }
    expect(statuses).toEqual(['br MISS', 'br HIT', 'br HIT', 'gzip MISS', 'gzip HIT', 'identity MISS', 'identity HIT'])
    // Three fetches: one per coding.
    expect(origin.seen.length - upstreamBefore).toBe(3)
  })

  test('the coding is the one the upstream is asked for and the key says, not the raw header (Connection strips it)', async () => {
    const path = '/cached/body?bytes=5000&cache-control=max-age%3D60&k=connection'
    const reply = await rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAccept-Encoding: br\r\nConnection: close, Accept-Encoding\r\n\r\n`)
    expect(reply).toStartWith('HTTP/1.1 200')
    expect(reply.toLowerCase()).not.toContain('content-encoding')
    expect(origin.last('/body').acceptEncoding).toBe('identity')
    // The identity variant it stored is what a client without Accept-Encoding gets.
    const plain = await get(path)
    expect(plain.headers.get('x-cache-status')).toBe('HIT')
    expect(plain.text).toBe(bodyOf(5000))
  })

  test('the cache holds the compressed bytes (they count in its maxBytes)', async () => {
    const bytes = async () => sumOf(await scrape(gw.adminPort), 'gateway_cache_bytes')
    const before = await bytes()
    const res = await get('/cached/body?bytes=60000&cache-control=max-age%3D60&k=size', { 'accept-encoding': 'zstd' })
    expect(res.coding).toBe('zstd')
    const grew = (await bytes()) - before
    expect(grew).toBeGreaterThan(res.bytes.byteLength)
    expect(grew).toBeLessThan(res.bytes.byteLength + 2000)
  })

  test('If-None-Match with the weak tag (or its strong form) gets a 304 from the cache', async () => {
    const path = '/cached/body?bytes=5000&cache-control=max-age%3D60&etag=%22c1%22'
    const first = await get(path, { 'accept-encoding': 'br' })
    expect(first.headers.get('etag')).toBe('W/"c1"')
    for (const tag of ['W/"c1"', '"c1"']) {
      const res = await get(path, { 'accept-encoding': 'br', 'if-none-match': tag })
      expect(res.status).toBe(304)
      expect(res.headers.get('x-cache-status')).toBe('HIT')
      expect(res.headers.get('etag')).toBe('W/"c1"')
    }
  })

  test('a revalidated entry keeps its weak ETag and Vary: Accept-Encoding', async () => {
    const path = '/cached/body?bytes=5000&cache-control=no-cache&etag=%22r1%22&vary=Origin'
    const first = await get(path, { 'accept-encoding': 'gzip' })
    expect(first.headers.get('etag')).toBe('W/"r1"')
    const again = await get(path, { 'accept-encoding': 'gzip' })
    expect(again.headers.get('x-cache-status')).toBe('REVALIDATED')
    expect(origin.last('/body').ifNoneMatch).toBe('W/"r1"')
    expect(again.coding).toBe('gzip')
    expect(again.text).toBe(bodyOf(5000))
    expect(again.headers.get('etag')).toBe('W/"r1"')
    expect(again.headers.get('vary')).toBe('Origin, Accept-Encoding')
  })
})
