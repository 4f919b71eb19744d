/**
 * The primary's own metrics: live workers, restarts by reason (crash, recycle, reload),
 * active health, the shared cache tier's size, and with Redis its connection, store failures
 * and replica messages (sent, received, rejected); the last reload's outcome and the
 * certificates' expiry, and its own process numbers (worker="primary").
 */
import { Counter, Gauge, Registry } from 'prom-client'
import type { CertificateExpiry } from '../config/tls-files.ts'
import { METRICS } from './names.ts'
import { registerProcessMetrics } from './process.ts'
import { REJECT_REASONS, type RejectReason } from '../replicas/bus.ts'

interface BucketStats {
  keys: number
  bytes: number
  maxBytes: number
}

export function createPrimaryMetrics(
  liveWorkers: () => number,
  redisConnected?: () => boolean,
  sharedCache?: () => { entries: number; bytes: number },
  rateLimitBuckets?: () => BucketStats
) {
  const registry = new Registry()
  if (rateLimitBuckets) {
    const gauges: [string, string, (s: BucketStats) => number][] = [
      [METRICS.rateLimitBuckets, "Rate-limit buckets the node's primary holds (least recently used forgotten past the bounds)", (s) => s.keys],
      [METRICS.rateLimitBucketBytes, 'Bytes the rate-limit buckets are charged (keys and bookkeeping)', (s) => s.bytes],
      [METRICS.rateLimitBucketBytesMax, 'The bound on gateway_rate_limit_bucket_bytes', (s) => s.maxBytes],
    ]
    for (const [name, help, value] of gauges) {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(value(rateLimitBuckets()))
        },
      })
    }
  }
  const restarts = new Counter({
    name: METRICS.workerRestarts.name,
    help: 'Worker processes started after the first generation, by reason: crash, recycle, reload',
    labelNames: METRICS.workerRestarts.labels,
    registers: [registry],
  })
  new Gauge({
    name: METRICS.workers,
    help: 'Live worker processes',
    registers: [registry],
    collect() {
      this.set(liveWorkers())
    },
  })
  const targetHealthy = new Gauge({
    name: METRICS.targetHealthy.name,
    help: 'Active health of each checked upstream target: 1 healthy, 0 not',
    labelNames: METRICS.targetHealthy.labels,
    registers: [registry],
  })
  if (redisConnected) {
    new Gauge({
      name: METRICS.redisConnected,
      help: 'Whether the Redis command connection is up: 1 yes, 0 no',
      registers: [registry],
      collect() {
        this.set(redisConnected() ? 1 : 0)
      },
    })
  }
  if (sharedCache) {
    new Gauge({
      name: METRICS.sharedCacheBytes,
      help: 'Bytes of responses in the node-wide shared cache tier',
      registers: [registry],
      collect() {
        this.set(sharedCache().bytes)
      },
    })
    new Gauge({
      name: METRICS.sharedCacheEntries,
      help: 'Responses in the node-wide shared cache tier',
      registers: [registry],
      collect() {
        this.set(sharedCache().entries)
      },
    })
  }
  const storeFailures = new Counter({
    name: METRICS.rateLimitStoreFailures,
    help: 'Global rate-limit takes Redis did not answer (onStoreFailure decided)',
    registers: redisConnected ? [registry] : [],
  })
  const replicaMessages = new Counter({
    name: METRICS.replicaMessages.name,
    help: 'Cache purges and invalidations exchanged with other replicas, by direction (sent, received) and kind (purge, invalidate)',
    labelNames: METRICS.replicaMessages.labels,
    registers: redisConnected ? [registry] : [],
  })
  const replicaRejected = new Counter({
    name: METRICS.replicaMessagesRejected.name,
    help: 'Replica bus messages dropped, by reason: unsigned, bad_signature, stale, malformed, bus_off',
    labelNames: METRICS.replicaMessagesRejected.labels,
    registers: redisConnected ? [registry] : [],
  })
  // Every reason shows from the start, at 0, so an alert on it needs no absent() guard.
  if (redisConnected) for (const reason of REJECT_REASONS) replicaRejected.inc({ reason }, 0)
  // Prometheus's own reload pair: the start is the first successful load.
  const reloadSuccess = new Gauge({
    name: METRICS.configReloadSuccess,
    help: 'Whether the last config reload (SIGHUP) was applied: 1 yes (or no reload since the start), 0 refused (invalid config, a restart-only key changed) or failed (the new workers did not start; the old ones serve on)',
    registers: [registry],
  })
  const reloadSuccessTime = new Gauge({
    name: METRICS.configReloadSuccessTime,
    help: 'When the config in force was loaded: the start, or the last applied SIGHUP reload, as a unix time',
    registers: [registry],
  })
  reloadSuccess.set(1)
  reloadSuccessTime.set(Date.now() / 1000)
  const certificateExpiry = new Gauge({
    name: METRICS.certificateExpiry.name,
    help: 'notAfter of the certificate files the config names, as a unix time (the earliest in the file, chain included), read at start and on each applied reload; use: server (server.tls.certFile and certificates[].certFile), server_chain (server.tls.caFile), upstream_ca (upstreams.*.tls.caFile), redis_ca (redis.tls.caFile), client_ca (server.tls.clientAuth.caFile); seconds left: this minus time()',
    labelNames: METRICS.certificateExpiry.labels,
    registers: [registry],
  })
  registerProcessMetrics(registry, 'primary')
  return {
    registry,
    storeFailure: () => storeFailures.inc(),
    replicaRejected: (reason: RejectReason) => replicaRejected.inc({ reason }),
    replicaMessage: (direction: 'sent' | 'received', kind: 'purge' | 'invalidate') => replicaMessages.inc({ direction, kind }),
    restart: (reason: string) => restarts.inc({ reason }),
    /** A SIGHUP reload was applied (true) or refused or failed (false). */
    reloaded(ok: boolean) {
      reloadSuccess.set(ok ? 1 : 0)
      if (ok) reloadSuccessTime.set(Date.now() / 1000)
    },
    /** The certificate files of the config in force (their series replace the previous config's). */
    certificates(expiries: readonly CertificateExpiry[]) {
      certificateExpiry.reset()
      for (const { use, file, notAfter } of expiries) certificateExpiry.set({ use, file }, notAfter)
    },
    targetHealth: (state: { upstream: string; target: string; healthy: boolean }) =>
      targetHealthy.set({ upstream: state.upstream, target: state.target }, state.healthy ? 1 : 0),
    /** A target DNS removed: its series goes with it. */
    targetRemoved: (state: { upstream: string; target: string }) => targetHealthy.remove({ upstream: state.upstream, target: state.target }),
  }
}
