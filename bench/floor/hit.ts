/**
 * The floor for `cache-hit`: the leanest cache hit Bun can serve. A Map lookup by URL and a
 * Response with the headers the gateway's hit carries (content-type, cache-control and age
 * from the stored answer, x-cache-status, a fresh x-request-id; Bun adds content-length and
 * date). A miss fetches the upstream and stores the answer, whatever it says: no freshness,
 * no Vary, no size limits, no eviction.
 *
 *   bun bench/floor/hit.ts --port 0 --upstream http://127.0.0.1:PORT [--workers 2]
 */
import { floorOptions, runFloor } from './cluster.ts'

interface Stored {
  body: Uint8Array
  contentType: string
  cacheControl: string
  storedAt: number
}

const { upstream } = floorOptions()
const cache = new Map<string, Stored>()

async function fill(req: Request): Promise<Response> {
  const res = await fetch(upstream + req.url.slice(req.url.indexOf('/', 8)))
  const stored: Stored = {
    body: new Uint8Array(await res.arrayBuffer()),
    contentType: res.headers.get('content-type') ?? 'application/octet-stream',
    cacheControl: res.headers.get('cache-control') ?? '',
    storedAt: Date.now(),
  }
  cache.set(req.url, stored)
  return answer(stored, 'MISS')
}

function answer(stored: Stored, status: 'HIT' | 'MISS'): Response {
  return new Response(stored.body, {
    headers: {
      'content-type': stored.contentType,
      'cache-control': stored.cacheControl,
      age: String(Math.floor((Date.now() - stored.storedAt) / 1000)),
      'x-cache-status': status,
      'x-request-id': crypto.randomUUID(),
    },
  })
}

function hit(req: Request): Response | Promise<Response> {
  const stored = cache.get(req.url)
  return stored ? answer(stored, 'HIT') : fill(req)
}

await runFloor(import.meta.path, (port) => Bun.serve({ hostname: '127.0.0.1', port, reusePort: true, development: false, fetch: hit }))
