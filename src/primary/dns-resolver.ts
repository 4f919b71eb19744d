/**
 * Resolves the targets written with a name, one resolver for the node (in the primary, like
 * the health checker): every worker then balances over the same address set, and the DNS
 * server sees one query per name and TTL rather than one per worker. A name is resolved again
 * at its records' lowest TTL, bounded by dns.minTtlSeconds/maxTtlSeconds; a changed set goes
 * to `onChange` (the workers over IPC, the health checker) with one info line. A failure or
 * an empty answer keeps the last good set, with one warn line until the name answers again.
 * Never on a request. docs/upstreams.md, "DNS".
 */
import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import { addressUrl, boundTtl, chooseSrv, diffAddresses, dnsNameOf, portOf, type AddressSet, type DnsName, type ResolvedAddress } from '../upstream/dns.ts'


export interface DnsResolver {
  /** The current set of every name that has answered once. */
  sets(): AddressSet[]
  /** Resolves when every name has had its first answer or failure. */
  readonly firstRound: Promise<void>
  stop(): void
}

/** Per query: node's default (5 s × 4 tries) would hold a dead server's failure for 20 s. */
const QUERY_TIMEOUT_MS = 1000
const QUERY_TRIES = 2

interface Answer {
  addresses: ResolvedAddress[]
  ttl: number
}

/** A and AAAA of `name` together (either may be empty: a v4-only name has no AAAA); their lowest TTL. */
async function resolveAddresses(resolver: Resolver, name: string, port: number, weight: number): Promise<Answer> {
  if (isIP(name) !== 0) return { addresses: [{ ip: name, port, weight }], ttl: Infinity }
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })])
  const records = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])]
  if (records.length === 0) throw v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : new Error('no addresses')
  return { addresses: records.map((r) => ({ ip: r.address, port, weight })), ttl: Math.min(...records.map((r) => r.ttl)) }
}

/** Waits for the resolver's first answers (a query gives up within ~2 s; SRV asks twice in a row): workers start with the addresses. */
export function firstSets(resolver: DnsResolver): Promise<void> {
  return Promise.race([resolver.firstRound, Bun.sleep(5000)])
}

/**
 * SRV, then each chosen record target's addresses. node:dns gives no TTL for SRV records, so
 * the set is refreshed at its addresses' lowest TTL (within the bounds).
 */
async function resolveSrv(resolver: Resolver, name: string): Promise<Answer> {
  const records = chooseSrv(await resolver.resolveSrv(name))
  const answers = await Promise.allSettled(records.map((r) => resolveAddresses(resolver, r.name, r.port, r.weight)))
  const ok = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []))
  if (ok.length === 0) throw answers.find((a) => a.status === 'rejected')?.reason ?? new Error('no SRV records')
  return { addresses: ok.flatMap((a) => a.addresses), ttl: Math.min(...ok.map((a) => a.ttl)) }
}

export function startDnsResolver(config: Pick<GatewayConfig, 'dns' | 'upstreams'>, log: Pick<Logger, 'info' | 'warn'>, onChange: (set: AddressSet) => void): DnsResolver {
  const { servers, minTtlSeconds, maxTtlSeconds } = config.dns
  const resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES })
  if (servers.length > 0) resolver.setServers(servers)
  const current = new Map<string, AddressSet>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const first: Promise<void>[] = []
  let stopped = false

  const watch = (upstream: string, target: string, weight: number, dns: DnsName) => {
    const key = `${upstream} ${target}`
    let failing = false
    const round = async () => {
      let delay = minTtlSeconds
      try {
        const answer = dns.kind === 'srv' ? await resolveSrv(resolver, dns.name) : await resolveAddresses(resolver, dns.name, portOf(dns), weight)
        if (stopped) return
        delay = boundTtl(answer.ttl, minTtlSeconds, maxTtlSeconds)
        if (failing) log.info('dns_resolve_recovered', { upstream, name: dns.name })
        failing = false
        const before = current.get(key)?.addresses ?? []
        const { added, removed, reweighted } = diffAddresses(before, answer.addresses)
        if (added.length > 0 || removed.length > 0 || reweighted) {
          const set = { upstream, target, addresses: answer.addresses }
          current.set(key, set)
          log.info('dns_targets_changed', {
            upstream,
            name: dns.name,
            added: added.map((a) => addressUrl(dns, a)),
            removed: removed.map((a) => addressUrl(dns, a)),
            targets: answer.addresses.length,
          })
          onChange(set)
        }
      } catch (err) {
        if (stopped) return
        // One line per failing streak, not one per try: the last good set keeps serving.
        if (!failing) log.warn('dns_resolve_failed', { upstream, name: dns.name, error: (err as { code?: string }).code ?? String(err), kept: current.get(key)?.addresses.length ?? 0 })
        failing = true
      }
      if (stopped) return
      const timer = setTimeout(() => {
        timers.delete(timer)
        void round()
      }, delay * 1000)
      timer.unref?.()
      timers.add(timer)
    }
    first.push(round())
  }

  for (const [upstream, u] of Object.entries(config.upstreams)) {
    for (const t of u.targets) {
      const dns = dnsNameOf(t.url)
      if (dns) watch(upstream, t.url, t.weight, dns)
    }
  }
  return {
    sets: () => [...current.values()],
    firstRound: Promise.all(first).then(() => undefined),
    stop() {
      stopped = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
    },
  }
}
