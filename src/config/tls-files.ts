/**
 * TLS material read and parsed at load, so a wrong file is named before a worker starts
 * (where Bun.serve would fail with ERR_OSSL_PEM_NO_START_LINE and every worker exit 1): the
 * server's certificate and key each parsed (node:crypto), a swapped pair and a key of another
 * certificate named, an expired certificate refused (every client that verifies would fail
 * the handshake), and a CA bundle's certificates parsed. And each file's expiry, for metrics.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { GatewayConfig } from './schema.ts'

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g
const HAS_CERTIFICATE = /-----BEGIN CERTIFICATE-----/
const PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/

type Read = { text: string } | { error: string }

function read(path: string): Read {
  try {
    return { text: readFileSync(path, 'utf8') }
  } catch (err) {
    return { error: `${path} cannot be read (${(err as { code?: string }).code ?? 'error'})` }
  }
}

/** The certificates in a PEM text, or the problem with it. */
function certificates(path: string, text: string): X509Certificate[] | string {
  const blocks = text.match(CERTIFICATE) ?? []
  if (blocks.length === 0) return PRIVATE_KEY.test(text) ? `${path} holds a private key, not a certificate` : `${path} holds no PEM certificate`
  try {
    return blocks.map((block) => new X509Certificate(block))
  } catch {
    return `${path} holds a certificate that cannot be parsed`
  }
}

/** The private key in a PEM text, or the problem with it. */
function privateKey(path: string, text: string): KeyObject | string {
  try {
    return createPrivateKey(text)
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MISSING_PASSPHRASE') return `${path} is encrypted; give the key without a passphrase`
    return HAS_CERTIFICATE.test(text) ? `${path} holds a certificate, not a private key` : `${path} holds no PEM private key`
  }
}

type ServerTls = NonNullable<GatewayConfig['server']['tls']>

/** `server.tls`: `field: problem` lines, for the default pair, each of `certificates` and the CA files. `now` is for tests. */
export function serverTlsProblems(tls: Pick<ServerTls, 'certFile' | 'keyFile' | 'caFile'> & Partial<Pick<ServerTls, 'certificates' | 'clientAuth'>>, now = new Date()): string[] {
  const errors = pairProblems('server.tls', tls, now)
  tls.certificates?.forEach((pair, i) => errors.push(...pairProblems(`server.tls.certificates[${i}]`, pair, now)))
  if (tls.caFile !== undefined) {
    const problem = caFileProblem(tls.caFile)
    if (problem) errors.push(`server.tls.caFile: ${problem}`)
  }
  if (tls.clientAuth) {
    const problem = caFileProblem(tls.clientAuth.caFile)
    if (problem) errors.push(`server.tls.clientAuth.caFile: ${problem}`)
  }
  return errors
}

/** One certificate and its key, named under `field`: each parsed, not swapped, matching, not expired. */
function pairProblems(field: string, pair: { certFile: string; keyFile: string }, now: Date): string[] {
  const errors: string[] = []
  const certText = read(pair.certFile)
  const keyText = read(pair.keyFile)
  const certs = 'text' in certText ? certificates(pair.certFile, certText.text) : certText.error
  const key = 'text' in keyText ? privateKey(pair.keyFile, keyText.text) : keyText.error
  const swapped = typeof certs === 'string' && typeof key === 'string' && certs.includes('holds a private key') && key.includes('holds a certificate')
  const hint = swapped ? ' (certFile and keyFile swapped?)' : ''
  if (typeof certs === 'string') errors.push(`${field}.certFile: ${certs}${hint}`)
  if (typeof key === 'string') errors.push(`${field}.keyFile: ${key}${hint}`)
  if (typeof certs !== 'string') {
    const leaf = certs[0]!
    // A certificate past its notAfter fails every verifying client's handshake (RFC 5280 §4.1.2.5).
    if (leaf.validToDate.getTime() < now.getTime()) errors.push(`${field}.certFile: ${pair.certFile} expired on ${leaf.validToDate.toISOString()} (${leaf.subject.replaceAll('\n', ', ')})`)
    if (typeof key !== 'string' && !leaf.checkPrivateKey(key)) errors.push(`${field}.keyFile: ${pair.keyFile} is not the key of the certificate in ${pair.certFile}`)
  }
  return errors
}

/** A CA bundle: readable, and every certificate in it parses. */
export function caFileProblem(path: string): string | undefined {
  const text = read(path)
  if ('error' in text) return text.error
  const certs = certificates(path, text.text)
  return typeof certs === 'string' ? certs : undefined
}

/** What a certificate file is for: the server's certificate, its chain, a CA trusted for an upstream or Redis, or for client certificates. */
export type CertificateUse = 'server' | 'server_chain' | 'upstream_ca' | 'redis_ca' | 'client_ca'

export interface CertificateExpiry {
  use: CertificateUse
  file: string
  /** The earliest notAfter of the file's certificates (when the chain it serves or trusts first breaks), in unix seconds. */
  notAfter: number
}

/**
 * The expiry of every certificate file the config names, read now (at load and on each
 * reload, never per request); a file shared by several upstreams is listed once. A file that
 * cannot be read or parsed is left out (load refused it already, or it changed since).
 */
export function certificateExpiries(config: GatewayConfig): CertificateExpiry[] {
  const files = new Map<string, CertificateUse>()
  const tls = config.server.tls
  if (tls) {
    files.set(tls.certFile, 'server')
    for (const pair of tls.certificates ?? []) if (!files.has(pair.certFile)) files.set(pair.certFile, 'server')
    if (tls.caFile !== undefined && !files.has(tls.caFile)) files.set(tls.caFile, 'server_chain')
    if (tls.clientAuth && !files.has(tls.clientAuth.caFile)) files.set(tls.clientAuth.caFile, 'client_ca')
  }
  for (const upstream of Object.values(config.upstreams)) {
    const file = upstream.tls?.caFile
    if (file !== undefined && !files.has(file)) files.set(file, 'upstream_ca')
  }
  const redisCa = config.redis?.tls?.caFile
  if (redisCa !== undefined && !files.has(redisCa)) files.set(redisCa, 'redis_ca')
  const expiries: CertificateExpiry[] = []
  for (const [file, use] of files) {
    const text = read(file)
    const certs = 'text' in text ? certificates(file, text.text) : text.error
    if (typeof certs === 'string') continue
    const notAfter = Math.min(...certs.map((cert) => cert.validToDate.getTime() / 1000))
    expiries.push({ use, file, notAfter })
  }
  return expiries
}
