/** The bench's fixture upstream, in its own process: a small JSON body on every path. */
const BODY = JSON.stringify({ id: 42, name: 'bench', tags: ['a', 'b'] })
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(Bun.argv[2] ?? 0),
  reusePort: false,
  development: false,
  fetch: () => new Response(BODY, { headers: { 'content-type': 'application/json' } }),
})
process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.port })}\n`)
process.on('SIGTERM', () => process.exit(0))
