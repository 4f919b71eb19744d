/**
 * The bench's fixture upstream, in its own process on loopback:
 *   /small        a 52-byte JSON body            /slow   the same after 20 ms
 *   /large        256 KiB                        /gzip   a gzip-encoded JSON body
 *   /cached/...   the small body, cacheable (Cache-Control: public, max-age=600)
 *   /text         a 4 KiB JSON body, cacheable (the compression scenarios)
 *   POST /echo    reads the body, answers with its size
 *   /ws           a WebSocket that echoes every message
 * Every other path answers like /small.
 */
const SMALL = JSON.stringify({ id: 42, name: 'bench', tags: ['a', 'b'] })
const LARGE = new Uint8Array(256 * 1024).fill(120)
const GZIP = Bun.gzipSync(new TextEncoder().encode(JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item-${i}` })) })))
/** A list answer of about 4 KiB, as an API would send: compressible, not repetitive filler. */
const TEXT = JSON.stringify({
  items: Array.from({ length: 36 }, (_, i) => ({ id: 1000 + i, sku: `SKU-${(i * 7919) % 100_000}`, name: `Product ${i} ${['red', 'blue', 'green', 'black'][i % 4]}`, price: ((i * 37) % 10_000) / 100, stock: (i * 13) % 250, updatedAt: new Date(1.7e12 + i * 86_400_000).toISOString() })),
})
const JSON_TYPE = { 'content-type': 'application/json' }
const CACHEABLE = { ...JSON_TYPE, 'cache-control': 'public, max-age=600' }

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(Bun.argv[2] ?? 0),
  development: false,
  websocket: {
    message(ws, message) {
      ws.send(message)
    },
  },
  async fetch(req, server) {
    const path = req.url.slice(req.url.indexOf('/', 8), req.url.indexOf('?') === -1 ? undefined : req.url.indexOf('?'))
    if (path === '/ws' && server.upgrade(req, { data: undefined })) return undefined
    if (path.startsWith('/cached/')) return new Response(SMALL, { headers: CACHEABLE })
    switch (path) {
      case '/slow':
        await Bun.sleep(20)
        return new Response(SMALL, { headers: JSON_TYPE })
      case '/large':
        return new Response(LARGE, { headers: { 'content-type': 'application/octet-stream' } })
      case '/gzip':
        return new Response(GZIP, { headers: { ...JSON_TYPE, 'content-encoding': 'gzip', vary: 'Accept-Encoding' } })
      case '/text':
        return new Response(TEXT, { headers: CACHEABLE })
      case '/echo':
        return Response.json({ bytes: (await req.arrayBuffer()).byteLength })
      default:
        return new Response(SMALL, { headers: JSON_TYPE })
    }
  },
})
process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.port })}\n`)
process.on('SIGTERM', () => process.exit(0))
