/**
 * Two gateway replicas sharing a real redis-server, behind a real HAProxy: a global rate
 * limit holds across them, a purge or an invalidation at one replica reaches the other, a
 * Redis outage degrades to the configured fallback (and the log says so) and recovers, and
 * a killed replica costs no client errors once HAProxy's check has seen it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { events, expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { hasBinary, startHaproxy, startRedis, type Haproxy, type RedisServer } from '../fixtures/services.ts'

const HOST = 'api.example'
const ready = hasBinary('redis-server') && hasBinary('haproxy')
if (!ready) console.warn('replicas.test.ts: skipped, needs redis-server and haproxy (apt-get install redis-server haproxy)')

describe.skipIf(!ready)('replicas sharing Redis', () => {
  let redis: RedisServer
  let origin: Server<undefined>
  let a: GatewayProcess
  let b: GatewayProcess
  let lb: Haproxy
  /** Upstream requests by path, and which replica sent them. */
  const hits = new Map<string, number>()
  const byReplica = new Map<string, number>()

  const replicaConfig = (name: string) => ({
    redis: { url: redis.url, keyPrefix: 'test:' },
    upstreams: { app: { targets: [`http://127.0.0.1:${origin.port}`] } },
    routes: [
      { path: '/global', upstream: 'app', rateLimit: { requestsPerSecond: 20, burst: 20, key: 'ip', scope: 'global' } },
      { path: '/strict', upstream: 'app', rateLimit: { requestsPerSecond: 20, burst: 20, key: 'ip', scope: 'global', onStoreFailure: 'deny' } },
      { path: '/cached', upstream: 'app', cache: { enabled: true } },
      { path: '/', upstream: 'app', requestHeaders: { set: { 'x-replica': name } } },
    ],
  })

  beforeAll(async () => {
    redis = await startRedis()
    origin = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname
        hits.set(path, (hits.get(path) ?? 0) + 1)
        const replica = req.headers.get('x-replica')
        if (replica) byReplica.set(replica, (byReplica.get(replica) ?? 0) + 1)
        return new Response('ok', { headers: { 'cache-control': 'max-age=300' } })
      },
    })
    ;[a, b] = await Promise.all([startGateway(replicaConfig('a')), startGateway(replicaConfig('b'))])
    lb = await startHaproxy({ a: a.port, b: b.port })
  }, 30_000)

  afterAll(async () => {
    // Everything is stopped before anything is asserted, so a failure leaves no process behind.
    await lb?.stop()
    const codes = await Promise.all([a, b].filter((gw) => gw && gw.proc.signalCode === null).map((gw) => gw.stop()))
    await redis?.stop()
    origin?.stop(true)
    expect(codes.every((code) => code === 0)).toBe(true)
  })

  /** `count` requests through HAProxy, 10 at a time; statuses by count. */
  async function burst(path: string, count = 100): Promise<Map<number, number>> {
    const statuses = new Map<number, number>()
    let sent = 0
    const client = async () => {
      while (sent < count) {
        sent++
        const res = await fetch(`http://127.0.0.1:${lb.port}${path}`)
        await res.arrayBuffer()
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      }
    }
    await Promise.all(Array.from({ length: 10 }, client))
    return statuses
  }

  test('HAProxy spreads requests over both replicas', async () => {
    expect((await burst('/spread', 40)).get(200)).toBe(40)
    expect(byReplica.get('a')).toBeGreaterThan(0)
    expect(byReplica.get('b')).toBeGreaterThan(0)
  })

  test('a global limit of 20/s with burst 20 lets 20-35 of 100 requests over both replicas through', async () => {
    const statuses = await burst('/global/x')
    const ok = statuses.get(200) ?? 0
    expect(ok).toBeGreaterThanOrEqual(20)
    expect(ok).toBeLessThanOrEqual(35)
    expect(ok + (statuses.get(429) ?? 0)).toBe(100)
  })

  const get = (gw: GatewayProcess, path: string) => fetch(gw.url(path), { headers: { host: HOST } })
  /** Requests `path` at `gw` until one is not served from the cache; throws at the deadline. */
  const missesAt = (gw: GatewayProcess, path: string) =>
    waitFor(async () => (await get(gw, path)).headers.get('x-cache-status') === 'MISS', 3000, `a MISS for ${path}`)

  async function cachedAtBoth(path: string) {
    for (const gw of [a, b]) {
      expect((await get(gw, path)).headers.get('x-cache-status')).toBe('MISS')
      expect((await get(gw, path)).headers.get('x-cache-status')).toBe('HIT')
    }
    expect(hits.get(path)).toBe(2)
  }

  test("a purge sent to replica A's admin port empties replica B's cache too", async () => {
    await cachedAtBoth('/cached/p')
    const res = await fetch(`http://127.0.0.1:${a.adminPort}/cache/purge?url=${encodeURIComponent(`http://${HOST}/cached/p`)}`, { method: 'POST' })
    expect(await res.json()).toMatchObject({ purged: 1, workers: 1, replicas: true })
    await missesAt(b, '/cached/p')
    expect(hits.get('/cached/p')).toBe(3)
  })

  test('an unsafe method at replica A invalidates the URL at replica B', async () => {
    await cachedAtBoth('/cached/i')
    expect((await fetch(a.url('/cached/i'), { method: 'POST', headers: { host: HOST } })).status).toBe(200)
    await missesAt(b, '/cached/i')
  })

  test('Redis killed: both replicas keep serving on their node limits, say so, and go global again when it is back', async () => {
    await redis.kill()
    // allow: each replica holds the limit on its own, so both bursts get through.
    const fallback = await burst('/global/y')
    expect((fallback.get(200) ?? 0) + (fallback.get(429) ?? 0)).toBe(100)
    expect(fallback.get(200)).toBeGreaterThanOrEqual(40)
    expect(fallback.get(200)).toBeLessThanOrEqual(70)
    // deny: refused with a 503 that names the cause, not an error page.
    const strict = await fetch(a.url('/strict/y'))
    expect(strict.status).toBe(503)
    expect(strict.headers.get('retry-after')).toBe('1')
    expect(((await strict.json()) as { error: string }).error).toBe('rate_limit_unavailable')
    // Everything else is untouched by the outage.
    expect((await burst('/plain', 20)).get(200)).toBe(20)
    for (const gw of [a, b]) {
      expect(events(gw.output(), 'rate_limit_store_down')).toHaveLength(1)
      const metrics = await scrape(gw.adminPort)
      expect(sumOf(metrics, 'gateway_redis_connected')).toBe(0)
      expect(sumOf(metrics, 'gateway_rate_limit_store_failures_total')).toBeGreaterThan(0)
    }

    await redis.restart()
    // Probed on the other route, so the bucket under test starts full.
    await waitFor(
      async () => {
        await Promise.all([a, b].map(async (gw) => (await fetch(gw.url('/strict/probe'))).arrayBuffer()))
        return [a, b].every((gw) => events(gw.output(), 'rate_limit_store_up').length === 1)
      },
      8000,
      'both replicas to use Redis again'
    )
    const again = await burst('/global/z')
    expect(again.get(200)).toBeGreaterThanOrEqual(20)
    expect(again.get(200)).toBeLessThanOrEqual(35)
    expect((await fetch(a.url('/strict/z'))).status).toBe(200)
    expect(sumOf(await scrape(a.adminPort), 'gateway_redis_connected')).toBe(1)
  }, 20_000)

  test("a replica killed: once HAProxy's check has seen it, no client errors", async () => {
    a.proc.kill('SIGKILL')
    await waitFor(async () => (await lb.status()).a?.startsWith('DOWN') === true, 5000, 'HAProxy to mark replica a down')
    const statuses = await burst('/plain', 200)
    expect(statuses.get(200)).toBe(200)
    expectCleanOutput(b.output())
  })
})
