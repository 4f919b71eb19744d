import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { events, expectCleanOutput, liveWorkerPids, startGateway, waitFor, writeConfig } from '../fixtures/gateway.ts'
import { listenerPids } from '../fixtures/listeners.ts'
import { configFor, startRecordingUpstream } from '../fixtures/upstream.ts'

/** Starts a request the upstream holds for `ms` and resolves once the upstream has it. */
async function slowRequestInFlight(url: string, upstream: ReturnType<typeof startRecordingUpstream>) {
  const inFlight = fetch(url)
  await waitFor(() => upstream.requests.some((r) => r.path === '/slow'), 5000, 'the slow request upstream')
  // Wrapped: an async function returning the promise itself would wait for the response.
  return { inFlight }
}

describe('graceful shutdown', () => {
  test('SIGTERM lets an in-flight request finish, then exits 0 with no listener left', async () => {
    const upstream = startRecordingUpstream()
    const gw = await startGateway(configFor(upstream.origin, { server: { workers: 2 } }))
    try {
      const { inFlight } = await slowRequestInFlight(gw.url('/slow?ms=1500'), upstream)
      gw.proc.kill('SIGTERM')
      const res = await inFlight
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ slept: 1500 })
      expect(res.headers.get('connection')).toBe('close')
      // The outcome, not a clock: exit 0 and no worker cut means no request was cut and the
      // (default, 25 s) deadline was not what ended the drain.
      expect(await gw.proc.exited).toBe(0)
      await gw.output.ended
      expect(listenerPids(gw.port)).toEqual([])
      expect(events(gw.output(), 'shutdown_complete')[0]).toMatchObject({ signal: 'SIGTERM', cutWorkers: 0, exitStatus: 0 })
      expect(events(gw.output(), 'worker_exit').map((e) => e.reason)).toEqual(['shutdown', 'shutdown'])
      expectCleanOutput(gw.output())
    } finally {
      upstream.stop()
    }
  }, 20_000)

  test('new connections are refused once SIGTERM arrives', async () => {
    const upstream = startRecordingUpstream()
    const gw = await startGateway(configFor(upstream.origin, { server: { workers: 1 } }))
    try {
      const { inFlight } = await slowRequestInFlight(gw.url('/slow?ms=1000'), upstream)
      gw.proc.kill('SIGTERM')
      await waitFor(() => listenerPids(gw.port).length === 0, 5000, 'the listener to close')
      await expect(fetch(gw.url('/late'), { keepalive: false })).rejects.toBeDefined()
      expect((await inFlight).status).toBe(200)
      expect(await gw.proc.exited).toBe(0)
    } finally {
      upstream.stop()
    }
  }, 20_000)

  test('past shutdownTimeoutSeconds the rest is cut and the exit status says so', async () => {
    const upstream = startRecordingUpstream()
    const gw = await startGateway(
      configFor(upstream.origin, { server: { workers: 1, shutdownTimeoutSeconds: 1 }, upstream: { timeoutMs: 60_000 } })
    )
    try {
      // Held far longer than any deadline in play: only a cut can end it before the exit.
      const inFlight = fetch(gw.url('/slow?ms=30000')).then(
        (r) => r.status,
        () => 'cut'
      )
      await waitFor(() => upstream.requests.some((r) => r.path === '/slow'), 5000, 'the slow request upstream')
      gw.proc.kill('SIGTERM')
      // This test is about the configured deadline (1 s), so it keeps a bound, with 9 s of slack
      // for a busy machine: still well short of the default 25 s, which a gateway ignoring the
      // configured value would wait, and of the 30 s request.
      const exited = await Promise.race([gw.proc.exited, Bun.sleep(10_000).then(() => 'still running 10 s after SIGTERM')])
      expect(exited).toBe(1)
      await gw.output.ended
      expect(await inFlight).toBe('cut')
      expect(events(gw.output(), 'shutdown_complete')[0]).toMatchObject({ cutWorkers: 1, exitStatus: 1 })
      // The worker cut the request itself at its deadline (exit 1), not the primary's SIGKILL backstop.
      expect(events(gw.output(), 'worker_exit')).toMatchObject([{ reason: 'shutdown', code: 1, signal: null }])
      expect(liveWorkerPids(gw.output())).toEqual([])
    } finally {
      if (gw.proc.exitCode === null) gw.proc.kill('SIGKILL')
      upstream.stop()
    }
  }, 20_000)
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
}, 20_000)
