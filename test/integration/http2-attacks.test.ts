/**
 * The known HTTP/2 attacks against a live gateway (`server.h2c`), each sent frame by frame
 * with the raw client: rapid reset (CVE-2023-44487), CONTINUATION flood (CVE-2024-27316),
 * HPACK bombs, more streams than SETTINGS_MAX_CONCURRENT_STREAMS, and a body that never
 * comes. Bun's h2 server does the defending for the first four (docs/proxying.md, "HTTP/2");
 * the gateway's upstream deadline ends the last. For each: what stops it, and that the worker
 * survives (same pid), another client is answered while it runs and after, and the worker's
 * memory stays bounded.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { events, expectCleanOutput, liveWorkerPids, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { connectH2, data, frame, FLAG, FRAME, H2_ERROR, headers, hpack, requestBlock, rstStream, SETTING } from '../fixtures/h2.ts'
import { configFor, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

/** Worker RSS may grow by this much under an attack (a leak per stream would pass it many times over). */
const RSS_GROWTH_MIB = 192
const TIMEOUT_MS = 1500
const MAX_INFLIGHT = 300

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  // maxInflightPerWorker above the 256 streams of one connection, below the ~1,000 resets Bun allows one.
  gw = await startGateway({
    ...configFor(upstream.origin, { server: { h2c: true, maxHeaderBytes: 2048, maxUrlBytes: 1024, maxInflightPerWorker: MAX_INFLIGHT }, upstream: { timeoutMs: TIMEOUT_MS } }),
    metrics: { enabled: true },
  })
})

beforeEach(() => {
  upstream.requests.length = 0
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  expectCleanOutput(gw.output())
})

