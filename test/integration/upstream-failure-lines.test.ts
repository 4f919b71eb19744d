/**
 * Failures leave a trace: a try that fails writes a warn line naming the target, the error
 * code, the route and the request id, even when a retry hides it from the client; lines are
 * rate-limited per target and code, and the next one counts what was left out. The interval
 * is `log.failureIntervalMs`: an hour where the test needs exactly one line whatever the
 * machine's speed, 200 ms where it needs a later one.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { events, expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

let up: RecordingUpstream
const started: GatewayProcess[] = []

beforeAll(() => {
  up = startRecordingUpstream()
})

afterAll(async () => {
  for (const gw of started) {
    expect(await gw.stop()).toBe(0)
    expectCleanOutput(gw.output())
  }
  up.stop()
})

async function gateway(failureIntervalMs: number, targets: string[]): Promise<GatewayProcess> {
  const gw = await startGateway({
    log: { access: true, failureIntervalMs },
    upstreams: { pair: { targets, retries: { budgetPercent: 100 }, outlierDetection: { consecutiveFailures: 0 } } },
    routes: [{ name: 'flaky', path: '/', upstream: 'pair' }],
  })
  started.push(gw)
  return gw
}

/** Sends `count` requests at once; their request ids once all answered (with `status`). */
async function burst(gw: GatewayProcess, count: number, status: number): Promise<string[]> {
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => fetch(gw.url(`/x${i}`))))
  await Promise.all(answers.map((r) => r.text()))
  expect(answers.map((r) => r.status)).toEqual(Array(count).fill(status))
  return answers.map((r) => r.headers.get('x-request-id')!)
}

const accessLines = (gw: GatewayProcess, ids: readonly string[]) => events(gw.output(), 'access').filter((l) => ids.includes(l.requestId))
const failureLines = (gw: GatewayProcess) => events(gw.output(), 'upstream_failure')

describe('upstream failure lines', () => {
  test('a dead target behind retries: 8 requests all answer 200, and exactly one line names it', async () => {
    const dead = '127.0.0.1:1' // port 1: nothing listens there
    const gw = await gateway(3_600_000, [`http://${dead}`, up.origin])
    const ids = await burst(gw, 8, 200)
    await waitFor(() => accessLines(gw, ids).length === 8, 5000, 'eight access lines')
    // Round-robin sent half of them to the dead target first.
    const retried = accessLines(gw, ids).filter((l) => l.tries === 2)
    expect(retried.length).toBeGreaterThan(1)
    const lines = failureLines(gw)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 'warn', upstream: 'pair', target: dead, error: 'connect_refused', route: 'flaky' })
    expect(retried.map((l) => l.requestId)).toContain(lines[0]!.requestId)
    expect(lines[0]).not.toHaveProperty('suppressed')
  })

  test('after the interval, the next failure line counts the ones left out; no failure goes uncounted', async () => {
    const dead = '127.0.0.1:1' // port 1: nothing listens there
    // One dead target: every request fails once (no other target to retry on) and answers 502.
    const gw = await gateway(200, [`http://${dead}`])
    const ids = await burst(gw, 8, 502)
    await waitFor(() => accessLines(gw, ids).length === 8, 5000, 'eight access lines')
    // One at a time until a line counts suppressed ones: its failure line is written before
    // its access line, so once that is seen every failure so far is accounted for.
    await waitFor(
      async () => {
        const [id] = await burst(gw, 1, 502)
        ids.push(id!)
        await waitFor(() => accessLines(gw, [id!]).length === 1, 5000, 'its access line')
        return failureLines(gw).at(-1)?.requestId === id && failureLines(gw).some((l) => (l.suppressed ?? 0) > 0)
      },
      10_000,
      'a failure line with a suppressed count'
    )
    const lines = failureLines(gw)
    for (const line of lines) expect(line).toMatchObject({ target: dead, error: 'connect_refused', route: 'flaky' })
    const counted = lines.length + lines.reduce((sum, l) => sum + (l.suppressed ?? 0), 0)
    expect(counted).toBe(ids.length)
  })
})
