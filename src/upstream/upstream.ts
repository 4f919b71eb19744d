/**
 * An upstream: its targets and the client that reaches them, composed at boot from the
 * base client and its wrappers, outermost first: head checks (for a base client that does not
 * check heads itself: fetch) → circuit breaker → retries → balance (active and passive
 * health; a span per try, when tracing) → base. The forwarder reports the metrics.
 */
import type { UpstreamConfig } from '../config/schema.ts'
import { readClientTls, type ClientTls } from '../files/tls.ts'
import type { Logger } from '../log.ts'
import { createFailureLog } from './failure-log.ts'
import { createFetchClient } from './fetch-client.ts'
import { createNativeClient } from './native/client.ts'
import { createOutlierDetector } from './outlier.ts'
import { createRetryBudget } from './retry-budget.ts'
import { consistentHash } from './selection/hash.ts'
import { leastInflight } from './selection/least-inflight.ts'
import { weightedRandom } from './selection/random.ts'
import { roundRobin } from './selection/round-robin.ts'
import { countFailure, createTarget } from './target.ts'
import { addressTarget, dnsNameOf, type DnsName, type ResolvedAddress } from './dns.ts'
import { composeClient, type ClientWrapper, type SelectionPolicy, type Target, type TryFailed, type UpstreamClient, type UpstreamObserver } from './types.ts'
import { Balancer, chooseTarget, withBalancer } from './wrappers/balancer.ts'
import { createBreaker, type Breaker } from './wrappers/breaker.ts'
import { withHeadChecks } from './wrappers/head-checks.ts'
import { withRetries } from './wrappers/retry.ts'

export interface Upstream {
  readonly name: string
  readonly config: UpstreamConfig
  readonly targets: readonly Target[]
  /** The composed client: every request of every route to this upstream goes through it. */
  readonly client: UpstreamClient
  /**
   * When the balancer is the client's only layer (no breaker, retries or head checks): it and
   * the base client, for the forwarder to call around the base itself, one `then` less a
   * request than `client`, which does the same.
   */
  readonly direct: { readonly balancer: Balancer; readonly base: UpstreamClient } | undefined
  /** The upstream's metrics: the forwarder reports each request's time to its head and its failures, the wrappers their own events. */
  readonly observer: UpstreamObserver | undefined
  /** Reports a try's body failure the forwarder sees (the balancer reports head failures the same way). */
  readonly tryFailed: TryFailed
  /** How https:// targets are verified, resolved from `config.tls` (also for WebSockets). */
  readonly tls: UpstreamTls | undefined
  /** The breaker's state ('closed' without one). */
  readonly breakerState: string
  /** A target for a connection that bypasses the client (a WebSocket), by the same policy and health. */
  pick(hashKey?: string): Target
  /** Applies the primary's active health verdict for the target with this base URL. */
  setHealth(base: string, healthy: boolean): void
  /**
   * The resolver's current addresses of the configured target `url` (a name): new ones join
   * the balancer, missing ones leave it (their in-flight requests finish). Never on a request.
   */
  setAddresses(url: string, addresses: readonly ResolvedAddress[]): void
  close(): Promise<void>
}

export interface UpstreamOptions {
  policy?: SelectionPolicy
  /** The base client (tests, or another implementation); from `config.client` by default. */
  base?: UpstreamClient
  observer?: UpstreamObserver
  /** For what a request cannot tell the operator itself (a certificate that does not verify, a failed try). */
  log?: Pick<Logger, 'warn'>
  /** At most one failure line per target and error code in this many ms (`log.failureIntervalMs`). */
  failureIntervalMs?: number
}

/** The failure lines' default interval (the config's default too). */
const FAILURE_INTERVAL_MS = 10_000

/** TLS settings for https:// targets, with the CA file read (once, at boot). */
export type UpstreamTls = ClientTls

/** The fetch `tls` option of an upstream's `tls` settings; the forwarder and the active health checks share it. */
export const resolveTls = (config: UpstreamConfig): UpstreamTls | undefined => readClientTls(config.tls)

