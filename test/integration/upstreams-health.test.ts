/**
 * Admin GET /upstreams says what the gateway knows of each target's active health: the
 * checker's verdict where a check runs, `unknown` where none does (it used to say healthy).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let upstream: RecordingUpstream
let dead: string
let gw: GatewayProcess

beforeAll(async () => {
  upstream = startRecordingUpstream()
  // Port 1: nothing listens there, so every check fails. Not a port that was just free: a server
  // started next (this file's own, or another's) may be given it again.
  dead = 'http://127.0.0.1:1'
  gw = await startGateway({
    server: { workers: 2 },
    upstreams: {
      app: { targets: [upstream.origin, dead] },
      checked: { targets: [upstream.origin, dead], healthCheck: { path: '/health', intervalSeconds: 60, timeoutMs: 1000 } },
    },
    routes: [{ path: '/', upstream: 'app' }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  upstream.stop()
  expectCleanOutput(gw.output())
})

test('health is unknown where no check runs and the verdict where one does, merged over both workers', async () => {
  const res = await fetch(`http://127.0.0.1:${gw.adminPort}/upstreams`)
  const { upstreams } = (await res.json()) as { upstreams: { name: string; targets: Record<string, unknown>[] }[] }
  const byName = Object.fromEntries(upstreams.map((u) => [u.name, Object.fromEntries(u.targets.map((t) => [t.url, t.health]))]))
  expect(byName.app).toEqual({ [upstream.origin]: 'unknown', [dead]: 'unknown' })
  // The start waits for the checker's first round, so both verdicts are in before the first request.
  expect(byName.checked).toEqual({ [upstream.origin]: 'healthy', [dead]: 'unhealthy' })
  // The rest of each target's entry is as before.
  expect(Object.keys(upstreams[0]!.targets[0]!).sort()).toEqual(['ejected', 'ejectedBy', 'ejections', 'health', 'inflight', 'url', 'weight'])
})
