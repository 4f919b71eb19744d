import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { waitFor } from '../fixtures/process.ts'
import { rawRequest, statusOf } from '../fixtures/raw.ts'
import { GZIP_TEXT, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let other: RecordingUpstream
let gated: GatedUpstream
let gw: GatewayProcess

/** How long the gated upstream waits for the client to acknowledge a chunk before giving up. */
const GATE_DEADLINE_MS = 5000

interface GatedUpstream {
  readonly origin: string
  /** Set when a chunk was not acknowledged within GATE_DEADLINE_MS. */
  readonly gaveUp: boolean
  /** The client has read chunk `i`: the upstream may send chunk `i + 1`. */
  acknowledge(i: number): void
  stop(): void
}

/**
 * Streams `chunk 0..2`, each one only once the client has acknowledged reading the one before.
 * A gateway that buffered the body would never pass chunk 0 on, so it is never acknowledged:
 * after GATE_DEADLINE_MS the upstream gives up, says so in the body, and ends it.
 */
function startGatedUpstream(): GatedUpstream {
  let acknowledged = 0
  let gaveUp = false
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    development: false,
    idleTimeout: 30,
    fetch() {
      acknowledged = 0
      gaveUp = false
      return new Response(
        (async function* () {
          for (let i = 0; i < 3; i++) {
            yield `chunk ${i}\n`
            if (i === 2) return
            try {
              await waitFor(() => acknowledged > i, GATE_DEADLINE_MS, `chunk ${i} to reach the client`)
            } catch {
              gaveUp = true
              yield `upstream gave up: chunk ${i} not read by the client within ${GATE_DEADLINE_MS} ms\n`
              return
            }
          }
        })()
      )
    },
  })
  return {
    origin: `http://127.0.0.1:${server.port}`,
    get gaveUp() {
      return gaveUp
    },
    acknowledge: (i) => void (acknowledged = Math.max(acknowledged, i + 1)),
    stop: () => void server.stop(true),
  }
}

