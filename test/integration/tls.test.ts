/**
 * TLS with certificates the test makes with openssl: termination on the public port (curl
 * and fetch over https, X-Forwarded-Proto https, the plain-HTTP redirect, a certificate
 * renewed by SIGHUP), HTTPS upstreams verified against a CA file (a wrong CA is a 502 and
 * one log line with the reason), and HTTP/2 to a node:http2 upstream with the fallback to
 * HTTP/1.1 for one without h2.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { events, expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'
import { bodyOf, rawRequest, statusOf } from '../fixtures/raw.ts'

const dir = mkdtempSync(join(tmpdir(), 'gw-tls-'))
const file = (name: string) => join(dir, name)

/** A self-signed certificate, for localhost and 127.0.0.1 unless `san` says otherwise. */
function makeCert(name: string, cn = 'localhost', san = 'DNS:localhost,IP:127.0.0.1') {
  const result = Bun.spawnSync([
    'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', file(`${name}-key.pem`), '-out', file(`${name}.pem`),
    '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`,
  ])
  if (result.exitCode !== 0) throw new Error(`openssl failed: ${result.stderr.toString()}`)
  return { cert: readFileSync(file(`${name}.pem`), 'utf8'), key: readFileSync(file(`${name}-key.pem`), 'utf8') }
}

function freePort(): number {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

let upstream: RecordingUpstream
let gw: GatewayProcess
let first: { cert: string; key: string }
let redirectPort: number

beforeAll(async () => {
  first = makeCert('server')
  makeCert('other', 'other')
  // The files the gateway reads: renewed in place by the SIGHUP test.
  writeFileSync(file('live.pem'), first.cert)
  writeFileSync(file('live-key.pem'), first.key)
  upstream = startRecordingUpstream()
  redirectPort = freePort()
  gw = await startGateway({
    server: { tls: { certFile: file('live.pem'), keyFile: file('live-key.pem') }, httpRedirectPort: redirectPort },
    upstreams: { app: { targets: [upstream.origin] } },
    routes: [{ path: '/', upstream: 'app' }],
  })
}, 20_000)

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
  upstream.stop()
})

const https = (path: string) => `https://127.0.0.1:${gw.port}${path}`

