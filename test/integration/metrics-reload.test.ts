/**
 * The primary's view of its config on /metrics: whether the last SIGHUP reload was applied
 * (and when the config in force was loaded), and the expiry of the certificate it serves,
 * read again on every applied reload. A real gateway terminating TLS, reloaded with a bad
 * config and then with a good one naming a new certificate.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCertificate, type CertFiles } from '../fixtures/certs.ts'
import { events, expectCleanOutput, spawnMain, waitFor, writeConfig } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const dir = mkdtempSync(join(tmpdir(), 'gw-reload-metrics-'))
let upstream: RecordingUpstream
let first: CertFiles
let configPath: string
let gw: ReturnType<typeof spawnMain>
let adminPort: number

const configWith = (cert: CertFiles) => ({
  server: { host: '127.0.0.1', port: 0, workers: 1, tls: { certFile: cert.cert, keyFile: cert.key } },
  admin: { port: 0 },
  upstreams: { app: { targets: [upstream.origin] } },
  routes: [{ path: '/', upstream: 'app' }],
})

/** notAfter as openssl reads it (not node:crypto, which the gateway uses), in unix seconds. */
function notAfter(file: string): number {
  const out = Bun.spawnSync(['openssl', 'x509', '-enddate', '-noout', '-dateopt', 'iso_8601', '-in', file]).stdout.toString()
  return Date.parse(out.trim().slice('notAfter='.length).replace(' ', 'T')) / 1000
}

const SUCCESS = 'gateway_config_last_reload_success'
const SUCCESS_TIME = 'gateway_config_last_reload_success_timestamp_seconds'
const EXPIRY = 'gateway_tls_certificate_expiry_seconds'

/** The one sample of a family without labels. */
const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)

beforeAll(async () => {
  upstream = startRecordingUpstream()
  first = makeCertificate(dir, 'first')
  configPath = writeConfig(configWith(first), 'gateway.json', dir)
  gw = spawnMain(['--config', configPath])
  await waitFor(() => gw.output().includes('"event":"listening"'), 10_000, 'listening')
  adminPort = events(gw.output(), 'listening')[0]!.adminPort
})

afterAll(async () => {
  gw.proc.kill('SIGTERM')
  expect(await gw.proc.exited).toBe(0)
  upstream.stop()
  expectCleanOutput(gw.output())
})

test('certificate expiry is the served certificate\'s notAfter; the start counts as a successful load', async () => {
  const text = await scrape(adminPort)
  expect(notAfter(first.cert)).toBeGreaterThan(Date.now() / 1000)
  expect(sumOf(text, EXPIRY, { use: 'server', file: first.cert })).toBe(notAfter(first.cert))
  expect(value(text, SUCCESS)).toBe(1)
  expect(value(text, SUCCESS_TIME)).toBeLessThanOrEqual(Date.now() / 1000)
  expect(value(text, SUCCESS_TIME)).toBeGreaterThan(Date.now() / 1000 - 60)
})

test('a refused reload sets success to 0 and keeps the time; a good one sets 1, moves the time and reads the new certificate', async () => {
  const loaded = value(await scrape(adminPort), SUCCESS_TIME)

  writeFileSync(configPath, JSON.stringify({ ...configWith(first), routes: [{ path: '/', upstream: 'missing' }] }))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_rejected').length === 1, 8000, 'the reload to be rejected')
  const refused = await scrape(adminPort)
  expect(value(refused, SUCCESS)).toBe(0)
  expect(value(refused, SUCCESS_TIME)).toBe(loaded)
  expect(sumOf(refused, EXPIRY, { file: first.cert })).toBe(notAfter(first.cert))

  const renewed = makeCertificate(dir, 'renewed')
  writeFileSync(configPath, JSON.stringify(configWith(renewed)))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_complete').length === 1, 10_000, 'the reload')
  const applied = await scrape(adminPort)
  expect(value(applied, SUCCESS)).toBe(1)
  expect(value(applied, SUCCESS_TIME)).toBeGreaterThan(loaded)
  expect(sumOf(applied, EXPIRY, { use: 'server', file: renewed.cert })).toBe(notAfter(renewed.cert))
  // The old file's series is gone: only what the config in force names.
  expect(applied).not.toContain(`file="${first.cert}"`)
})

test('a reload that changes a restart-only key (admin.port) is refused too: success 0', async () => {
  expect(value(await scrape(adminPort), SUCCESS)).toBe(1)
  writeFileSync(configPath, JSON.stringify({ ...configWith(first), admin: { port: adminPort } }))
  gw.proc.kill('SIGHUP')
  await waitFor(() => events(gw.output(), 'reload_rejected').length === 2, 8000, 'the reload to be rejected')
  expect(value(await scrape(adminPort), SUCCESS)).toBe(0)
})
