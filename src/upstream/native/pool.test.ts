import { afterAll, describe, expect, test } from 'bun:test'
import { TargetPool } from './pool.ts'

// A real TCP peer on loopback that accepts and keeps connections: the pool's sockets are real.
const peers = new Set<{ end(): void }>()
const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { open: (s) => void peers.add(s), data() {}, close: (s) => void peers.delete(s) } })
afterAll(() => listener.stop(true))

const until = async (check: () => boolean, what: string) => {
  const deadline = performance.now() + 5000
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(10)
  }
}

describe('TargetPool', () => {
  test('its idle sweep runs only while a connection is idle: none before, none once the idle one has closed', async () => {
    const pool = new TargetPool({ hostname: '127.0.0.1', port: listener.port, maxConnections: 4, maxIdle: 4, idleTimeoutMs: 300, queueSize: 0, queueTimeoutMs: 1000 })
    expect(pool.sweeping).toBe(false)
    const connection = await pool.connect()
    // In use, not idle: still nothing to sweep.
    expect(pool.sweeping).toBe(false)
    pool.release(connection)
    expect(pool.sweeping).toBe(true)
    await until(() => peers.size === 1, 'the peer to see the connection')
    // Past idleTimeoutMs the sweep closes it, and the sweep after that finds nothing idle and stops.
    await until(() => peers.size === 0, 'the idle connection to close')
    await until(() => !pool.sweeping, 'the sweep to stop')
    // Reused again: a new connection released sets it again.
    pool.release(await pool.connect())
    expect(pool.sweeping).toBe(true)
    pool.retire()
    expect(pool.sweeping).toBe(false)
  })
})
