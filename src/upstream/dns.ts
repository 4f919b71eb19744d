/**
 * Targets written with a name (not an IP literal) are resolved by the gateway (A/AAAA, or SRV
 * for `srv+http(s)://_service._proto.name`), and each address is a target of its own. This is
 * the part shared by the resolver (in the primary) and the upstreams (in each worker): what a
 * target names, the base URL of each address, TTL bounds and set diffs. docs/upstreams.md, "DNS".
 */
import { isIP } from 'node:net'
import { createTarget } from './target.ts'
import type { Target } from './types.ts'

/** What a target URL asks the resolver for. */
export interface DnsName {
  /** `a`: A and AAAA of `name`; `srv`: the SRV records of `name`, then each record target's A and AAAA. */
  kind: 'a' | 'srv'
  /** The name queried (for SRV, `_service._proto.domain`). */
  name: string
  scheme: 'http' | 'https'
  /** The URL's port for `a` ('' for the scheme's default); unused for SRV (each record has its own). */
  port: string
  /** The base path ('' for none). */
  path: string
  /** The Host sent upstream and the TLS server name: the name (SRV: its domain), with a port that is not the default. */
  host: string
}

/** One address of a resolved name. */
export interface ResolvedAddress {
  ip: string
  port: number
  /** SRV weight (at least 1); the configured target's weight for A/AAAA. */
  weight: number
}

/** The current addresses of one configured target, sent by the resolver to every worker. */
export interface AddressSet {
  upstream: string
  /** The configured target URL, as written. */
  target: string
  addresses: ResolvedAddress[]
}

/** RFC 6761 §6.3: localhost names are loopback by definition; c-ares (node:dns resolve*) ignores /etc/hosts, so leave them to the system. */
const LOCALHOST = /(^|\.)localhost\.?$/i

/** The DNS query a target URL needs, or undefined for an IP literal or localhost (used as written). */
export function dnsNameOf(url: string): DnsName | undefined {
  const srv = /^srv\+(https?):\/\//i.exec(url)
  const parsed = new URL(srv ? url.slice(4) : url)
  const scheme = parsed.protocol === 'https:' ? 'https' : 'http'
  const hostname = parsed.hostname.replace(/^\[|\]$/g, '')
  const path = parsed.pathname === '/' ? '' : parsed.pathname.replace(/\/+$/, '')
  if (srv) {
    const domain = hostname.replace(/^_[^.]+\._[^.]+\./, '')
    return { kind: 'srv', name: hostname, scheme, port: '', path, host: domain }
  }
  if (isIP(hostname) !== 0 || LOCALHOST.test(hostname)) return undefined
  return { kind: 'a', name: hostname, scheme, port: parsed.port, path, host: parsed.host }
}

/** The base URL of one address of `name`: what /upstreams, metrics and health verdicts call the target. */
export function addressUrl(name: DnsName, address: Pick<ResolvedAddress, 'ip' | 'port'>): string {
  const ip = isIP(address.ip) === 6 ? `[${address.ip}]` : address.ip
  return `${name.scheme}://${ip}:${address.port}${name.path}`
}

/** The default port of the name's scheme, for A/AAAA targets written without one. */
export function portOf(name: DnsName): number {
  return name.port ? Number(name.port) : name.scheme === 'https' ? 443 : 80
}

/** An address as a target: connects to the IP, sends `Host: name` (unless preserveHost) and verifies TLS for the name. */
export function addressTarget(name: DnsName, address: ResolvedAddress): Target {
  return { ...createTarget(addressUrl(name, address), address.weight), host: name.host }
}

/**
 * The TLS settings for an address resolved from a name (`host`, the Host sent: the name with
 * any port): the certificate is the name's, so it is verified against the name.
 */
export function namedTls<Tls extends { serverName?: string }>(tls: Tls | undefined, host: string): Tls & { rejectUnauthorized: boolean; serverName: string } {
  return { rejectUnauthorized: true, ...tls, serverName: tls?.serverName ?? host.replace(/:\d+$/, '') } as Tls & { rejectUnauthorized: boolean; serverName: string }
}

/** The re-resolve delay in seconds: the record's TTL within [min, max] (a TTL of 0 must not make a busy loop). */
export function boundTtl(ttlSeconds: number, minSeconds: number, maxSeconds: number): number {
  return Math.min(maxSeconds, Math.max(minSeconds, ttlSeconds))
}

/** What changed between two address lists (by `ip:port`). */
export function diffAddresses(before: readonly ResolvedAddress[], after: readonly ResolvedAddress[]): { added: ResolvedAddress[]; removed: ResolvedAddress[]; reweighted: boolean } {
  const key = (a: ResolvedAddress) => `${a.ip}|${a.port}`
  const old = new Map(before.map((a) => [key(a), a]))
  const now = new Map(after.map((a) => [key(a), a]))
  const added = after.filter((a) => !old.has(key(a)))
  const removed = before.filter((a) => !now.has(key(a)))
  const reweighted = after.some((a) => old.has(key(a)) && old.get(key(a))!.weight !== a.weight)
  return { added, removed, reweighted }
}

/**
 * SRV records to addresses' ports and weights (RFC 2782): only the lowest priority is used
 * (the others are fallbacks; health and outlier detection handle a down target), and each
 * record's weight becomes its target weight (0 counts as 1: our weights start at 1).
 */
export function chooseSrv<T extends { priority: number; weight: number }>(records: readonly T[]): T[] {
  if (records.length === 0) return []
  const lowest = Math.min(...records.map((r) => r.priority))
  return records.filter((r) => r.priority === lowest).map((r) => ({ ...r, weight: Math.min(1000, Math.max(1, r.weight)) }))
}
