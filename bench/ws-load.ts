/**
 * The websocket scenario's load: `connections` Bun WebSocket clients, each sending a 64-byte
 * message and waiting for its echo, again and again, for `seconds`. Prints one JSON line
 * shaped like the HTTP load tools' results (requestsPerSec is messages echoed per second).
 * usage: bun bench/ws-load.ts URL SECONDS CONNECTIONS
 */
export {}

const [url, secondsArg, connectionsArg] = Bun.argv.slice(2)
const seconds = Number(secondsArg ?? 5)
const connections = Number(connectionsArg ?? 64)
const MESSAGE = 'x'.repeat(64)
const latencies: number[] = []
let errors = 0

const open = () =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url!)
    ws.onopen = () => resolve(ws)
    ws.onerror = () => reject(new Error('websocket failed to open'))
  })

const sockets = await Promise.all(Array.from({ length: connections }, open))
const started = performance.now()
const until = started + seconds * 1000
await Promise.all(
  sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        let sentAt = 0
        const send = () => {
          if (performance.now() >= until) return resolve()
          sentAt = performance.now()
          ws.send(MESSAGE)
        }
        ws.onmessage = () => {
          latencies.push(performance.now() - sentAt)
          send()
        }
        ws.onclose = () => {
          errors++
          resolve()
        }
        send()
      })
  )
)
const elapsed = (performance.now() - started) / 1000
for (const ws of sockets) ws.close()
latencies.sort((a, b) => a - b)
const at = (q: number) => (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0) / 1000
console.log(
  JSON.stringify({
    tool: 'bun-ws',
    requestsPerSec: latencies.length / elapsed,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    requests: latencies.length,
    non2xx: 0,
    socketErrors: errors,
  })
)
process.exit(0)
