/**
 * Upstream resilience with real targets on loopback: weighted and least-inflight balancing,
 * consistent hashing, retries (never for POST) within their budget, passive ejection of a
 * target killed under load, active health checks from the primary shared by both workers,
 * the circuit breaker, and admin GET /upstreams.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'

interface TestTarget {
  readonly name: string
  readonly url: string
  /** Proxied requests (health checks are counted apart). */
  hits: number
  checks: number
  /** What /health answers. */
  healthStatus: number
  stop(): void
}

const running: { stop(): void }[] = []
let gateways: GatewayProcess[] = []

afterEach(async () => {
  for (const gw of gateways) {
    expect(await gw.stop()).toBe(0)
    expectCleanOutput(gw.output())
  }
  gateways = []
  for (const r of running.splice(0)) r.stop()
})

function startTarget(name: string, answer: (req: Request) => Response | Promise<Response> = () => new Response(name)): TestTarget {
  const target: TestTarget = {
    name,
    url: '',
    hits: 0,
    checks: 0,
    healthStatus: 200,
    stop: () => server.stop(true),
  }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      if (new URL(req.url).pathname === '/health') {
        target.checks++
        return new Response(null, { status: target.healthStatus })
      }
      target.hits++
      return answer(req)
    },
  })
  ;(target as { url: string }).url = `http://127.0.0.1:${server.port}`
  running.push(target)
  return target
}

async function gateway(upstream: Record<string, unknown>, server: Record<string, unknown> = {}) {
  const gw = await startGateway({ server, upstreams: { app: { timeoutMs: 5000, ...upstream } }, routes: [{ path: '/', upstream: 'app' }] })
  gateways.push(gw)
  return gw
}

/** `count` GETs, `concurrency` at a time; resolves with the bodies (status when not 200). */
async function load(gw: GatewayProcess, count: number, concurrency = 16, init: (i: number) => RequestInit = () => ({})) {
  const bodies: string[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++
        const res = await fetch(gw.url(`/r${i}`), init(i))
        const text = await res.text()
        bodies.push(res.status === 200 ? text : `status ${res.status}`)
      }
    })
  )
  return bodies
}

const share = (bodies: string[], name: string) => bodies.filter((b) => b === name).length / bodies.length

describe('balancing', () => {
  test('weighted round-robin and weighted random land within 5% of the weights over 3,000 requests', async () => {
    const [a, b, c] = [startTarget('a'), startTarget('b'), startTarget('c')]
    const targets = [
      { url: a.url, weight: 1 },
      { url: b.url, weight: 2 },
      { url: c.url, weight: 3 },
    ]
    for (const balancing of ['round-robin', 'random']) {
      const gw = await gateway({ targets, balancing })
      const bodies = await load(gw, 3000, 32)
      expect(Math.abs(share(bodies, 'a') - 1 / 6)).toBeLessThan(0.05)
      expect(Math.abs(share(bodies, 'b') - 2 / 6)).toBeLessThan(0.05)
      expect(Math.abs(share(bodies, 'c') - 3 / 6)).toBeLessThan(0.05)
    }
  }, 20_000)

  test('least-inflight moves load away from a target that answers in 200 ms', async () => {
    const slow = startTarget('slow', async () => (await Bun.sleep(200), new Response('slow')))
    const fast = startTarget('fast')
    const gw = await gateway({ targets: [slow.url, fast.url], balancing: 'least-inflight' })
    const bodies = await load(gw, 400, 16)
    // Round-robin would give the slow one half.
    expect(share(bodies, 'slow')).toBeLessThan(0.2)
    expect(bodies.every((b) => b === 'slow' || b === 'fast')).toBe(true)
  }, 20_000)

  test('with retries off (the forwarder calls the balancer around the base client itself): least-inflight still sees each try end, and none stays in flight', async () => {
    const slow = startTarget('slow', async () => (await Bun.sleep(200), new Response('slow')))
    const fast = startTarget('fast')
    const gw = await gateway({ targets: [slow.url, fast.url], balancing: 'least-inflight', retries: { attempts: 1 } })
    const bodies = await load(gw, 400, 16)
    expect(share(bodies, 'slow')).toBeLessThan(0.2)
    expect(bodies.every((b) => b === 'slow' || b === 'fast')).toBe(true)
    const inflight = async () => {
      const { upstreams } = (await (await fetch(`http://127.0.0.1:${gw.adminPort}/upstreams`)).json()) as { upstreams: { targets: { inflight: number }[] }[] }
      return upstreams[0]!.targets.map((t) => t.inflight)
    }
    await waitFor(async () => (await inflight()).every((n) => n === 0), 5000, 'no try in flight')
  }, 20_000)

  test('hash keeps a key on one target, and a target leaving moves only its own keys', async () => {
    const targets = [startTarget('a'), startTarget('b'), startTarget('c')]
    const gw = await gateway({ targets: targets.map((t) => t.url), balancing: 'hash', hashOn: 'header:x-user', outlierDetection: { consecutiveFailures: 1 } })
    const keys = Array.from({ length: 150 }, (_, i) => `user-${i}`)
    const owner = async (key: string) => (await fetch(gw.url('/h'), { headers: { 'x-user': key } })).text()
    const before = new Map<string, string>()
    for (const key of keys) before.set(key, await owner(key))
    for (const key of keys.slice(0, 30)) expect(await owner(key)).toBe(before.get(key)!)
    // Every target owns a fair part of the ring.
    for (const t of targets) expect([...before.values()].filter((o) => o === t.name).length).toBeGreaterThan(20)
    targets[2]!.stop()
    let moved = 0
    for (const key of keys) {
      const now = await owner(key)
      expect(now === 'a' || now === 'b').toBe(true)
      if (now !== before.get(key)) {
        moved++
        // Only the keys of the target that left move.
        expect(before.get(key)).toBe('c')
      }
    }
    // Exactly the keys c owned moved: its share depends on where the ring puts these ports.
    expect(moved).toBe([...before.values()].filter((o) => o === 'c').length)
  }, 20_000)
})

