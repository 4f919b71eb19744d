/**
 * What the benches that measure the gateway's own code in process share (bench:ledger,
 * bench:builds): the upstream without a socket, the native client's own Connection (the
 * request head written, the parser, the response) over a socket that is not one, whose
 * writes are dropped and whose recorded answer arrives a microtask later (`Connection` is
 * passed in, so bench:builds can give each checkout its own); the loop that serves
 * requests one after another and reads the CPU they cost; and the one that counts the heap
 * cells they leave (bench:ledger --allocations, bench/allocations.ts).
 */
import type { Socket } from 'bun'
import { heapStats } from 'bun:jsc'
import type { Connection } from '../src/upstream/native/connection.ts'
import type { UpstreamClient } from '../src/upstream/types.ts'

const BODY = JSON.stringify({ id: 42, name: 'bench', tags: ['a', 'b'] })
/** What the fixture upstream (bench/fixture-upstream.ts) answers, byte for byte; a Buffer, as a socket hands it over. */
const answerOf = (cacheable: boolean) =>
  Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${cacheable ? 'cache-control: public, max-age=600\r\n' : ''}Date: ${new Date().toUTCString()}\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`)
/** To GET /small. */
export const ANSWER = answerOf(false)
/** To GET /cached/...: public, max-age=600. */
export const CACHEABLE = answerOf(true)
export const RECORDED_BODY = BODY

type ConnectionClass = new (socket: Socket<Connection>, owner: { release(c: Connection): void; closed(c: Connection): void }) => Connection

/** What Bun.serve hands the app as `env`, for an app served in process: requestIP answers like a loopback client's. */
export const LOOPBACK_SERVER = { requestIP: () => ({ address: '127.0.0.1', family: 'IPv4' as const, port: 40000 }), timeout() {} }

/** A base client that answers a path under /cached with CACHEABLE, any other with ANSWER. */
export function recordedClient(ConnectionOf: ConnectionClass): UpstreamClient {
  let answer = ANSWER
  const socket = {
    write(data: Uint8Array | string) {
      const bytes = answer
      queueMicrotask(() => connection.onData(bytes))
      return typeof data === 'string' ? data.length : data.byteLength
    },
    terminate() {},
  }
  const connection = new ConnectionOf(socket as unknown as Socket<Connection>, { release() {}, closed() {} })
  const options = { maxHeaderBytes: 65536, bufferBytes: 65536, authority: '127.0.0.1:9', basePath: '' }
  return {
    send(request) {
      answer = request.path.startsWith('/cached') ? CACHEABLE : ANSWER
      return connection.exchange(request, options)
    },
    closeIdle() {},
    checksHeads: true,
  }
}

/**
 * Requests answered between two turns of the event loop. A loop of awaits on settled promises
 * never yields to it: timers and setImmediate would not run until the round ends, so what the
 * gateway does there (the tracing exporter's batches, the shared tier's commits, the deadline
 * wheel) would be left out or piled up. A server under load answers a handful of requests a
 * turn (the sockets epoll reported ready), then the loop runs its timers: so does this.
 */
const REQUESTS_PER_TURN = 16
type Serve = (req: Request) => Response | Promise<Response>
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The GET the loops below serve: of `path`, or of a new path each; wrk's fields and any `headers` more. */
function requests(path: string | (() => string), headers: Record<string, string> = {}): () => Request {
  const url = typeof path === 'string' ? () => `http://127.0.0.1:8080${path}` : () => `http://127.0.0.1:8080${path()}`
  const init = { headers: { host: '127.0.0.1:8080', 'user-agent': 'wrk', ...headers } }
  return () => new Request(url(), init)
}

/** Serves `count` GETs of `path` (or of a new path each) one after another, each answer read whole: the mean CPU of one, µs. */
export function cpuPerRequest(serve: Serve, path: string | (() => string), count: number): Promise<number> {
  return cpuOfRequests(serve, requests(path), count)
}

/** Serves `count` requests made by `make` (given each one's index) one after another, each answer a 200 read whole: the mean CPU of one, µs. */
export async function cpuOfRequests(serve: Serve, make: (i: number) => Request, count: number): Promise<number> {
  const started = process.cpuUsage()
  for (let i = 0; i < count; i++) {
    const req = make(i)
    const res = await serve(req)
    if (res.status !== 200) throw new Error(`${req.url}: ${res.status}`)
    await res.arrayBuffer()
    if (i % REQUESTS_PER_TURN === REQUESTS_PER_TURN - 1) await nextTurn()
  }
  const used = process.cpuUsage(started)
  return (used.user + used.system) / count
}

/**
 * What one request leaves on the heap, by JavaScriptCore's cell type (`heapStats()`): the
 * counts after `count` requests served one after another, less those before, with no
 * collection in between (a full one just before; `count` small enough that no eden
 * collection falls among them), per request. The median of five tries, so a try that a
 * collection cut short does not count. Exact, not timed: each closure, promise, lexical
 * environment or string a request makes is one here, whatever the machine's load.
 */
export async function allocationsPerRequest(
  serve: Serve,
  path: string | (() => string),
  { count = 500, headers = {} }: { count?: number; headers?: Record<string, string> } = {}
): Promise<Map<string, number>> {
  const request = requests(path, headers)
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) await (await serve(request())).arrayBuffer()
  }
  // Warm: the JIT's tiers, the pools, the caches (a hit's entry is stored by the first request).
  await run(20_000)
  const tries: Map<string, number>[] = []
  for (let t = 0; t < 5; t++) {
    Bun.gc(true)
    const before = heapStats().objectTypeCounts
    await run(count)
    const after = heapStats().objectTypeCounts
    const perRequest = new Map<string, number>()
    for (const [type, n] of Object.entries(after)) perRequest.set(type, (n - (before[type] ?? 0)) / count)
    tries.push(perRequest)
  }
  const types = new Set(tries.flatMap((m) => [...m.keys()]))
  const medians = new Map<string, number>()
  for (const type of types) {
    const m = tries.map((perRequest) => perRequest.get(type) ?? 0).sort((a, b) => a - b)[2]!
    if (Math.abs(m) >= 0.05) medians.set(type, m)
  }
  return medians
}
