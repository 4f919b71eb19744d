/**
 * Targets written with a name are resolved by the gateway (issue 27): each address is a
 * target of its own, re-resolved at the TTL; a removed address is drained; a DNS server that
 * stops answering leaves the last set with one warn line. A DNS server of the test's own on
 * loopback UDP; upstreams on 127.0.0.2/3/4 (Linux routes all of 127/8 to lo), one port.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCertificate } from '../fixtures/certs.ts'
import { startDnsServer, type DnsServer } from '../fixtures/dns.ts'
import { events, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'

const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4']
/** An https upstream whose certificate names secure.test only, on an address of its own. */
const SECURE_ADDRESS = '127.0.0.5'
let dns: DnsServer
let port = 0
let securePort = 0
let secureCa = ''
/** The Host each request to the https upstream carried. */
const secureHosts: string[] = []
const servers: Server<undefined>[] = []
/** Requests per upstream address, and the Host each saw. */
const hits = new Map<string, number>()
const hosts = new Set<string>()
let gw: GatewayProcess

/** The same port on every address: an A record carries no port. */
function serveAll(): void {
  for (const hostname of ADDRESSES) {
    const server = Bun.serve({
      hostname,
      port,
      development: false,
      async fetch(req) {
        const url = new URL(req.url)
        hits.set(hostname, (hits.get(hostname) ?? 0) + 1)
        hosts.add(req.headers.get('host') ?? '')
        if (url.pathname === '/slow') await Bun.sleep(Number(url.searchParams.get('ms')))
        return new Response(hostname)
      },
    })
    port = server.port!
    servers.push(server)
  }
}

const upstreamsView = async () => {
  const res = await fetch(`http://127.0.0.1:${gw.adminPort}/upstreams`)
  const { upstreams } = (await res.json()) as { upstreams: { name: string; targets: { url: string }[] }[] }
  return Object.fromEntries(upstreams.map((u) => [u.name, u.targets.map((t) => t.url).sort()]))
}

/** The https upstream: answers only over TLS with the certificate of secure.test. */
function serveSecure(): void {
  const cert = makeCertificate(mkdtempSync(join(tmpdir(), 'gw-dns-tls-')), 'secure', 'secure.test', true)
  secureCa = cert.cert
  const server = Bun.serve({
    hostname: SECURE_ADDRESS,
    port: 0,
    development: false,
    tls: { cert: readFileSync(cert.cert, 'utf8'), key: readFileSync(cert.key, 'utf8') },
    fetch(req) {
      secureHosts.push(req.headers.get('host') ?? '')
      return new Response('secure')
    },
  })
  securePort = server.port!
  servers.push(server)
}

beforeAll(async () => {
  serveAll()
  serveSecure()
  dns = await startDnsServer(
    {
      'app.test': { A: ['127.0.0.2', '127.0.0.3'] },
      '_http._tcp.svc.test': { SRV: [
        { priority: 1, weight: 1, port, target: 'a.svc.test' },
        { priority: 2, weight: 1, port, target: 'b.svc.test' },
      ] },
      'a.svc.test': { A: ['127.0.0.4'] },
      'b.svc.test': { A: ['127.0.0.2'] },
      'secure.test': { A: [SECURE_ADDRESS] },
      // The same address under a name its certificate does not carry.
      'other.test': { A: [SECURE_ADDRESS] },
    },
    1
  )
  gw = await startGateway({
    server: { workers: 2 },
    dns: { servers: [dns.address], minTtlSeconds: 1, maxTtlSeconds: 2 },
    upstreams: {
      app: { targets: [`http://app.test:${port}`], timeoutMs: 10_000 },
      srv: { targets: ['srv+http://_http._tcp.svc.test'] },
      secure: { targets: [`https://secure.test:${securePort}`], tls: { caFile: secureCa }, retries: { attempts: 1 } },
      misnamed: { targets: [`https://other.test:${securePort}`], tls: { caFile: secureCa }, retries: { attempts: 1 } },
    },
    routes: [
      { path: '/srv', upstream: 'srv', stripPrefix: true },
      { path: '/secure', upstream: 'secure' },
      { path: '/misnamed', upstream: 'misnamed' },
      { path: '/', upstream: 'app' },
    ],
  })
})

afterAll(async () => {
  await gw?.stop()
  dns?.stop()
  for (const s of servers) s.stop(true)
})