describe('retries and passive health', () => {
  test('POST is never retried; GET goes to the other target', async () => {
    const failing = startTarget('failing', () => new Response('no', { status: 503 }))
    const good = startTarget('good')
    // Half the tries fail here: a budget of 100% lets every GET retry (20% would not).
    const gw = await gateway({ targets: [failing.url, good.url], outlierDetection: { consecutiveFailures: 0 }, retries: { budgetPercent: 100 } })
    await load(gw, 20, 4)
    failing.hits = 0
    good.hits = 0
    const posts = await load(gw, 20, 1, () => ({ method: 'POST', body: 'x' }))
    expect(failing.hits + good.hits).toBe(20)
    expect(posts.filter((b) => b === 'status 503')).toHaveLength(failing.hits)
    const gets = await load(gw, 20, 1)
    expect(gets.every((b) => b === 'good')).toBe(true)
  }, 20_000)

  test('perTryTimeoutMs: a try slower than it is abandoned and retried on the other target', async () => {
    const slow = startTarget('slow', async () => (await Bun.sleep(1000), new Response('slow')))
    const fast = startTarget('fast')
    const gw = await gateway({
      targets: [slow.url, fast.url],
      outlierDetection: { consecutiveFailures: 0 },
      retries: { on: ['timeout'], perTryTimeoutMs: 150, budgetPercent: 100 },
    })
    const bodies = await load(gw, 8, 2)
    // Every try the slow target got was abandoned (a try waited out would have answered 'slow').
    expect(bodies).toEqual(Array(8).fill('fast'))
    expect(slow.hits).toBeGreaterThan(0)
  }, 20_000)

  test('a target killed under load: no client errors, and it is ejected', async () => {
    const targets = [startTarget('a'), startTarget('b'), startTarget('c')]
    const gw = await gateway({ targets: targets.map((t) => t.url) })
    const all: string[] = []
    const started = performance.now()
    let killed = false
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() - started < 2000) {
          if (!killed && performance.now() - started > 700) {
            killed = true
            targets[2]!.stop()
          }
          const res = await fetch(gw.url('/k'))
          all.push(res.status === 200 ? await res.text() : `status ${res.status}`)
        }
      })
    )
    expect(all.filter((b) => b.startsWith('status'))).toEqual([])
    const { upstreams } = (await (await fetch(`http://127.0.0.1:${gw.adminPort}/upstreams`)).json()) as { upstreams: { targets: { url: string; ejected: boolean; ejections: number }[] }[] }
    const dead = upstreams[0]!.targets.find((t) => t.url === targets[2]!.url)!
    expect(dead.ejected).toBe(true)
    expect(dead.ejections).toBeGreaterThanOrEqual(1)
  }, 20_000)

  test('all targets failing: upstream requests stay within the retry budget, and the breaker opens', async () => {
    const targets = [startTarget('x', () => new Response('', { status: 503 })), startTarget('y', () => new Response('', { status: 503 }))]
    const hits = () => targets.reduce((n, t) => n + t.hits, 0)
    const noBreaker = await gateway({ targets: targets.map((t) => t.url), retries: { attempts: 3 } })
    await load(noBreaker, 500, 8)
    expect(hits()).toBeLessThanOrEqual(500 * 1.2)
    expect(hits()).toBeGreaterThan(500)
    for (const t of targets) t.hits = 0
    const breaking = await gateway({ targets: targets.map((t) => t.url), circuitBreaker: { consecutiveFailures: 10, openSeconds: 30 } })
    const bodies = await load(breaking, 100, 4)
    expect(hits()).toBeLessThan(20)
    const res = await fetch(breaking.url('/after'))
    expect(res.status).toBe(503)
    expect(((await res.json()) as { error: string }).error).toBe('upstream_unavailable')
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(bodies.filter((b) => b === 'status 503').length).toBe(100)
  }, 20_000)
})

describe('active health checks', () => {
  test('a target failing its check at start gets no request, on either worker; it comes back after healthyThreshold passes', async () => {
    const up = startTarget('up')
    const down = startTarget('down')
    down.healthStatus = 503
    const gw = await gateway(
      { targets: [up.url, down.url], healthCheck: { path: '/health', intervalSeconds: 1, healthyThreshold: 2, unhealthyThreshold: 2 } },
      { workers: 2 }
    )
    // A new connection per request, so both workers serve.
    const bodies = await load(gw, 60, 6, () => ({ keepalive: false, headers: { connection: 'close' } }))
    expect(bodies.every((b) => b === 'up')).toBe(true)
    expect(down.hits).toBe(0)
    expect(down.checks).toBeGreaterThan(0)
    // One checker for the node: checks come at the interval, not once per worker.
    const checks = down.checks
    await Bun.sleep(2100)
    expect(down.checks - checks).toBeLessThanOrEqual(3)
    down.healthStatus = 200
    await waitFor(async () => (await load(gw, 20, 4, () => ({ keepalive: false, headers: { connection: 'close' } }))).includes('down'), 6000, 'the target back')
    expect(gw.output()).toContain('"event":"target_health"')
  }, 20_000)
})