/** The native client for plain-HTTP upstreams (the default); fetch when configured, and for https:// targets. */
function createBaseClient(name: string, config: UpstreamConfig, tls: UpstreamTls | undefined, log?: Pick<Logger, 'warn'>): UpstreamClient {
  const plain = config.targets.every((t) => /^(srv\+)?http:\/\//i.test(t.url))
  if (config.client === 'fetch' || !plain) {
    return createFetchClient({
      ...config.keepAlive,
      tls,
      http2: config.http2,
      onTlsError: log && tlsErrorLog(name, log),
    })
  }
  const { keepAlive } = config
  return createNativeClient({
    maxConnections: keepAlive.maxConnections,
    maxIdle: keepAlive.maxIdleSockets,
    idleTimeoutSeconds: keepAlive.idleTimeoutSeconds,
    queueSize: keepAlive.queueSize,
    queueTimeoutMs: keepAlive.queueTimeoutMs,
    maxResponseHeaderBytes: config.maxResponseHeaderBytes,
    bufferResponseBytes: config.bufferResponseBytes,
  })
}

/** One warning line per upstream, target and reason every 10 s at most: never one per request. */
function tlsErrorLog(upstream: string, log: Pick<Logger, 'warn'>): (target: string, reason: string) => void {
  const last = new Map<string, number>()
  return (target, reason) => {
    const key = `${target} ${reason}`
    const now = performance.now()
    if ((last.get(key) ?? -Infinity) > now - 10_000) return
    last.set(key, now)
    log.warn('upstream_tls_error', { upstream, target, reason })
  }
}

function selectionPolicy(config: UpstreamConfig, targets: readonly Target[]): SelectionPolicy {
  switch (config.balancing) {
    case 'least-inflight':
      return leastInflight()
    case 'random':
      return weightedRandom()
    case 'hash':
      return consistentHash(targets)
    default:
      return roundRobin()
  }
}

/** Builds an upstream from its config. */
export function createUpstream(name: string, config: UpstreamConfig, options: UpstreamOptions = {}): Upstream {
  // A name's targets are its addresses once the resolver sends them (upstream/dns.ts); until
  // then the name itself (connected by Bun's resolver), and an SRV name its domain.
  const groups = new Map<string, { dns: DnsName; weight: number; members: Target[] }>()
  const targets: Target[] = config.targets.map((t) => {
    const dns = dnsNameOf(t.url)
    if (!dns) return createTarget(t.url, t.weight)
    const placeholder = createTarget(dns.kind === 'srv' ? `${dns.scheme}://${dns.host}${dns.path}` : t.url, t.weight)
    groups.set(t.url, { dns, weight: t.weight, members: [placeholder] })
    return placeholder
  })
  const tls = resolveTls(config)
  const base = options.base ?? createBaseClient(name, config, tls, options.log)
  const observer = options.observer
  // One policy for requests and sockets alike (a hash ring is built once, again when DNS changes the targets).
  let current = options.policy ?? selectionPolicy(config, targets)
  const policy: SelectionPolicy = groups.size === 0 ? current : { pick: (list, request) => current.pick(list, request) }
  const outliers = createOutlierDetector(targets, config.outlierDetection, observer?.ejected && ((t) => observer.ejected!(t.base)))
  const breaker: Breaker | undefined = config.circuitBreaker && createBreaker(config.circuitBreaker, observer?.breaker)
  const failureLog = options.log && createFailureLog(name, options.log, { intervalMs: options.failureIntervalMs ?? FAILURE_INTERVAL_MS })
  const tryFailed: TryFailed = (target, code, exchange) => {
    countFailure(target, code)
    failureLog?.(target, code, exchange?.route.name, exchange?.requestId)
  }
  const layers: ClientWrapper[] = [
    ...(base.checksHeads ? [] : [withHeadChecks(config)]),
    ...(breaker ? [breaker.wrap] : []),
    ...(config.retries.attempts > 1 && (targets.length > 1 || groups.size > 0)
      ? [withRetries(config.retries, groups.size > 0 ? config.retries.attempts : targets.length, createRetryBudget(config.retries.budgetPercent), observer?.retry)]
      : []),
  ]
  const balancer = new Balancer(targets, policy, outliers, tryFailed)
  const client = composeClient(base, ...layers, withBalancer(balancer))
  return {
    name,
    config,
    targets,
    client,
    direct: layers.length === 0 ? { balancer, base } : undefined,
    observer,
    tryFailed,
    tls,
    get breakerState() {
      return breaker?.state ?? 'closed'
    },
    pick: (hashKey) => chooseTarget(targets, policy, outliers, { hashKey }),
    setHealth(targetBase, healthy) {
      for (const target of targets) {
        if (target.base !== targetBase) continue
        target.healthy = healthy
        target.checked = true
      }
    },
    setAddresses(url, addresses) {
      const group = groups.get(url)
      if (!group || addresses.length === 0) return
      const next = addresses.map((a) => addressTarget(group.dns, { ...a, weight: group.dns.kind === 'srv' ? a.weight : group.weight }))
      const keep = new Map(group.members.map((t) => [`${t.base}|${t.weight}`, t]))
      const members = next.map((t) => keep.get(`${t.base}|${t.weight}`) ?? t)
      const staying = new Set(members)
      // In place: the balancer, outlier detection, metrics and snapshots read this array.
      for (const gone of group.members) {
        if (staying.has(gone)) continue
        targets.splice(targets.indexOf(gone), 1)
        gone.retired = true
        base.retire?.(gone)
      }
      for (const added of members) if (!group.members.includes(added)) targets.push(added)
      group.members = members
      if (config.balancing === 'hash' && !options.policy) current = selectionPolicy(config, targets)
    },
    async close() {
      client.closeIdle()
    },
  }
}
