/**
 * An upstream: its targets and the client that reaches them, composed at boot from the
 * base client and its wrappers, outermost first: observe (metrics) → head checks (for a base
 * client that does not check heads itself: fetch) → circuit breaker → retries → (a span per
 * try, when tracing) → balance (active and passive health) → base.
 */
import type { UpstreamConfig } from '../config/schema.ts'
import { readClientTls, type ClientTls } from '../files/tls.ts'
import type { Logger } from '../log.ts'
import { createFailureLog, type FailureLog } from './failure-log.ts'
import { createFetchClient } from './fetch-client.ts'
import { createNativeClient } from './native/client.ts'
import { createOutlierDetector } from './outlier.ts'
import { createRetryBudget } from './retry-budget.ts'
import { consistentHash } from './selection/hash.ts'
import { leastInflight } from './selection/least-inflight.ts'
import { weightedRandom } from './selection/random.ts'
import { roundRobin } from './selection/round-robin.ts'
import { createTarget } from './target.ts'
import { composeClient, type ClientWrapper, type SelectionPolicy, type Target, type UpstreamClient } from './types.ts'
import { chooseTarget, withBalancer } from './wrappers/balancer.ts'
import { createBreaker, type Breaker } from './wrappers/breaker.ts'
import { withHeadChecks } from './wrappers/head-checks.ts'
import { withObserver, type UpstreamObserver } from './wrappers/observer.ts'
import { withRetries } from './wrappers/retry.ts'
import { withTracing } from './wrappers/tracing.ts'

export interface Upstream {
  readonly name: string
  readonly config: UpstreamConfig
  readonly targets: readonly Target[]
  /** The composed client: every request of every route to this upstream goes through it. */
  readonly client: UpstreamClient
  /** Reports body failures the forwarder sees (head failures are reported by the client). */
  readonly observer: UpstreamObserver | undefined
  /** The failure lines, for the body failures the forwarder sees (the balancer reports head failures). */
  readonly failureLog: FailureLog | undefined
  /** How https:// targets are verified, resolved from `config.tls` (also for WebSockets). */
  readonly tls: UpstreamTls | undefined
  /** The breaker's state ('closed' without one). */
  readonly breakerState: string
  /** A target for a connection that bypasses the client (a WebSocket), by the same policy and health. */
  pick(hashKey?: string): Target
  /** Applies the primary's active health verdict for the target with this base URL. */
  setHealth(base: string, healthy: boolean): void
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
  /** Tracing is on: each try gets a client span (wrappers/tracing.ts). */
  tracing?: boolean
}

/** The failure lines' default interval (the config's default too). */
const FAILURE_INTERVAL_MS = 10_000

/** TLS settings for https:// targets, with the CA file read (once, at boot). */
export type UpstreamTls = ClientTls

/** The fetch `tls` option of an upstream's `tls` settings; the forwarder and the active health checks share it. */
export const resolveTls = (config: UpstreamConfig): UpstreamTls | undefined => readClientTls(config.tls)

/** The native client for plain-HTTP upstreams (the default); fetch when configured, and for https:// targets. */
function createBaseClient(name: string, config: UpstreamConfig, tls: UpstreamTls | undefined, log?: Pick<Logger, 'warn'>): UpstreamClient {
  const plain = config.targets.every((t) => t.url.toLowerCase().startsWith('http://'))
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
  const targets = config.targets.map((t) => createTarget(t.url, t.weight))
  const tls = resolveTls(config)
  const base = options.base ?? createBaseClient(name, config, tls, options.log)
  const observer = options.observer
  // One policy for requests and sockets alike (a hash ring is built once).
  const policy = options.policy ?? selectionPolicy(config, targets)
  const outliers = createOutlierDetector(targets, config.outlierDetection, observer?.ejected && ((t) => observer.ejected!(t.base)))
  const breaker: Breaker | undefined = config.circuitBreaker && createBreaker(config.circuitBreaker, observer?.breaker)
  const failureLog = options.log && createFailureLog(name, options.log, { intervalMs: options.failureIntervalMs ?? FAILURE_INTERVAL_MS })
  const wrappers: ClientWrapper[] = [
    ...(observer ? [withObserver(observer)] : []),
    ...(base.checksHeads ? [] : [withHeadChecks(config)]),
    ...(breaker ? [breaker.wrap] : []),
    ...(config.retries.attempts > 1 && targets.length > 1
      ? [withRetries(config.retries, targets.length, createRetryBudget(config.retries.budgetPercent), observer?.retry)]
      : []),
    ...(options.tracing ? [withTracing] : []),
    withBalancer(targets, policy, outliers, failureLog),
  ]
  const client = composeClient(base, ...wrappers)
  return {
    name,
    config,
    targets,
    client,
    observer,
    failureLog,
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
    async close() {
      client.closeIdle()
    },
  }
}
