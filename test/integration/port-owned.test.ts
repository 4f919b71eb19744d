/**
 * One gateway per port: a second gateway on a port another process listens on (another
 * gateway, whose workers use SO_REUSEPORT, or any other listener) exits 1 with one
 * `port_in_use` line before it starts anything, and the first keeps serving alone. Its own
 * workers still share the port, and a restart on the same port is not refused for the
 * connections the last run left in TIME_WAIT.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { events, liveWorkerPids, spawnMain, startGateway, waitFor, writeConfig, type GatewayProcess } from '../fixtures/gateway.ts'
import { listenerPids } from '../fixtures/listeners.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream

beforeAll(() => {
  upstream = startRecordingUpstream()
})

afterAll(() => upstream.stop())

const configOn = (port: number, adminPort = 0) => ({
  server: { host: '127.0.0.1', port, workers: 2 },
  admin: { port: adminPort },
  upstreams: { app: { targets: [upstream.origin] } },
  routes: [{ path: '/', upstream: 'app' }],
})

/** Runs `bun src/main.ts` with `config` and `args` until it exits (killed if it has not in 10 s); its code and output. */
async function runToExit(config: object, args: string[] = []) {
  const { proc, output } = spawnMain(['--config', writeConfig(config), ...args])
  try {
    await waitFor(() => proc.exitCode !== null, 10_000, 'the gateway to exit')
  } finally {
    proc.kill('SIGKILL')
  }
  await output.ended
  return { code: proc.exitCode, output: output() }
}

describe('a port owned by one gateway', () => {
  let first: GatewayProcess

  beforeAll(async () => {
    first = await startGateway({ ...configOn(0), server: { workers: 2 } })
  })

  afterAll(async () => {
    await first.stop()
  })

  test("a second gateway on the first one's port exits 1 naming it; the first keeps serving alone", async () => {
    const workers = liveWorkerPids(first.output())
    const second = await runToExit(configOn(first.port))
    expect(second.code).toBe(1)
    const [refused] = events(second.output, 'port_in_use')
    expect(refused).toMatchObject({
      level: 'error',
      listener: 'server',
      host: '127.0.0.1',
      port: first.port,
      reason: `another process listens on 127.0.0.1:${first.port}; stop it or choose another server.port`,
    })
    // Refused before anything started: no worker, no admin listener, nothing else logged.
    expect(second.output.trim().split('\n')).toHaveLength(1)
    expect(listenerPids(first.port).sort()).toEqual(workers.sort())
    for (let i = 0; i < 10; i++) expect((await fetch(first.url(`/still/${i}`), { keepalive: false })).status).toBe(200)
  }, 20_000)

  test("another process's listener with SO_REUSEPORT blocks the start too", async () => {
    const holder = Bun.serve({ hostname: '127.0.0.1', port: 0, reusePort: true, fetch: () => new Response('not the gateway') })
    try {
      const gateway = await runToExit(configOn(holder.port!))
      expect(gateway.code).toBe(1)
      expect(events(gateway.output, 'port_in_use')[0]).toMatchObject({ listener: 'server', port: holder.port })
      expect(await (await fetch(`http://127.0.0.1:${holder.port}/`)).text()).toBe('not the gateway')
    } finally {
      holder.stop(true)
    }
  }, 20_000)

  test('a taken admin port is refused the same way, in single-process mode too', async () => {
    const holder = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
    try {
      for (const args of [[], ['--single-process']]) {
        const gateway = await runToExit(configOn(0, holder.port!), args)
        expect(gateway.code).toBe(1)
        expect(events(gateway.output, 'port_in_use')[0]).toMatchObject({ listener: 'admin', host: '127.0.0.1', port: holder.port })
      }
    } finally {
      holder.stop(true)
    }
  }, 20_000)
})

test('a gateway restarted on the same port starts: its last run left connections in TIME_WAIT, not a listener', async () => {
  // A free port, then two runs on it in turn.
  const free = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
  const port = free.port!
  free.stop(true)
  for (let run = 0; run < 2; run++) {
    const { proc, output } = spawnMain(['--config', writeConfig(configOn(port))])
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`run ${run} exited ${proc.exitCode}:\n${output()}`)
      return events(output(), 'listening').length > 0
    }, 10_000, 'the gateway to listen')
    // Idle keep-alive connections the client leaves open: the stopping gateway closes them first.
    const held = await Promise.all([0, 1, 2].map(() => idleConnection(port)))
    proc.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    await Promise.all(held.map((socket) => socket.closed))
    // So they wait in TIME_WAIT on the gateway's port: what the next run's check must pass.
    expect(timeWaits(port)).toBeGreaterThan(0)
  }
}, 30_000)

/** A connection that has had one answer and stays open; `closed` settles when the gateway closes it. */
async function idleConnection(port: number): Promise<{ closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1')
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise((resolve) => socket.once('connect', resolve))
  const answered = new Promise((resolve) => socket.once('data', resolve))
  socket.write('GET /held HTTP/1.1\r\nHost: gw\r\n\r\n')
  await answered
  return { closed }
}

/** Sockets in TIME_WAIT (state 06) with `port` as their local port, from /proc/net/tcp. */
function timeWaits(port: number): number {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1]?.endsWith(local) && fields[3] === '06').length
}
