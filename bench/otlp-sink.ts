/**
 * A stand-in OTLP/HTTP collector for benches: takes every POST, reads its body, answers 200
 * with an empty ExportTraceServiceResponse, and counts bytes. A process of its own, so its
 * CPU is not the measured side's. Prints the gateway's `listening` line shape when ready.
 */
export {}

let requests = 0
let bytes = 0
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.argv[2] ?? 0),
  development: false,
  async fetch(req) {
    if (req.method === 'GET') return Response.json({ requests, bytes })
    bytes += (await req.arrayBuffer()).byteLength
    requests++
    return new Response(new Uint8Array(0), { headers: { 'content-type': 'application/x-protobuf' } })
  },
})
console.log(JSON.stringify({ event: 'listening', port: server.port }))
