import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { events, expectCleanOutput, liveWorkerPids, startGateway, waitFor, writeConfig } from '../fixtures/gateway.ts'
import { listenerPids } from '../fixtures/listeners.ts'
import { configFor, startRecordingUpstream } from '../fixtures/upstream.ts'

/** Starts a request the upstream holds for `ms` and resolves once the upstream has it. */
async function slowRequestInFlight(url: string, upstream: ReturnType<typeof startRecordingUpstream>) {
  const inFlight = fetch(url)
  await waitFor(() => upstream.requests.some((r) => r.path === '/slow'), 3000, 'the slow request upstream')
  // Wrapped: an async function returning the promise itself would wait for the response.
  return { inFlight }
}

describe('graceful shutdown', () => {
  test('SIGTERM lets an in-flight request finish, then exits 0 with no listener left', async () => {
    const upstream = startRecordingUpstream()
    const gw = await startGateway(configFor(upstream.origin, { server: { workers: 2 } }))
    try {
      const { inFlight } = await slowRequestInFlight(gw.url('/slow?ms=1500'), upstream)
      const started = Date.now()
      gw.proc.kill('SIGTERM')
      const res = await inFlight
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ slept: 1500 })
      expect(res.headers.get('connection')).toBe('close')
      expect(await gw.proc.exited).toBe(0)
      expect(Date.now() - started).toBeLessThan(5000)
      expect(listenerPids(gw.port)).toEqual([])
      expect(events(gw.output(), 'shutdown_complete')[0]).toMatchObject({ signal: 'SIGTERM', exitStatus: 0 })
      expect(events(gw.output(), 'worker_exit').map((e) => e.reason)).toEqual(['shutdown', 'shutdown'])
      expectCleanOutput(gw.output())
    } finally {
      upstream.stop()
    }
  })

  test('new connections are refused once SIGTERM arrives', async () => {
    const upstream = startRecordingUpstream()
    const gw = await startGateway(configFor(upstream.origin, { server: { workers: 1 } }))
    try {
      const { inFlight } = await slowRequestInFlight(gw.url('/slow?ms=1000'), upstream)
      gw.proc.kill('SIGTERM')
      await waitFor(() => listenerPids(gw.port).length === 0, 2000, 'the listener to close')
      await expect(fetch(gw.url('/late'), { keepalive: false })).rejects.toBeDefined()
      expect((await inFlight).status).toBe(200)
      expect(await gw.proc.exited).toBe(0)
    } finally {
      upstream.stop()
    }
  })

  test('past shutdownTimeoutSeconds the rest is cut and the exit status says so', async () => {
    const upstream = startRecordingUpstream()
    const gw = await startGateway(
      configFor(upstream.origin, { server: { workers: 1, shutdownTimeoutSeconds: 1 }, upstream: { timeoutMs: 10_000 } })
    )
    try {
      const inFlight = fetch(gw.url('/slow?ms=4000')).then(
        (r) => r.status,
        () => 'cut'
      )
      await waitFor(() => upstream.requests.some((r) => r.path === '/slow'), 3000, 'the slow request upstream')
      const started = Date.now()
      gw.proc.kill('SIGTERM')
      expect(await gw.proc.exited).toBe(1)
      expect(Date.now() - started).toBeLessThan(3000)
      expect(await inFlight).toBe('cut')
      expect(events(gw.output(), 'shutdown_complete')[0]).toMatchObject({ exitStatus: 1 })
      expect(liveWorkerPids(gw.output())).toEqual([])
    } finally {
      upstream.stop()
    }
  })
})

test('`bun run start` passes SIGTERM on: the in-flight request finishes and the exit is 0', async () => {
  const upstream = startRecordingUpstream()
  const path = writeConfig({
    ...configFor(upstream.origin),
    server: { host: '127.0.0.1', port: 0, workers: 1 },
    admin: { port: 0 },
  })
  const proc = Bun.spawn([process.execPath, 'run', 'start', '--', '--config', path], {
    cwd: join(import.meta.dir, '..', '..'),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let text = ''
  void (async () => {
    for await (const chunk of proc.stdout) text += new TextDecoder().decode(chunk)
  })()
  try {
    await waitFor(() => text.includes('"event":"listening"'), 10_000, 'listening')
    const port = events(text, 'listening')[0]!.port
    const { inFlight } = await slowRequestInFlight(`http://127.0.0.1:${port}/slow?ms=1500`, upstream)
    proc.kill('SIGTERM')
    expect((await inFlight).status).toBe(200)
    expect(await proc.exited).toBe(0)
    expect(listenerPids(port)).toEqual([])
  } finally {
    upstream.stop()
  }
})
