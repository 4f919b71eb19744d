import { afterAll, beforeAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import net from 'node:net'
import { events, expectCleanOutput, liveWorkerPids, spawnMain, waitFor, writeConfig } from '../fixtures/gateway.ts'
import { listenerPids } from '../fixtures/listeners.ts'
import { keepAliveLoad } from '../fixtures/load.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let a: RecordingUpstream
let b: RecordingUpstream
/** A raw upstream without Bun's 16 KB head limit: answers with the size of the head it got. */
let wide: net.Server
let configPath: string
let gw: ReturnType<typeof spawnMain>
let port: number

const configWith = (routes: unknown[]) => ({
  server: { host: '127.0.0.1', port: 0, workers: 2 },
  admin: { port: 0 },
  upstreams: {
    a: { targets: [a.origin] },
    b: { targets: [b.origin] },
    wide: { targets: [`http://127.0.0.1:${(wide.address() as net.AddressInfo).port}`] },
  },
  routes: [{ path: '/hdr', upstream: 'wide' }, ...routes],
})

beforeAll(async () => {
  a = startRecordingUpstream()
  b = startRecordingUpstream()
  wide = net.createServer((socket) => {
    let head = ''
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      const body = String(end)
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
      head = head.slice(end + 4)
    })
  })
  await new Promise<void>((resolve) => wide.listen(0, '127.0.0.1', resolve))
  configPath = writeConfig(configWith([{ path: '/', upstream: 'a' }]), 'gateway.json')
  gw = spawnMain(['--config', configPath])
  await waitFor(() => gw.output().includes('"event":"listening"'), 10_000, 'listening')
  port = events(gw.output(), 'listening')[0]!.port
})

afterAll(async () => {
  gw.proc.kill('SIGTERM')
  expect(await gw.proc.exited).toBe(0)
  a.stop()
  b.stop()
  wide.close()
})

test('SIGHUP with a changed route: the new route answers and no request fails during the swap', async () => {
  const before = liveWorkerPids(gw.output())
  expect((await fetch(`http://127.0.0.1:${port}/new/x`)).headers.get('x-upstream')).toBe('recording')
  expect(b.requests).toHaveLength(0)

  // The load runs from before the SIGHUP until the new generation has served it alone: the
  // whole swap happens under load, however long it takes on a busy machine.
  const steady = () => a.requests.filter((r) => r.path === '/steady').length
  const stopLoad = new AbortController()
  const load = keepAliveLoad({ port, path: '/steady', connections: 16, signal: stopLoad.signal })
  try {
    await waitFor(() => steady() >= 200, 5000, 'the load to reach the upstream')
    writeFileSync(configPath, JSON.stringify(configWith([{ path: '/', upstream: 'a' }, { path: '/new', upstream: 'b' }])))
    gw.proc.kill('SIGHUP')
    await waitFor(() => events(gw.output(), 'reload_complete').length === 1, 8000, 'the reload')
    // The old generation drained and exited under the load; the new one then serves it alone.
    await waitFor(() => before.every((pid) => !liveWorkerPids(gw.output()).includes(pid)), 5000, 'old workers to exit')
    const afterSwap = steady()
    await waitFor(() => steady() >= afterSwap + 200, 5000, 'the new generation to serve the load')
  } finally {
    stopLoad.abort()
  }
  const report = await load

  expect(report.socketErrors).toBe(0)
  expect(report.badStatus).toBe(0)
  // Every request that reached the upstream came back whole to the client, none was lost on the way.
  expect(report.ok).toBe(steady())
  await (await fetch(`http://127.0.0.1:${port}/new/x`)).text()
  expect(b.requests.at(-1)?.path).toBe('/new/x')
  expect(events(gw.output(), 'worker_exit').filter((e) => before.includes(e.pid)).map((e) => e.reason)).toEqual(['reload', 'reload'])
  await waitFor(() => listenerPids(port).length === 2, 3000, 'two listeners')
}, 30_000)