test('requests spread over both addresses of the name, with the name as Host', async () => {
  hits.clear()
  for (let i = 0; i < 20; i++) expect((await fetch(gw.url('/'))).status).toBe(200)
  expect(hits.get('127.0.0.2')).toBeGreaterThan(0)
  expect(hits.get('127.0.0.3')).toBeGreaterThan(0)
  expect([...hosts]).toContain(`app.test:${port}`)
  expect((await upstreamsView()).app).toEqual([`http://127.0.0.2:${port}`, `http://127.0.0.3:${port}`])
})

test('https by name: the connection goes to the address, the certificate is checked against the name, which is the Host', async () => {
  await waitFor(async () => (await upstreamsView()).secure?.[0] === `https://${SECURE_ADDRESS}:${securePort}`, 10_000, 'the https name resolved')
  const res = await fetch(gw.url('/secure/x'))
  expect(res.status).toBe(200)
  expect(await res.text()).toBe('secure')
  expect(secureHosts).toEqual([`secure.test:${securePort}`])
  // The same address and CA under another name: the certificate does not name it, so no answer is relayed.
  await waitFor(async () => (await upstreamsView()).misnamed?.[0] === `https://${SECURE_ADDRESS}:${securePort}`, 10_000, 'the other name resolved')
  const misnamed = await fetch(gw.url('/misnamed/x'))
  expect(misnamed.status).toBe(502)
  expect(((await misnamed.json()) as { error: string }).error).toBe('bad_gateway')
  expect(secureHosts).toHaveLength(1)
})

test('SRV: the lowest priority only, each record target resolved', async () => {
  const body = await (await fetch(gw.url('/srv/x'))).text()
  expect(body).toBe('127.0.0.4')
  expect((await upstreamsView()).srv).toEqual([`http://127.0.0.4:${port}`])
})

test('a record added after the TTL brings a third target', async () => {
  dns.records.set('app.test', { A: ['127.0.0.2', '127.0.0.3', '127.0.0.4'] })
  await waitFor(async () => (await upstreamsView()).app?.length === 3, 10_000, 'the third address')
  hits.clear()
  for (let i = 0; i < 30; i++) await fetch(gw.url('/'))
  expect(hits.get('127.0.0.4')).toBeGreaterThan(0)
  expect(events(gw.output(), 'dns_targets_changed').some((e) => e.added.includes(`http://127.0.0.4:${port}`))).toBe(true)
})

test('a removed address is drained: its in-flight request completes, it gets no new ones', async () => {
  // Slow requests land on every address; then 127.0.0.4 leaves the record.
  const slow = Array.from({ length: 6 }, () => fetch(gw.url('/slow?ms=3000')).then(async (r) => ({ status: r.status, body: await r.text() })))
  await waitFor(() => (hits.get('127.0.0.4') ?? 0) > 0 && [...hits.values()].reduce((a, b) => a + b, 0) >= 36, 5000, 'slow requests to reach the upstreams')
  dns.records.set('app.test', { A: ['127.0.0.2', '127.0.0.3'] })
  await waitFor(async () => (await upstreamsView()).app?.length === 2, 10_000, 'the address to go')
  const before = hits.get('127.0.0.4') ?? 0
  for (let i = 0; i < 20; i++) expect((await fetch(gw.url('/'))).status).toBe(200)
  expect(hits.get('127.0.0.4') ?? 0).toBe(before)
  const done = await Promise.all(slow)
  expect(done.every((r) => r.status === 200)).toBe(true)
  expect(done.map((r) => r.body)).toContain('127.0.0.4')
  expect(events(gw.output(), 'dns_targets_changed').some((e) => e.removed.includes(`http://127.0.0.4:${port}`))).toBe(true)
})

test('a DNS server that stops answering: the last set stays, one warn line', async () => {
  dns.silent = true
  await waitFor(() => events(gw.output(), 'dns_resolve_failed').length > 0, 15_000, 'the warn line')
  // Another failing round or two, still one line per name.
  const queried = dns.queries.length
  await waitFor(() => dns.queries.length >= queried + 8, 15_000, 'more failing queries')
  const warns = events(gw.output(), 'dns_resolve_failed')
  expect(warns.filter((w) => w.name === 'app.test')).toHaveLength(1)
  expect((await upstreamsView()).app).toEqual([`http://127.0.0.2:${port}`, `http://127.0.0.3:${port}`])
  expect((await fetch(gw.url('/'))).status).toBe(200)
  dns.silent = false
}, 40_000)