function workerPid(): number {
  const pids = liveWorkerPids(gw.output())
  expect(pids).toHaveLength(1)
  return pids[0]!
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

/** Another client (curl over h2, its own process): the status it got. */
async function otherClient(): Promise<number> {
  const proc = Bun.spawn(['curl', '-s', '-m', '5', '--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', gw.url('/other')], { stdout: 'pipe' })
  return Number(await new Response(proc.stdout).text())
}

/**
 * Runs `round` again and again until another client has been answered and at least
 * `minRounds` ran, so the answer came while the attack went on; then checks the worker.
 */
async function underAttack(minRounds: number, round: (i: number) => Promise<void>): Promise<number> {
  const pid = workerPid()
  const before = rssMiB(pid)
  let answered = false
  const during = otherClient().finally(() => (answered = true))
  let rounds = 0
  while (!answered || rounds < minRounds) await round(rounds++)
  expect(await during).toBe(200)
  expect(await otherClient()).toBe(200)
  expect(workerPid()).toBe(pid)
  expect(events(gw.output(), 'worker_exit')).toEqual([])
  expect(rssMiB(pid)).toBeLessThan(before + RSS_GROWTH_MIB)
  return rounds
}

describe('HTTP/2 attacks on a live gateway', () => {
  test('rapid reset (CVE-2023-44487): HEADERS + RST_STREAM pairs get GOAWAY(ENHANCE_YOUR_CALM) long before the last', async () => {
    const PAIRS = 5000
    // One real request in the burst, after more reset streams than maxInflightPerWorker.
    const LEGIT = 1 + 2 * (MAX_INFLIGHT + 100)
    const burst = Buffer.concat(
      Array.from({ length: PAIRS }, (_, i) => {
        const id = 1 + 2 * i
        return id === LEGIT ? [headers(id, requestBlock('/legit'))] : [headers(id, requestBlock('/reset')), rstStream(id)]
      }).flat()
    )
    const goaways: ({ lastStream: number; code: number } | undefined)[] = []
    const legit: (number | undefined)[] = []
    const rounds = await underAttack(5, async () => {
      const client = await connectH2(gw.port)
      await client.write(burst)
      // Not refused: the reset streams before it are never counted in flight. (Its answer is
      // usually lost with the connection, which Bun closes at the GOAWAY.)
      legit.push((await client.response(LEGIT, 2000).catch(() => undefined))?.status)
      // The server ends the connection. Its GOAWAY can be lost: closing with our bytes unread
      // makes the kernel send a TCP reset, which drops what we had not read yet.
      await client.waitClosed()
      goaways.push(client.goaway)
    })
    expect(legit.filter((status) => status !== undefined && status !== 200)).toEqual([])
    const seen = goaways.filter((g) => g !== undefined)
    expect(seen.length).toBeGreaterThan(0)
    for (const goaway of seen) {
      expect(goaway.code).toBe(H2_ERROR.ENHANCE_YOUR_CALM)
      // Bun counts resets per connection and stops after about 2,000 of the 5,000 streams.
      expect(goaway.lastStream).toBeLessThan(PAIRS)
    }
    // The gateway waits one event-loop turn before sending upstream (upstream/forward.ts): by then
    // the reset is known, so the ~1,000 cancelled streams of each connection end as 499 without
    // touching the upstream pool. Sent, they filled it: a 503 overloaded for each one past it.
    expect(upstream.requests.filter((r) => r.path === '/reset').length).toBeLessThan(rounds * 10)
    const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text()
    expect(metrics).toMatch(/gateway_http_requests_total\{[^}]*status="499"/)
    expect(metrics).not.toMatch(/gateway_http_requests_total\{[^}]*status="503"/)
  })

  test('CONTINUATION flood (CVE-2024-27316): a header block without END_HEADERS is cut off, nothing is forwarded', async () => {
    const CHUNK = Buffer.concat(Array.from({ length: 16 }, () => frame(FRAME.CONTINUATION, 0, 1, hpack.literal('x-flood', 'f'.repeat(16_000)))))
    await underAttack(10, async () => {
      const client = await connectH2(gw.port)
      await client.write(frame(FRAME.HEADERS, 0, 1, requestBlock('/flood')))
      // Up to 64 MiB unless the server closes first.
      for (let i = 0; i < 256 && (await client.write(CHUNK)); i++);
      await client.waitClosed()
      expect(client.written).toBeLessThan(8 * 1024 * 1024)
    })
    expect(upstream.requests.filter((r) => r.path !== '/other')).toEqual([])
  })

  test('HPACK bombs: a field repeated by index past the limit, a table size over SETTINGS_HEADER_TABLE_SIZE, a small bomb over the gateway limit', async () => {
    const bomb = Buffer.concat([requestBlock('/bomb'), hpack.indexing('x-big', 'b'.repeat(4000)), ...Array.from({ length: 20_000 }, () => hpack.indexed(62))])
    const frames = Buffer.concat(
      Array.from({ length: Math.ceil(bomb.length / 16_384) }, (_, i) => {
        const last = (i + 1) * 16_384 >= bomb.length
        return frame(i === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, (i === 0 ? FLAG.END_STREAM : 0) | (last ? FLAG.END_HEADERS : 0), 1, bomb.subarray(i * 16_384, (i + 1) * 16_384))
      })
    )
    await underAttack(20, async () => {
      // 24 KB on the wire that would decode to 80 MB.
      const client = await connectH2(gw.port)
      await client.write(frames)
      await client.waitClosed()
      expect(client.goaway?.code).toBe(H2_ERROR.ENHANCE_YOUR_CALM)
    })
    const resized = await connectH2(gw.port)
    await resized.write(headers(1, Buffer.concat([hpack.tableSize(1 << 20), requestBlock('/table')])))
    await resized.waitClosed()
    expect(resized.goaway?.code).toBe(H2_ERROR.COMPRESSION_ERROR)
    // 3 KB decoded: under Bun's limit, over maxHeaderBytes, so the gateway's own 431.
    const small = await connectH2(gw.port)
    await small.write(headers(1, Buffer.concat([requestBlock('/small'), hpack.indexing('x-big', 'b'.repeat(1000)), hpack.indexed(62), hpack.indexed(62)])))
    const answer = await small.response(1)
    expect(answer.status).toBe(431)
    expect(JSON.parse(answer.body.toString()).error).toBe('header_fields_too_large')
    small.close()
    expect(upstream.requests.filter((r) => r.path !== '/other')).toEqual([])
  })

  test('more streams than SETTINGS_MAX_CONCURRENT_STREAMS: the extra ones are refused (REFUSED_STREAM), the rest answered', async () => {
    const client = await connectH2(gw.port)
    await client.request(1, '/first')
    await client.response(1)
    const max = client.serverSettings.get(SETTING.MAX_CONCURRENT_STREAMS)!
    expect(max).toBe(256)
    const extra = 44
    const ids = Array.from({ length: max + extra }, (_, i) => 3 + 2 * i)
    await underAttack(1, async () => {
      await client.write(Buffer.concat(ids.map((id) => headers(id, requestBlock('/slow?ms=300')))))
      await Promise.all(ids.map((id) => client.response(id)))
    })
    const answers = ids.map((id) => client.streams.get(id)!)
    expect(answers.filter((a) => a.status === 200)).toHaveLength(max)
    expect(answers.filter((a) => a.reset === H2_ERROR.REFUSED_STREAM)).toHaveLength(extra)
    client.close()
  })

  test('a body that never comes ends in 504 at the upstream deadline, even on a connection kept busy with PINGs', async () => {
    await underAttack(1, async () => {
      const client = await connectH2(gw.port)
      await client.write(Buffer.concat([headers(1, requestBlock('/upload', { method: 'POST', headers: [['content-length', '100']] }), false), data(1, 'x'.repeat(10))]))
      // PINGs keep Bun's idle timer from firing: only the gateway's deadline can end the stream.
      const pings = setInterval(() => void client.write(frame(FRAME.PING, 0, 0, Buffer.alloc(8))), 200)
      try {
        const answer = await client.response(1, TIMEOUT_MS + 3000)
        expect(answer.status).toBe(504)
        expect(JSON.parse(answer.body.toString()).error).toBe('gateway_timeout')
      } finally {
        clearInterval(pings)
        client.close()
      }
    })
    await waitFor(() => upstream.requests.every((r) => r.path !== '/upload' || r.aborted), 2000, 'the upstream request to be aborted')
  })
})
