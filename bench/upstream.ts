/** The bench's fixture upstream, in its own process: a small JSON body on every path; /cached/* is cacheable. */
const BODY = JSON.stringify({ id: 42, name: 'bench', tags: ['a', 'b'] })
const PLAIN = { 'content-type': 'application/json' }
const CACHEABLE = { ...PLAIN, 'cache-control': 'public, max-age=600' }
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(Bun.argv[2] ?? 0),
  development: false,
  fetch: (req) => new Response(BODY, { headers: req.url.includes('/cached/') ? CACHEABLE : PLAIN }),
})
process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.port })}\n`)
process.on('SIGTERM', () => process.exit(0))