test('SIGHUP with an invalid file: errors are logged and the old config keeps serving', async () => {
  const workers = liveWorkerPids(gw.output())
  writeFileSync(configPath, JSON.stringify({ ...configWith([{ path: '/', upstream: 'missing' }]), bogus: 1 }))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_rejected').length === 1, 5000, 'the rejection')
  const rejected = events(gw.output(), 'reload_rejected')[0]!
  expect(rejected.errors).toContain('bogus: unknown key "bogus" — expected one of server, redis, admin, cache, compression, metrics, log, tracing, dns, upstreams, routes, consumers, plugins')
  expect(rejected.errors).toContain('routes[1].upstream: no upstream named "missing"')
  expect(liveWorkerPids(gw.output())).toEqual(workers)
  await (await fetch(`http://127.0.0.1:${port}/new/y`)).text()
  expect(b.requests.at(-1)?.path).toBe('/new/y')
  expectCleanOutput(gw.output())
})

test('SIGHUP applies settings Bun reads only at start: a raised maxHeaderBytes lets a 40 KB header through', async () => {
  const big = { 'x-big': 'a'.repeat(40_000) }
  const before = await fetch(`http://127.0.0.1:${port}/hdr`, { headers: big })
  await before.text()
  expect(before.status).toBe(431)
  const reloads = events(gw.output(), 'reload_complete').length
  writeFileSync(configPath, JSON.stringify({ ...configWith([{ path: '/', upstream: 'a' }]), server: { host: '127.0.0.1', port: 0, workers: 2, maxHeaderBytes: 65536 } }))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_complete').length === reloads + 1, 8000, 'the reload')
  // Old workers drain for a moment; fresh connections land on the new generation once they are gone.
  let received = 0
  await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/hdr`, { headers: big, keepalive: false })
    received = res.status === 200 ? Number(await res.text()) : 0
    return received > 40_000
  }, 5000, 'a new worker to accept the header')
  expect(received).toBeGreaterThan(40_000)
}, 20_000)

test('SIGHUP that moves the admin listener is rejected, naming the restart-only key', async () => {
  const workers = liveWorkerPids(gw.output())
  const rejections = events(gw.output(), 'reload_rejected').length
  writeFileSync(configPath, JSON.stringify({ ...configWith([{ path: '/', upstream: 'a' }]), admin: { port: 1 } }))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_rejected').length === rejections + 1, 5000, 'the rejection')
  expect(events(gw.output(), 'reload_rejected').at(-1)!.errors).toEqual(['admin.port: changes only on restart'])
  expect(liveWorkerPids(gw.output())).toEqual(workers)
}, 10_000)

test('SIGHUP whose new workers cannot start: reload_failed says why, and the old workers keep serving', async () => {
  const workers = liveWorkerPids(gw.output())
  // A plugin that builds in the load-time check but throws in a worker: the config is valid,
  // the new generation is not.
  writeFileSync(join(dirname(configPath), 'worker-only-fail.ts'), `export default { build: (config, context) => { if (context.stores.rateLimits) throw new Error('fails only in a worker'); return (e, n) => n(e) } }`)
  writeFileSync(configPath, JSON.stringify({ ...configWith([{ path: '/', upstream: 'a', plugins: ['picky'] }]), plugins: { picky: { module: './worker-only-fail.ts' } } }))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_failed').length === 1, 20_000, 'the failed reload')
  expect(events(gw.output(), 'reload_failed')[0]).toMatchObject({
    config: configPath,
    reason: 'a worker could not start (plugin_build_failed: plugins.picky: build failed for route / (Error: fails only in a worker))',
  })
  expect(liveWorkerPids(gw.output())).toEqual(workers)
  expect((await fetch(`http://127.0.0.1:${port}/new/z`)).status).toBe(200)
}, 30_000)
