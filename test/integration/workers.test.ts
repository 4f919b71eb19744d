import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { events, expectCleanOutput, liveWorkerPids, spawnMain, startGateway, waitFor, writeConfig, type GatewayProcess } from '../fixtures/gateway.ts'
import { listenerPids, waitForListeners } from '../fixtures/listeners.ts'
import { configFor, startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  gw = await startGateway(configFor(upstream.origin, { server: { workers: 3 } }))
})

afterAll(async () => {
  if (gw.proc.exitCode === null && gw.proc.signalCode === null) expect(await gw.stop()).toBe(0)
  upstream.stop()
})

/** True when `pid` no longer runs (exited, or a zombie awaiting its new parent's reaping). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true
  } catch {
    return true
  }
}

describe('worker processes', () => {
  test('N workers listen on one port, each its own process', async () => {
    const workers = liveWorkerPids(gw.output())
    expect(workers).toHaveLength(3)
    await waitFor(() => listenerPids(gw.port).length === 3, 3000, 'three listeners')
    expect(listenerPids(gw.port)).toEqual([...workers].sort((a, b) => a - b))
    expect(listenerPids(gw.port)).not.toContain(gw.proc.pid)
    expect(events(gw.output(), 'listening')[0]).toMatchObject({ workers: 3 })
    expect((await fetch(`http://127.0.0.1:${gw.adminPort}/ready`)).status).toBe(200)
  })

  test("workers run with JavaScriptCore's heap growth pinned to 2x, and the allocator's purging slowed (worker-runtime.ts)", () => {
    for (const pid of liveWorkerPids(gw.output())) {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
      expect(env).toContain('BUN_JSC_heapGrowthMaxIncrease=1')
      expect(env).toContain('MIMALLOC_PURGE_DELAY=1000')
      expect(env).toContain('MIMALLOC_PURGE_HOLES=0')
    }
  })

  test('a worker killed with SIGKILL is replaced and traffic continues', async () => {
    const [victim] = liveWorkerPids(gw.output())
    process.kill(victim!, 'SIGKILL')
    await waitFor(() => events(gw.output(), 'worker_exit').some((e) => e.pid === victim), 3000, 'the exit to be seen')
    const exit = events(gw.output(), 'worker_exit').find((e) => e.pid === victim)!
    expect(exit).toMatchObject({ reason: 'crash', signal: 'SIGKILL' })
    await waitForListeners(gw.port, 3, victim!)
    expect(events(gw.output(), 'worker_spawn').at(-1)).toMatchObject({ reason: 'crash', restarts: 1 })
    for (let i = 0; i < 30; i++) expect((await fetch(gw.url(`/after-kill/${i}`))).status).toBe(200)
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.adminPort}/ready`)).status === 200, 3000, 'ready again')
  })

  test('when the primary dies, the workers exit and free the port', async () => {
    const workers = liveWorkerPids(gw.output())
    gw.proc.kill('SIGKILL')
    await gw.proc.exited
    await waitFor(() => listenerPids(gw.port).length === 0, 5000, 'no listener left')
    await waitFor(() => workers.every(gone), 5000, 'the workers to exit')
    // The primary died without a word; everything it printed before was clean.
    expectCleanOutput(gw.output())
  })
})

/**
 * A gateway of three workers whose first is held at its start: a plugin whose import, in a
 * worker, waits for a file (the primary's plugin check is not a worker) until `open()`.
 */
function gatedGateway(origin: string) {
  const dir = mkdtempSync(join(tmpdir(), 'gw-generation-'))
  const gate = join(dir, 'open')
  writeFileSync(
    join(dir, 'gated.ts'),
    `import { existsSync } from 'node:fs'
    if (process.argv.includes('--worker')) while (!existsSync(${JSON.stringify(gate)})) await Bun.sleep(20)
    export default { build: () => (exchange, next) => next(exchange) }`
  )
  const config = configFor(origin, { server: { workers: 3 } }) as { routes: Record<string, unknown>[] }
  const path = writeConfig({ ...config, plugins: { gated: { module: './gated.ts' } }, routes: config.routes.map((r) => ({ ...r, plugins: ['gated'] })) }, 'gateway.json', dir)
  return { ...spawnMain(['--config', path]), open: () => writeFileSync(gate, '') }
}

describe('a generation starts together', () => {
  test('the other workers are spawned with the first and start serving once it listens', async () => {
    const upstream = startRecordingUpstream()
    const { proc, output, open } = gatedGateway(upstream.origin)
    try {
      // While the first worker cannot listen, the other two already run (they load their modules meanwhile).
      await waitFor(() => events(output(), 'worker_spawn').length === 3, 15_000, 'three workers spawned before the first listens')
      expect(events(output(), 'listening')).toHaveLength(0)
      open()
      await waitFor(() => events(output(), 'listening').length === 1, 15_000, 'the gateway to listen')
      const port = events(output(), 'listening')[0]!.port as number
      expect(listenerPids(port)).toEqual(liveWorkerPids(output()).sort((a, b) => a - b))
      expect(listenerPids(port)).toHaveLength(3)
      expect(events(output(), 'worker_spawn').map((e) => e.reason)).toEqual(['start', 'start', 'start'])
    } finally {
      proc.kill('SIGTERM')
      expect(await proc.exited).toBe(0)
      upstream.stop()
    }
  }, 40_000)

  test('a held worker that dies fails the start as soon as the first listens, not at the start timeout', async () => {
    const upstream = startRecordingUpstream()
    const { proc, output, open } = gatedGateway(upstream.origin)
    try {
      await waitFor(() => events(output(), 'worker_spawn').length === 3, 15_000, 'three workers spawned')
      const held = events(output(), 'worker_spawn')[1]!.pid as number
      process.kill(held, 'SIGKILL')
      await waitFor(() => events(output(), 'worker_exit').some((e) => e.pid === held), 5000, 'its exit to be seen')
      open()
      // The start timeout is 15 s: a start that waited for the dead worker would still be running.
      await waitFor(() => proc.exitCode !== null, 10_000, 'the gateway to give up')
      expect(proc.exitCode).toBe(1)
      await output.ended
      expect(events(output(), 'giving_up')[0]!.reason).toBe('workers did not start')
    } finally {
      proc.kill('SIGKILL')
      upstream.stop()
    }
  }, 40_000)
})