describe('TLS termination', () => {
  test('fetch and curl get 200 over https; the upstream is told X-Forwarded-Proto: https', async () => {
    const res = await fetch(https('/tls'), { tls: { ca: first.cert } })
    expect(res.status).toBe(200)
    expect(upstream.requests.at(-1)!.headers['x-forwarded-proto']).toBe('https')
    // Not spawnSync: the upstream runs in this process and must keep answering.
    const curl = Bun.spawn(['curl', '-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', file('server.pem'), https('/curl')], { stdout: 'pipe' })
    expect(await new Response(curl.stdout).text()).toBe('200')
    // Without the CA the certificate does not verify: it is TLS, not plain text.
    expect(await Bun.spawn(['curl', '-s', '-m', '5', '-o', '/dev/null', https('/curl')]).exited).not.toBe(0)
  })

  test('plain HTTP on httpRedirectPort gets a 308 to the https URL', async () => {
    const res = await fetch(`http://127.0.0.1:${redirectPort}/a/b?c=1`, { redirect: 'manual' })
    expect(res.status).toBe(308)
    expect(res.headers.get('location')).toBe(`https://127.0.0.1:${gw.port}/a/b?c=1`)
  })

  test('the redirect normalises Host and answers one it cannot parse with a 400, never a 500 or a stack trace', async () => {
    const normal = await rawRequest(redirectPort, 'GET /x?y=1 HTTP/1.1\r\nHost: Example.COM.:80\r\nConnection: close\r\n\r\n')
    expect(statusOf(normal)).toBe(308)
    expect(normal.toLowerCase()).toContain(`location: https://example.com:${gw.port}/x?y=1\r\n`)
    for (const host of ['a@evil.example', 'evil.example/x', 'a..b']) {
      const reply = await rawRequest(redirectPort, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      expect(statusOf(reply)).toBe(400)
      expect(JSON.parse(bodyOf(reply))).toMatchObject({ error: 'bad_request', status: 400, requestId: expect.any(String) })
      expect(reply).not.toContain('evil')
    }
    // expectCleanOutput in afterAll: no stack trace was printed.
    expect(gw.output()).not.toContain('Something went wrong')
  })

  test('minVersion TLSv1.3 refuses a TLS 1.2 client', async () => {
    const strict = await startGateway({
      server: { tls: { certFile: file('server.pem'), keyFile: file('server-key.pem'), minVersion: 'TLSv1.3' } },
      upstreams: { app: { targets: [upstream.origin] } },
      routes: [{ path: '/', upstream: 'app' }],
    })
    try {
      const curl = (...flags: string[]) => Bun.spawn(['curl', '-s', '-m', '5', '-o', '/dev/null', '--cacert', file('server.pem'), ...flags, `https://127.0.0.1:${strict.port}/v`]).exited
      expect(await curl('--tls-max', '1.2')).not.toBe(0)
      expect(await curl('--tlsv1.3')).toBe(0)
    } finally {
      expect(await strict.stop()).toBe(0)
    }
  }, 20_000)

  test('SIGHUP serves a certificate renewed in place, without a restart', async () => {
    const renewed = makeCert('renewed')
    const withRenewed = () => fetch(https('/renewed'), { tls: { ca: renewed.cert } }).then((r) => r.status, () => 0)
    expect(await withRenewed()).toBe(0)
    writeFileSync(file('live.pem'), renewed.cert)
    writeFileSync(file('live-key.pem'), renewed.key)
    gw.proc.kill('SIGHUP')
    await waitFor(async () => (await withRenewed()) === 200, 10_000, 'the renewed certificate')
  }, 20_000)
})

describe('HTTPS and HTTP/2 upstreams', () => {
  let h2: http2.Http2SecureServer
  let h2Port: number
  let h1: Bun.Server<undefined>
  const versions: string[] = []

  beforeAll(async () => {
    const server = readFileSync(file('server.pem'))
    const key = readFileSync(file('server-key.pem'))
    h2 = http2.createSecureServer({ key, cert: server, allowHTTP1: true }, (req, res) => {
      versions.push(req.httpVersion)
      res.end(`http ${req.httpVersion}`)
    })
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve))
    h2Port = (h2.address() as AddressInfo).port
    h1 = Bun.serve({ hostname: '127.0.0.1', port: 0, tls: { cert: server.toString(), key: key.toString() }, fetch: () => new Response('bun http/1.1') })
  })

  afterAll(() => {
    h2.close()
    h1.stop(true)
  })

  test('verified against caFile; HTTP/2 when asked, HTTP/1.1 otherwise; a target without h2 falls back', async () => {
    const proxy = await startGateway({
      upstreams: {
        plain: { targets: [`https://127.0.0.1:${h2Port}`], tls: { caFile: file('server.pem') } },
        h2: { targets: [`https://127.0.0.1:${h2Port}`], tls: { caFile: file('server.pem') }, http2: true },
        h1only: { targets: [`https://127.0.0.1:${h1.port}`], tls: { caFile: file('server.pem') }, http2: true },
        named: { targets: [`https://127.0.0.1:${h1.port}`], tls: { caFile: file('server.pem'), serverName: 'localhost' } },
      },
      routes: [
        { path: '/plain', upstream: 'plain', stripPrefix: true },
        { path: '/h2', upstream: 'h2', stripPrefix: true },
        { path: '/h1only', upstream: 'h1only', stripPrefix: true },
        { path: '/named', upstream: 'named', stripPrefix: true },
      ],
    })
    try {
      const body = async (path: string) => {
        const res = await fetch(proxy.url(path))
        return `${res.status} ${await res.text()}`
      }
      expect(await body('/plain/x')).toBe('200 http 1.1')
      expect(await body('/h2/x')).toBe('200 http 2.0')
      expect(versions).toContain('2.0')
      expect(await body('/h1only/x')).toBe('200 bun http/1.1')
      expect(await body('/h1only/y')).toBe('200 bun http/1.1')
      expect(await body('/named/x')).toBe('200 bun http/1.1')
    } finally {
      expect(await proxy.stop()).toBe(0)
      expectCleanOutput(proxy.output())
    }
  }, 20_000)

  test('a WebSocket to an https:// target is verified against caFile too: echo with the right CA, 502 with a wrong one', async () => {
    const wss = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      tls: { cert: readFileSync(file('server.pem'), 'utf8'), key: readFileSync(file('server-key.pem'), 'utf8') },
      fetch: (req, server) => (server.upgrade(req, { data: undefined }) ? undefined : new Response('no', { status: 400 })),
      websocket: { message: (ws, message) => void ws.send(message) },
    })
    const proxy = await startGateway({
      upstreams: {
        good: { targets: [`https://127.0.0.1:${wss.port}`], tls: { caFile: file('server.pem') } },
        bad: { targets: [`https://127.0.0.1:${wss.port}`], tls: { caFile: file('other.pem') } },
      },
      routes: [
        { path: '/good', upstream: 'good', stripPrefix: true },
        { path: '/bad', upstream: 'bad', stripPrefix: true },
      ],
    })
    try {
      const ws = new WebSocket(proxy.url('/good/ws').replace('http://', 'ws://'))
      await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)))
      const reply = new Promise<string>((resolve) => (ws.onmessage = (e) => resolve(String(e.data))))
      ws.send('over wss')
      expect(await reply).toBe('over wss')
      ws.close()
      const refused = await fetch(proxy.url('/bad/ws'), {
        headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
      })
      expect(refused.status).toBe(502)
    } finally {
      expect(await proxy.stop()).toBe(0)
      wss.stop(true)
    }
  }, 20_000)

  test("active health checks verify a private-CA target with the upstream's caFile and serverName: healthy with both, unhealthy with a wrong CA or without the name", async () => {
    // A certificate that names only upstream.internal: the target's address 127.0.0.1 does not match it.
    const internal = makeCert('internal', 'upstream.internal', 'DNS:upstream.internal')
    const target = Bun.serve({ hostname: '127.0.0.1', port: 0, tls: internal, fetch: () => new Response('ok') })
    const checked = (tls: Record<string, string>) => ({ targets: [`https://127.0.0.1:${target.port}`], tls, healthCheck: { path: '/health', intervalSeconds: 60 } })
    const proxy = await startGateway({
      upstreams: {
        private: checked({ caFile: file('internal.pem'), serverName: 'upstream.internal' }),
        wrongCa: checked({ caFile: file('other.pem'), serverName: 'upstream.internal' }),
        noName: checked({ caFile: file('internal.pem') }),
      },
      routes: [{ path: '/', upstream: 'private' }],
    })
    try {
      // The first round's verdicts are in before the gateway listens.
      const verdicts = Object.fromEntries(events(proxy.output(), 'target_health').map((e) => [e.upstream, e.healthy]))
      expect(verdicts).toEqual({ private: true, wrongCa: false, noName: false })
      expect((await fetch(proxy.url('/x'))).status).toBe(200)
    } finally {
      expect(await proxy.stop()).toBe(0)
      target.stop(true)
    }
  }, 20_000)

  test('a wrong CA gives 502 and one log line naming the reason, not a silent pass', async () => {
    const proxy = await startGateway({
      upstreams: { app: { targets: [`https://127.0.0.1:${h2Port}`], tls: { caFile: file('other.pem') } } },
      routes: [{ path: '/', upstream: 'app' }],
    })
    try {
      for (let i = 0; i < 3; i++) expect((await fetch(proxy.url('/x'))).status).toBe(502)
      const logged = events(proxy.output(), 'upstream_tls_error')
      expect(logged).toHaveLength(1)
      expect(logged[0]!.reason).toBe('DEPTH_ZERO_SELF_SIGNED_CERT')
    } finally {
      expect(await proxy.stop()).toBe(0)
    }
  }, 20_000)
})
