import { expect, test } from 'bun:test'
import { events, liveWorkerPids, startGateway, spawnMain, waitFor, writeConfig } from '../fixtures/gateway.ts'
import { listenerPids } from '../fixtures/listeners.ts'
import { configFor, startRecordingUpstream } from '../fixtures/upstream.ts'

test('workers that keep crashing make the primary give up with a clear message and exit 1', async () => {
  const upstream = startRecordingUpstream()
  const gw = await startGateway(
    configFor(upstream.origin, { server: { workers: 1, crashLoop: { maxCrashes: 3, windowSeconds: 60 } } })
  )
  try {
    for (let crash = 1; crash <= 3; crash++) {
      await waitFor(() => liveWorkerPids(gw.output()).length === 1, 5000, `worker ${crash}`)
      process.kill(liveWorkerPids(gw.output())[0]!, 'SIGKILL')
      await waitFor(() => events(gw.output(), 'worker_exit').length === crash, 5000, `crash ${crash} seen`)
    }
    expect(await gw.proc.exited).toBe(1)
    // The exit can be seen before the last lines are read: wait for both pipes to close.
    // (startGateway's output is collect()'s, which says when.)
    await gw.output.ended
    expect(events(gw.output(), 'giving_up')[0]!.reason).toBe('workers crashed 3 times within 60 s')
    expect(events(gw.output(), 'worker_spawn').filter((e) => e.reason === 'crash')).toHaveLength(2)
    expect(listenerPids(gw.port)).toEqual([])
  } finally {
    upstream.stop()
  }
}, 30_000)

test('an address that cannot be bound stops the gateway at once, naming it', async () => {
  // 192.0.2.1 (TEST-NET-1, RFC 5737) is on no interface: the workers' bind fails. A port
  // another process holds is refused before any worker starts (port-owned.test.ts).
  const path = writeConfig({ server: { host: '192.0.2.1', port: 18080, workers: 2 }, admin: { port: 0 } })
  const { proc, output } = spawnMain(['--config', path])
  expect(await proc.exited).toBe(1)
  await output.ended
  expect(events(output(), 'giving_up')[0]!.reason).toBe('workers cannot listen on 192.0.2.1:18080 (EADDRNOTAVAIL)')
  // Both were spawned together; the second was stopped before it was told to start (supervisor.ts).
  expect(events(output(), 'worker_spawn')).toHaveLength(2)
  expect(events(output(), 'worker_start_failed')).toHaveLength(1)
  expect(events(output(), 'worker_exit').map((e) => e.reason)).toEqual(['failed_start', 'failed_start'])
}, 20_000)
