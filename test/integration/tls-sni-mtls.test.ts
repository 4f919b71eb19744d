/**
 * server.tls.certificates (one certificate per SNI name, the default for the rest) and
 * server.tls.clientAuth (client certificates checked in the TLS handshake), through the real
 * start path, seen by openssl s_client and curl with certificates the test makes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCa, makeCertificate, makeSigned } from '../fixtures/certs.ts'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const dir = mkdtempSync(join(tmpdir(), 'gw-sni-'))
let upstream: RecordingUpstream

beforeAll(() => {
  upstream = startRecordingUpstream()
})

afterAll(() => upstream.stop())

/** The subject of the certificate the gateway presents for `serverName` (none: no SNI). Not spawnSync: the upstream runs here. */
async function subjectFor(port: number, serverName: string | undefined): Promise<string> {
  const sni = serverName === undefined ? ['-noservername'] : ['-servername', serverName]
  const proc = Bun.spawn(['openssl', 's_client', '-connect', `127.0.0.1:${port}`, ...sni], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const text = await new Response(proc.stdout).text()
  await proc.exited
  return /^subject=(.*)$/m.exec(text)?.[1]?.trim() ?? 'none'
}

/** curl's exit code and status (000: no HTTP answer) for https://<name>:<port>/<path>, with a client certificate or none. */
async function curl(port: number, path: string, client?: { cert: string; key: string }, headers: string[] = [], flags: string[] = []): Promise<{ exit: number; status: string }> {
  const auth = client ? ['--cert', client.cert, '--key', client.key] : []
  const args = ['curl', '-sk', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', ...auth, ...flags, ...headers.flatMap((h) => ['-H', h])]
  const proc = Bun.spawn([...args, '--resolve', `api.test:${port}:127.0.0.1`, `https://api.test:${port}${path}`], { stdout: 'pipe', stderr: 'ignore' })
  const status = await new Response(proc.stdout).text()
  return { exit: await proc.exited, status }
}

describe('several certificates chosen by SNI', () => {
  let gw: GatewayProcess
  beforeAll(async () => {
    const fallback = makeCertificate(dir, 'default', 'default.test')
    makeCertificate(dir, 'a', 'a.test')
    makeCertificate(dir, 'b', 'b.test')
    makeCertificate(dir, 'wild', 'wild.test')
    // The file the gateway reads for a.test: replaced in place by the SIGHUP test.
    copyFileSync(join(dir, 'a.pem'), join(dir, 'live-a.pem'))
    copyFileSync(join(dir, 'a-key.pem'), join(dir, 'live-a-key.pem'))
    gw = await startGateway({
      server: {
        tls: {
          certFile: fallback.cert,
          keyFile: fallback.key,
          certificates: [
            { certFile: join(dir, 'live-a.pem'), keyFile: join(dir, 'live-a-key.pem'), serverNames: ['a.test'] },
            { certFile: join(dir, 'b.pem'), keyFile: join(dir, 'b-key.pem'), serverNames: ['b.test', 'B2.test'] },
            { certFile: join(dir, 'wild.pem'), keyFile: join(dir, 'wild-key.pem'), serverNames: ['*.wild.test'] },
          ],
        },
      },
      upstreams: { app: { targets: [upstream.origin] } },
      routes: [{ path: '/', upstream: 'app' }],
    })
  }, 20_000)

  afterAll(async () => {
    expect(await gw.stop()).toBe(0)
    expectCleanOutput(gw.output())
  })

  test('each name gets its certificate, names compare case-insensitively, * is one label; other names and no SNI get the default', async () => {
    expect(await subjectFor(gw.port, 'a.test')).toBe('CN = a.test')
    expect(await subjectFor(gw.port, 'b.test')).toBe('CN = b.test')
    expect(await subjectFor(gw.port, 'b2.TEST')).toBe('CN = b.test')
    expect(await subjectFor(gw.port, 'x.wild.test')).toBe('CN = wild.test')
    expect(await subjectFor(gw.port, 'x.y.wild.test')).toBe('CN = default.test')
    expect(await subjectFor(gw.port, 'unknown.test')).toBe('CN = default.test')
    expect(await subjectFor(gw.port, undefined)).toBe('CN = default.test')
    expect((await curl(gw.port, '/sni')).status).toBe('200')
  })

  test('SIGHUP serves a certificate of certificates[] replaced in place', async () => {
    makeCertificate(dir, 'a2', 'a-renewed.test')
    copyFileSync(join(dir, 'a2.pem'), join(dir, 'live-a.pem'))
    copyFileSync(join(dir, 'a2-key.pem'), join(dir, 'live-a-key.pem'))
    gw.proc.kill('SIGHUP')
    await waitFor(async () => (await subjectFor(gw.port, 'a.test')) === 'CN = a-renewed.test', 10_000, 'the renewed certificate for a.test')
    expect(await subjectFor(gw.port, 'b.test')).toBe('CN = b.test')
  }, 20_000)
})

describe('client certificates (clientAuth: require)', () => {
  let gw: GatewayProcess
  let trusted: { cert: string; key: string }
  let stranger: { cert: string; key: string }
  beforeAll(async () => {
    const server = makeCertificate(dir, 'mtls-server', 'api.test')
    const ca = makeCa(dir, 'client-ca')
    const otherCa = makeCa(dir, 'other-ca')
    trusted = makeSigned(dir, 'client', ca, '/CN=client/O=Acme')
    stranger = makeSigned(dir, 'stranger', otherCa, '/CN=client/O=Acme')
    const named = makeCertificate(dir, 'mtls-named', 'named.test')
    gw = await startGateway({
      server: {
        tls: {
          certFile: server.cert,
          keyFile: server.key,
          // The policy holds on an SNI entry too: Bun needs the CA on each entry (server.ts).
          certificates: [{ certFile: named.cert, keyFile: named.key, serverNames: ['named.test'] }],
          clientAuth: { mode: 'require', caFile: ca.cert },
        },
      },
      upstreams: { app: { targets: [upstream.origin] } },
      routes: [{ path: '/', upstream: 'app' }],
    })
  }, 20_000)

  afterAll(async () => {
    expect(await gw.stop()).toBe(0)
  })

  test('no certificate or one from another CA gets no HTTP answer; one from the CA gets 200', async () => {
    const before = upstream.requests.length
    const none = await curl(gw.port, '/none')
    expect(none.status).toBe('000')
    expect(none.exit).not.toBe(0)
    const other = await curl(gw.port, '/other', stranger)
    expect(other.status).toBe('000')
    expect(other.exit).not.toBe(0)
    // TLS 1.2 too, where the certificate comes before the server's Finished.
    expect((await curl(gw.port, '/none12', undefined, [], ['--tls-max', '1.2'])).status).toBe('000')
    expect((await curl(gw.port, '/other12', stranger, [], ['--tls-max', '1.2'])).status).toBe('000')
    expect(upstream.requests.length).toBe(before)
    expect(await curl(gw.port, '/trusted', trusted)).toEqual({ exit: 0, status: '200' })
    expect(upstream.requests.at(-1)!.path).toBe('/trusted')
  })

  test('the SNI entries require a certificate as well', async () => {
    const at = async (client?: { cert: string; key: string }) => {
      const auth = client ? ['--cert', client.cert, '--key', client.key] : []
      const proc = Bun.spawn(['curl', '-sk', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', ...auth, '--resolve', `named.test:${gw.port}:127.0.0.1`, `https://named.test:${gw.port}/named`], { stdout: 'pipe', stderr: 'ignore' })
      return new Response(proc.stdout).text()
    }
    expect(await at()).toBe('000')
    expect(await at(stranger)).toBe('000')
    expect(await at(trusted)).toBe('200')
  })

  test('client-sent certificate headers never reach the upstream, even over a verified connection', async () => {
    const spoof = ['X-Client-Cert-Subject: CN=admin', 'X-Client-Cert-Fingerprint: AA:BB', 'X-Forwarded-Client-Cert: Hash=00;Subject="CN=admin"', 'X-SSL-Client-Verify: SUCCESS']
    expect((await curl(gw.port, '/spoof', trusted, spoof)).status).toBe('200')
    const seen = upstream.requests.at(-1)!
    expect(seen.path).toBe('/spoof')
    for (const name of ['x-client-cert-subject', 'x-client-cert-fingerprint', 'x-forwarded-client-cert', 'x-ssl-client-verify']) expect(seen.headers[name]).toBeUndefined()
  })
})
