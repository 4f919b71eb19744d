/**
 * `bun run bench:memory`: resident memory of a worker, idle and holding N cached 1 KiB
 * entries (issue 10's targets: 60 MiB idle, 100 MiB with 10,000 entries). One worker, so
 * every fill request lands in the cache that is measured.
 *
 *   bun run bench:memory [-- --entries 10000]
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const ROOT = join(import.meta.dir, '..')
const { values } = parseArgs({ args: Bun.argv.slice(2), options: { entries: { type: 'string', default: '10000' } } })
const entries = Number(values.entries)

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

const body = 'x'.repeat(1024)
const origin = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: () => new Response(body, { headers: { 'cache-control': 'public, max-age=600', 'content-type': 'text/plain' } }),
})
const configPath = join(ROOT, '.tmp', 'memory-gateway.json')
await Bun.write(
  configPath,
  JSON.stringify({
    server: { host: '127.0.0.1', port: 0, workers: 1 },
    admin: { port: 0 },
    upstreams: { origin: { targets: [`http://127.0.0.1:${origin.port}`] } },
    routes: [{ path: '/', upstream: 'origin', cache: { enabled: true } }],
  })
)
const gateway = Bun.spawn([process.execPath, 'src/main.ts', '--config', configPath], { cwd: ROOT, stdout: 'pipe', stderr: 'inherit', env: { ...process.env, NODE_ENV: 'production' } })
let text = ''
const reader = gateway.stdout.getReader()
while (!text.includes('"event":"listening"')) text += new TextDecoder().decode((await reader.read()).value)
void (async () => {
  while (!(await reader.read()).done) {}
})()
const port = JSON.parse(text.split('\n').find((l) => l.includes('"event":"listening"'))!).port
const worker = JSON.parse(text.split('\n').find((l) => l.includes('"event":"worker_spawn"'))!).pid

try {
  await fetch(`http://127.0.0.1:${port}/warm`).then((r) => r.text())
  await Bun.sleep(1000)
  Bun.gc(true)
  const idle = rssMb(worker)
  for (let i = 0; i < entries; i += 64) {
    await Promise.all(Array.from({ length: Math.min(64, entries - i) }, (_, j) => fetch(`http://127.0.0.1:${port}/e/${i + j}`).then((r) => r.text())))
  }
  const hits = await fetch(`http://127.0.0.1:${port}/e/0`)
  await hits.text()
  await Bun.sleep(1000)
  const full = rssMb(worker)
  console.log(`worker RSS: idle ${idle.toFixed(1)} MiB; holding ${entries} cached 1 KiB entries ${full.toFixed(1)} MiB (last lookup: ${hits.headers.get('x-cache-status')})`)
} finally {
  gateway.kill()
  origin.stop(true)
}