beforeAll(async () => {
  upstream = startRecordingUpstream()
  other = startRecordingUpstream()
  gated = startGatedUpstream()
  gw = await startGateway({
    upstreams: {
      app: { targets: [upstream.origin] },
      other: { targets: [`${other.origin}/base/`] },
      gated: { targets: [gated.origin] },
    },
    routes: [
      { path: '/gated', upstream: 'gated' },
      { path: '/api', upstream: 'app', stripPrefix: true },
      { path: '/api/v2', upstream: 'other' },
      { path: '/readonly', upstream: 'app', methods: ['GET'] },
      { path: '/hosted', upstream: 'other', host: 'API.example.com' },
      { path: '/', upstream: 'app' },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  other.stop()
  gated.stop()
  expectCleanOutput(gw.output())
})

const last = (u: RecordingUpstream) => u.requests.at(-1)!

describe('proxy pass', () => {
  test('forwards the normalised path and the query as received, with the upstream answer', async () => {
    const res = await fetch(gw.url('/plain/caf%C3%A9/a%20b/c?x=1&y=%20z&x=2'))
    expect(res.status).toBe(200)
    expect(res.headers.get('x-upstream')).toBe('recording')
    expect(last(upstream).path).toBe('/plain/caf%C3%A9/a%20b/c')
    expect(last(upstream).query).toBe('?x=1&y=%20z&x=2')
  })

  test('strips the route prefix when configured', async () => {
    await (await fetch(gw.url('/api/users/7?q=1'))).text()
    expect(last(upstream).path).toBe('/users/7')
    expect(last(upstream).query).toBe('?q=1')
    await (await fetch(gw.url('/api'))).text()
    expect(last(upstream).path).toBe('/')
  })

  test('the longest prefix wins, on whole segments, and a target base path is kept', async () => {
    await (await fetch(gw.url('/api/v2/items'))).text()
    expect(last(other).path).toBe('/base/api/v2/items')
    await (await fetch(gw.url('/api/v20'))).text()
    expect(last(upstream).path).toBe('/v20')
  })

  test('dot segments are resolved before matching, so they cannot climb out of a route', async () => {
    const before = other.requests.length
    await (await fetch(gw.url('/api/v2/../../hosted/x'))).text()
    expect(other.requests.length).toBe(before)
    expect(last(upstream).path).toBe('/hosted/x')
  })

  test('host routes match on Host, case-insensitively and without port', async () => {
    const res = await fetch(gw.url('/hosted/x'), { headers: { host: 'api.EXAMPLE.com:8443' } })
    await res.text()
    expect(last(other).path).toBe('/base/hosted/x')
    await (await fetch(gw.url('/hosted/y'))).text()
    expect(last(upstream).path).toBe('/hosted/y')
  })

  test('unlisted methods get 405 with Allow; HEAD is implied by GET', async () => {
    const res = await fetch(gw.url('/readonly/x'), { method: 'DELETE' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
    expect((await fetch(gw.url('/readonly/x'), { method: 'HEAD' })).status).toBe(200)
  })

  test('a 200 KiB POST streams through intact', async () => {
    const body = crypto.getRandomValues(new Uint8Array(200 * 1024))
    const res = await fetch(gw.url('/upload'), { method: 'POST', body })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { bodyBytes: number }).bodyBytes).toBe(body.byteLength)
    expect(last(upstream).bodySha).toBe(new Bun.CryptoHasher('sha256').update(body).digest('hex'))
    expect(last(upstream).headers['content-length']).toBe(String(body.byteLength))
  })

  test('a chunked POST of unknown length streams through', async () => {
    const parts = ['alpha-', 'beta-', 'gamma']
    const stream = new ReadableStream({
      async pull(c) {
        const next = parts.shift()
        if (next === undefined) c.close()
        else {
          await Bun.sleep(20)
          c.enqueue(new TextEncoder().encode(next))
        }
      },
    })
    const res = await fetch(gw.url('/chunked'), { method: 'PUT', body: stream, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(200)
    expect(last(upstream).bodyBytes).toBe('alpha-beta-gamma'.length)
  })

  test('gzip passes through untouched and the client can decode it', async () => {
    const res = await fetch(gw.url('/gzip'), { headers: { 'accept-encoding': 'gzip' }, decompress: false } as RequestInit)
    expect(res.headers.get('content-encoding')).toBe('gzip')
    expect(last(upstream).headers['accept-encoding']).toBe('gzip')
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(GZIP_TEXT)
  })

  test('without Accept-Encoding from the client, none is sent upstream', async () => {
    const reply = await rawRequest(gw.port, 'GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    expect(statusOf(reply)).toBe(200)
    expect(last(upstream).headers['accept-encoding']).toBeUndefined()
  })

  test('a 302 is passed through, not followed', async () => {
    const res = await fetch(gw.url('/redirect'), { redirect: 'manual' })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/elsewhere')
  })

  test('upstream error statuses pass through unchanged', async () => {
    const res = await fetch(gw.url('/status/503'))
    expect(res.status).toBe(503)
    expect(await res.text()).toBe('status 503')
  })

  test('a streamed response arrives in pieces, not buffered', async () => {
    // The upstream produces chunk i + 1 only after the client has read chunk i. Streaming, each
    // read sees exactly the chunks sent so far; buffering, chunk 0 never arrives on its own, the
    // upstream gives up after GATE_DEADLINE_MS, and the body says so. A causal order, no clock.
    const res = await fetch(gw.url('/gated/stream'))
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    let expected = ''
    for (let i = 0; i < 3; i++) {
      expected += `chunk ${i}\n`
      while (!text.includes(`chunk ${i}\n`)) {
        const { done, value } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
      }
      expect(text).toBe(expected)
      gated.acknowledge(i)
    }
    expect((await reader.read()).done).toBe(true)
    expect(gated.gaveUp).toBe(false)
  }, 15_000)

  test('fields the upstream sent more than once all reach the client: each Set-Cookie, and a list', async () => {
    const res = await fetch(gw.url('/cookies'))
    expect(await res.text()).toBe('cookies')
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/'])
    expect(res.headers.get('x-list')).toBe('one, two')
    expect(res.headers.get('content-type')).toBe('text/plain')
  })

  test('HEAD returns headers and no body', async () => {
    const res = await fetch(gw.url('/plain'), { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('')
    expect(last(upstream).method).toBe('HEAD')
  })
})
