/**
 * Two gateway replicas sharing a real redis-server, behind a real HAProxy: a global rate
 * limit holds across them, a purge or an invalidation at one replica reaches the other
 * (signed with redis.busSecret), messages another Redis client publishes unsigned, with a
 * wrong key or too late are dropped and counted, a replica without busSecret is refused
 * while others listen and runs alone otherwise, a Redis outage degrades to the configured
 * fallback (and the log says so) and recovers, and a killed replica costs no client errors
 * once HAProxy's check has seen it. Then Redis over TLS (rediss://) with an ACL user whose
 * password comes from a file.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { Redis } from 'ioredis'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { events, expectCleanOutput, spawnMain, startGateway, waitFor, writeConfig, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { hasBinary, startHaproxy, startRedis, type Haproxy, type RedisServer } from '../fixtures/services.ts'
import { createMessageSigner } from '../../src/replicas/signing.ts'

const HOST = 'api.example'
const SECRET = 'replica-test-bus-secret-0123456789abcdef'
const dir = mkdtempSync(join(tmpdir(), 'gw-replicas-'))
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return join(dir, name)
}
/** Incoming bus messages a replica dropped for `reason`. */
const rejected = async (gw: GatewayProcess, reason: string) => sumOf(await scrape(gw.adminPort), 'gateway_replica_messages_rejected_total', { reason })
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

  // A reads the secret from its environment, B from a file: both resolve to the same key.
  const replicaConfig = (name: string, busSecret?: string) => ({
    redis: { url: redis.url, keyPrefix: 'test:', busSecret },
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
    ;[a, b] = await Promise.all([
      startGateway(replicaConfig('a', 'env:TEST_BUS_SECRET'), { TEST_BUS_SECRET: SECRET }),
      startGateway(replicaConfig('b', `file:${file('bus-secret', `${SECRET}\n`)}`)),
    ])
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
  /** How long the last burst took, in seconds: the buckets refill while a slow machine sends it. */
  let burstSeconds = 0
  /**
   * The most a limit of 20/s with burst 20 lets through one burst on `buckets` buckets: 35 on
   * one (the burst, and room for the leases the replicas take) and 70 on two, when the burst
   * is sent within 0.75 s; what refilled after that on top.
   */
  const mostAdmitted = (buckets: number) => buckets * (35 + Math.ceil(20 * Math.max(0, burstSeconds - 0.75)))
  async function burst(path: string, count = 100): Promise<Map<number, number>> {
    const statuses = new Map<number, number>()
    const started = performance.now()
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
    burstSeconds = (performance.now() - started) / 1000
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
    expect(ok).toBeLessThanOrEqual(mostAdmitted(1))
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

  test('messages another Redis client publishes unsigned, with a wrong key or too late are dropped and counted; signed with busSecret, applied', async () => {
    const path = '/cached/forged'
    await cachedAtBoth(path)
    const intruder = new Redis(redis.url)
    try {
      const purge = { from: 'intruder', purge: { url: `http://${HOST}${path}` } }
      // The format of the unsigned bus, twice; a key that is not busSecret; busSecret's key, 2 minutes late.
      await intruder.publish('test:cache', JSON.stringify(purge))
      await intruder.publish('test:cache', JSON.stringify(purge))
      await intruder.publish('test:cache', createMessageSigner('a-wrong-bus-secret-0123456789abcdef', 'test:cache').sign(purge))
      await intruder.publish('test:cache', createMessageSigner(SECRET, 'test:cache').sign(purge, Date.now() - 120_000))
      for (const gw of [a, b]) {
        await waitFor(
          async () => (await rejected(gw, 'unsigned')) === 2 && (await rejected(gw, 'bad_signature')) === 1 && (await rejected(gw, 'stale')) === 1,
          3000,
          'the forged messages to be counted'
        )
        expect((await get(gw, path)).headers.get('x-cache-status')).toBe('HIT')
        // One warn line per reason, not one per message.
        const lines = events(gw.output(), 'replica_message_rejected')
        expect(lines.map((line) => line.reason).sort()).toEqual(['bad_signature', 'stale', 'unsigned'])
      }
      expect(hits.get(path)).toBe(2)
      // The same purge, signed with busSecret and on time, is applied: the others failed on their signature.
      await intruder.publish('test:cache', createMessageSigner(SECRET, 'test:cache').sign(purge))
      await missesAt(a, path)
      await missesAt(b, path)
    } finally {
      intruder.disconnect()
    }
  })

  test('a third replica without busSecret, while others listen on the bus, exits 2 naming redis.busSecret', async () => {
    const config = { ...replicaConfig('c'), server: { workers: 1, host: '127.0.0.1', port: 0 }, admin: { port: 0 } }
    const { proc, output } = spawnMain(['--config', writeConfig(config)])
    try {
      await waitFor(() => proc.exitCode !== null, 5000, 'the third replica to exit')
      expect(proc.exitCode).toBe(2)
      await waitFor(() => events(output(), 'replica_bus_refused').length === 1, 3000, 'the refusal to be logged')
      expect(events(output(), 'replica_bus_refused')[0]).toMatchObject({ field: 'redis.busSecret', otherReplicas: 2 })
      expect(events(output(), 'listening')).toHaveLength(0)
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL')
    }
  })

  test('a replica alone on its bus without busSecret starts, says the bus is off once, publishes and applies nothing', async () => {
    const solo = await startGateway({ ...replicaConfig('solo'), redis: { url: redis.url, keyPrefix: 'solo:' } })
    const listener = new Redis(redis.url)
    const intruder = new Redis(redis.url)
    try {
      expect(events(solo.output(), 'replica_bus_off')).toMatchObject([{ field: 'redis.busSecret', checked: true }])
      const seen: string[] = []
      listener.on('message', (_channel: string, text: string) => seen.push(text))
      await listener.subscribe('solo:cache')
      const path = '/cached/solo'
      expect((await get(solo, path)).headers.get('x-cache-status')).toBe('MISS')
      const purged = (await (await fetch(`http://127.0.0.1:${solo.adminPort}/cache/purge?url=${encodeURIComponent(`http://${HOST}${path}`)}`, { method: 'POST' })).json()) as Record<string, unknown>
      expect(purged).toMatchObject({ purged: 1, workers: 1 })
      expect(purged.replicas).toBeUndefined()
      expect((await fetch(solo.url(path), { method: 'POST', headers: { host: HOST } })).status).toBe(200)
      expect((await get(solo, path)).headers.get('x-cache-status')).toBe('MISS')
      expect((await get(solo, path)).headers.get('x-cache-status')).toBe('HIT')
      // A marker after the purge and the POST: Redis delivers in order, so what solo published would be before it.
      const marker = createMessageSigner(SECRET, 'solo:cache').sign({ from: 'intruder', purge: { url: `http://${HOST}${path}` } })
      await intruder.publish('solo:cache', marker)
      await waitFor(() => seen.length > 0, 3000, 'the marker')
      expect(seen).toEqual([marker])
      // And solo applied nothing, not even a validly signed purge.
      await waitFor(async () => (await rejected(solo, 'bus_off')) === 1, 3000, 'the marker to be dropped')
      expect((await get(solo, path)).headers.get('x-cache-status')).toBe('HIT')
    } finally {
      listener.disconnect()
      intruder.disconnect()
      expect(await solo.stop()).toBe(0)
    }
  })

  test('Redis killed: both replicas keep serving on their node limits, say so, and go global again when it is back', async () => {
    await redis.kill()
    // allow: each replica holds the limit on its own, so both bursts get through.
    const fallback = await burst('/global/y')
    expect((fallback.get(200) ?? 0) + (fallback.get(429) ?? 0)).toBe(100)
    expect(fallback.get(200)).toBeGreaterThanOrEqual(40)
    expect(fallback.get(200)).toBeLessThanOrEqual(mostAdmitted(2))
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
    expect(again.get(200)).toBeLessThanOrEqual(mostAdmitted(1))
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

/** A self-signed certificate for 127.0.0.1 (openssl), as in tls.test.ts. */
function makeCert(name: string, cn = 'localhost') {
  const cert = join(dir, `${name}.pem`)
  const key = join(dir, `${name}-key.pem`)
  const result = Bun.spawnSync([
    'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', key, '-out', cert,
    '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ])
  if (result.exitCode !== 0) throw new Error(`openssl failed: ${result.stderr.toString()}`)
  return { certFile: cert, keyFile: key }
}

const tlsReady = hasBinary('redis-server') && hasBinary('openssl')

describe.skipIf(!tlsReady)('Redis over TLS (rediss://) with the ACL user of docs/scaling.md', () => {
  let redis: RedisServer
  let origin: Server<undefined>
  const adminPassword = `admin-${crypto.randomUUID()}`
  const gatewayPassword = `gateway-${crypto.randomUUID()}`
  let server: { certFile: string; keyFile: string }
  let other: { certFile: string; keyFile: string }

  beforeAll(async () => {
    server = makeCert('redis')
    other = makeCert('other', 'other')
    // The documented line, with this test's password and keyPrefix: the docs stay true.
    const documented = /^ *(user gateway on .*)$/m.exec(await Bun.file(join(import.meta.dir, '..', '..', 'docs', 'scaling.md')).text())
    if (!documented) throw new Error('docs/scaling.md has no `user gateway on` ACL line')
    const acl = documented[1]!.replace('>a-long-random-password', `>${gatewayPassword}`).replaceAll('gateway:', 'tls:')
    redis = await startRedis(undefined, { tls: server, config: [`user default on >${adminPassword} ~* &* +@all`, acl] })
    origin = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('ok', { headers: { 'cache-control': 'max-age=300' } }) })
  }, 20_000)

  afterAll(async () => {
    await redis?.stop()
    origin?.stop(true)
  })

  const routes = () => [
    { path: '/global', upstream: 'app', rateLimit: { requestsPerSecond: 100, burst: 100, key: 'ip', scope: 'global', onStoreFailure: 'deny' } },
    { path: '/', upstream: 'app', cache: { enabled: true } },
  ]

  test('with its CA and the user from env and file, the gateway limits, subscribes and publishes within its prefix; the password is never printed', async () => {
    const gw = await startGateway(
      {
        redis: { url: redis.url, keyPrefix: 'tls:', username: 'env:TEST_REDIS_USER', password: `file:${file('redis-password', gatewayPassword)}`, tls: { caFile: server.certFile }, busSecret: SECRET },
        upstreams: { app: { targets: [`http://127.0.0.1:${origin.port}`] } },
        routes: routes(),
      },
      { TEST_REDIS_USER: 'gateway' }
    )
    const admin = new Redis(redis.url, { password: adminPassword, tls: { ca: await Bun.file(server.certFile).text() } })
    try {
      expect(redis.url.startsWith('rediss://')).toBe(true)
      await waitFor(async () => sumOf(await scrape(gw.adminPort), 'gateway_redis_connected') === 1, 5000, 'the gateway to connect')
      // deny: a 200 means Redis answered the take (EVALSHA and the script's commands under the ACL).
      expect((await fetch(gw.url('/global/x'))).status).toBe(200)
      expect(await admin.keys('tls:rl:*')).toHaveLength(1)
      expect(await admin.pubsub('NUMSUB', 'tls:cache')).toEqual(['tls:cache', 1])
      const purged = await fetch(`http://127.0.0.1:${gw.adminPort}/cache/purge?url=${encodeURIComponent('http://api.example/x')}`, { method: 'POST' })
      expect(await purged.json()).toMatchObject({ replicas: true })
      const metrics = await scrape(gw.adminPort)
      expect(sumOf(metrics, 'gateway_rate_limit_store_failures_total')).toBe(0)
      expect(events(gw.output(), 'redis_error')).toEqual([])
      expect(metrics).not.toContain(gatewayPassword)
    } finally {
      admin.disconnect()
      expect(await gw.stop()).toBe(0)
    }
    expect(gw.output()).not.toContain(gatewayPassword)
    expectCleanOutput(gw.output())
  }, 20_000)

  test('with a CA that did not sign the certificate there is no connection, and the url with a password in it is never printed', async () => {
    const gw = await startGateway({
      redis: { url: redis.url.replace('rediss://', `rediss://gateway:${gatewayPassword}@`), keyPrefix: 'tls:', tls: { caFile: other.certFile }, busSecret: SECRET },
      upstreams: { app: { targets: [`http://127.0.0.1:${origin.port}`] } },
      routes: routes(),
    })
    try {
      await waitFor(() => events(gw.output(), 'redis_error').length > 0, 5000, 'a redis_error')
      expect((await fetch(gw.url('/global/x'))).status).toBe(503)
      expect(sumOf(await scrape(gw.adminPort), 'gateway_redis_connected')).toBe(0)
    } finally {
      expect(await gw.stop()).toBe(0)
    }
    expect(events(gw.output(), 'redis_error')[0]!.error).toMatch(/CERT|SELF_SIGNED|certificate/i)
    expect(gw.output()).not.toContain(gatewayPassword)
  }, 20_000)
})
