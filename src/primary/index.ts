/**
 * The primary process of `bun run start`: supervises the workers, owns the admin listener,
 * and turns signals into lifecycle: SIGTERM/SIGINT drain and exit (0, or 1 when requests
 * had to be cut), SIGHUP reloads the config without dropping a request, SIGUSR1 has the
 * workers open the access log file again (logrotate).
 */
import { createTokenBuckets, nodeStore } from '../policies/rate-limit/buckets.ts'
import { connectReplicas, type Replicas } from '../replicas/index.ts'
import type { ReplicaMessage } from '../replicas/bus.ts'
import type { ConfigSource } from '../config/source.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { childEnv } from '../config/env.ts'
import { restartOnlyChanges } from '../config/reload.ts'
import { certificateExpiries } from '../config/tls-files.ts'
import type { Logger } from '../log.ts'
import { startAdmin } from '../admin/index.ts'
import { buildStatus, type ReloadRecord } from '../admin/status.ts'
import { availableCpus } from '../runtime/cpus.ts'
import { mergeSnapshots } from '../upstream/snapshot.ts'
import { createHealthChecker, type HealthChecker, type TargetHealth } from './health-checker.ts'
import { firstSets, startDnsResolver } from './dns-resolver.ts'
import { nodeCaches, sharedCacheEnabled, startSharedCache } from './shared-cache.ts'
import { createSupervisor } from './supervisor.ts'
import { workerBunFlags, workerRuntimeEnv } from './worker-runtime.ts'
import { refuseTakenPort } from './ports.ts'
import { selfCommand } from '../self.ts'
import { createMetricsAggregator } from '../metrics/aggregate.ts'
import { VERSION } from '../version.ts'
import { createPrimaryMetrics } from '../metrics/primary.ts'

/** How long after the shutdown deadline a worker that has not exited gets SIGKILL. */
const KILL_GRACE_MS = 2000
/** Reloads the admin page lists. */
const RELOADS_KEPT = 10

export interface PrimaryOptions {
  config: GatewayConfig
  source: ConfigSource
  /** Path of the entry script the workers run with `--worker` (unused in the compiled binary: it runs itself). */
  entry: string
  log: Logger
  /** Stopped last on shutdown (the demo upstream). */
  onStopped?: () => void
}

/** Resolves `server.workers` (`auto` honours a cgroup CPU quota). */
export function workerCount(config: GatewayConfig): number {
  return config.server.workers === 'auto' ? availableCpus() : config.server.workers
}

/** Waits for the checker's first round, at most the longest check timeout: a target down at start is out before it serves. */
function firstVerdicts(checker: HealthChecker, config: GatewayConfig): Promise<void> {
  const longest = Math.max(0, ...Object.values(config.upstreams).map((u) => u.healthCheck?.timeoutMs ?? 0))
  return longest === 0 ? Promise.resolve() : Promise.race([checker.firstRound, Bun.sleep(longest + 100)])
}

export async function runPrimary(options: PrimaryOptions): Promise<void> {
  const { log, source } = options
  let config = options.config
  let stopping = false
  let reloading = false
  const startedAt = Date.now()
  const reloads: ReloadRecord[] = []
  const recordReload = (ok: boolean, error: string | null) => {
    reloads.unshift({ time: Date.now(), ok, error })
    reloads.length = Math.min(reloads.length, RELOADS_KEPT)
  }
  refuseTakenPort(config, log)

  const aggregator = createMetricsAggregator()
  // Set up before any worker opens it; purged and invalidated here, once for the node.
  const sharedCache = sharedCacheEnabled(config, workerCount(config)) ? startSharedCache(config, log) : undefined
  // With Redis: global limits, and purges and invalidations shared with the other replicas.
  let replicas: Replicas | undefined
  const buckets = createTokenBuckets()
  const primaryMetrics = createPrimaryMetrics(() => supervisor.pids().length, config.redis && (() => replicas?.connected() ?? false), sharedCache && (() => sharedCache.stats()), () => buckets.stats())
  primaryMetrics.certificates(certificateExpiries(config))
  const toReplicas = (message: ReplicaMessage) => {
    if (!replicas?.bus.enabled) return Promise.resolve(false)
    primaryMetrics.replicaMessage('sent', 'purge' in message ? 'purge' : 'invalidate')
    return replicas.bus.publish(message)
  }
  // Without redis.busSecret the bus is off: purges stay on this node (no `replicas` in the answer).
  const caches = nodeCaches(sharedCache, { purge: (selector) => supervisor.purge(selector), invalidate: (keys) => supervisor.invalidate(keys) }, config.redis?.busSecret !== undefined ? toReplicas : undefined)
  const fromReplica = (message: ReplicaMessage) => {
    primaryMetrics.replicaMessage('received', 'purge' in message ? 'purge' : 'invalidate')
    caches.apply(message)
  }
  if (config.redis) {
    replicas = connectReplicas(config.redis, { log, onMessage: fromReplica, onStoreFailure: primaryMetrics.storeFailure, onRejected: primaryMetrics.replicaRejected })
    // Refused like a bad config (exit 2), before any worker or listener starts.
    if (!(await replicas.startCheck())) {
      replicas.close()
      sharedCache?.close()
      process.exit(2)
    }
  }
  // One health checker for the node; its verdicts reach every worker, new ones at their start.
  const onHealth = (state: TargetHealth) => {
    primaryMetrics.targetHealth(state)
    supervisor.broadcast({ type: 'health', state })
  }
  // One resolver for the node (dns-resolver.ts): its sets feed its own checker and every worker.
  const discover = (generation: GatewayConfig) => {
    const own = createHealthChecker(generation.upstreams, log, onHealth, primaryMetrics.targetRemoved)
    const dns = startDnsResolver(generation, log, (set) => {
      own.setAddresses(set)
      supervisor.announce({ type: 'dns', set })
    })
    return { checker: own, resolver: dns }
  }
  let { checker, resolver } = discover(config)
  const supervisor = createSupervisor({
    rateLimits: nodeStore(buckets, replicas?.buckets),
    onInvalidate: (keys) => void toReplicas({ invalidate: keys }),
    health: () => checker.states(),
    dns: () => resolver.sets(),
    sharedCachePath: sharedCache?.path,
    config,
    workers: workerCount(config),
    // Derived from each generation's config, so a reload applies the limits Bun reads at start.
    command: () => selfCommand(options.entry, '--worker'),
    env: (generation) => childEnv({ BUN_CONFIG_MAX_HTTP_REQUESTS: String(generation.server.maxUpstreamRequests), ...workerRuntimeEnv() }, workerBunFlags(generation)),
    log,
    onGiveUp: (reason) => void shutdown('crash_loop', reason),
    metrics: aggregator,
    onRestart: (reason) => primaryMetrics.restart(reason),
  })
  const renderMetrics = async () => {
    await supervisor.scrape()
    return aggregator.render((await primaryMetrics.registry.getMetricsAsJSON()) as never)
  }

  let admin: ReturnType<typeof startAdmin>
  try {
    admin = startAdmin(config.admin, {
      isReady: supervisor.ready,
      purge: caches.purge,
      // Read per request, so a reload applies the token, the allowed hosts and metrics on/off.
      settings: () => config.admin,
      metrics: () => (config.metrics.enabled ? renderMetrics() : undefined),
      upstreams: async () => mergeSnapshots(await supervisor.upstreams()),
      status: () =>
        buildStatus({
          mode: 'workers',
          startedAt,
          config: () => config,
          async metrics() {
            if (!config.metrics.enabled) return undefined
            await supervisor.scrape()
            return { merged: await aggregator.merged(), byPid: aggregator.byPid() }
          },
          workers: supervisor.workers,
          upstreams: async () => mergeSnapshots(await supervisor.upstreams()),
          restarts: supervisor.restartsByReason,
          reloads: () => reloads,
          sharedCache: sharedCache && (() => sharedCache.stats()),
        }),
    })
  } catch (err) {
    log.error('listen_failed', { listener: 'admin', host: config.admin.host, port: config.admin.port, error: (err as { code?: string }).code })
    process.exit(1)
  }

  async function shutdown(signal: string, failure?: string): Promise<void> {
    if (stopping) return
    stopping = true
    if (failure) log.error('giving_up', { reason: failure })
    log.info('shutdown_started', { signal, workers: supervisor.pids().length })
    // Workers cut their own requests at the deadline; SIGKILL is the backstop.
    const cut = await supervisor.shutdown(config.server.shutdownTimeoutSeconds * 1000 + KILL_GRACE_MS)
    admin.stop(true)
    replicas?.close()
    sharedCache?.close()
    options.onStopped?.()
    const status = failure || cut > 0 ? 1 : 0
    log[status === 0 ? 'info' : 'error']('shutdown_complete', { signal, cutWorkers: cut, exitStatus: status })
    process.exit(status)
  }

  async function reload(): Promise<void> {
    if (stopping || reloading) return
    reloading = true
    try {
      const result = await source.load()
      if (!result.ok) {
        log.warn('reload_rejected', { config: source.description, errors: result.errors })
        primaryMetrics.reloaded(false)
        recordReload(false, result.errors.join('; '))
        return
      }
      const restartOnly = restartOnlyChanges(config, result.config)
      if (restartOnly.length > 0) {
        log.warn('reload_rejected', { config: source.description, errors: restartOnly })
        primaryMetrics.reloaded(false)
        recordReload(false, restartOnly.join('; '))
        return
      }
      const workers = workerCount(result.config)
      // The new generation starts with the new checker's first verdicts.
      const previous = checker
      const previousResolver = resolver
      ;({ checker, resolver } = discover(result.config))
      await firstSets(resolver)
      await firstVerdicts(checker, result.config)
      const swapped = await supervisor.reload(result.config, workers)
      const fields = { config: source.description, workers, routes: result.config.routes.length }
      if (swapped.ok) {
        previous.stop()
        previousResolver.stop()
        config = result.config
        primaryMetrics.reloaded(true)
        primaryMetrics.certificates(certificateExpiries(config))
        log.info('reload_complete', fields)
        recordReload(true, null)
      } else {
        checker.stop()
        resolver.stop()
        checker = previous
        resolver = previousResolver
        // Why the new generation did not listen; the old one keeps serving.
        primaryMetrics.reloaded(false)
        log.warn('reload_failed', { ...fields, reason: swapped.reason })
        recordReload(false, swapped.reason)
      }
    } finally {
      reloading = false
    }
  }

  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGHUP', () => void reload())
  // logrotate's postrotate: the workers write the access log file, so they reopen it. Handled
  // even without a file: SIGUSR1's default action would end the process.
  process.on('SIGUSR1', () => supervisor.reopenLogs())

  await firstSets(resolver)
  await firstVerdicts(checker, config)
  if (!(await supervisor.start())) {
    await shutdown('start_failed', 'workers did not start')
    return
  }
  log.info('listening', {
    host: config.server.host,
    port: supervisor.port,
    adminHost: config.admin.host,
    adminPort: admin.port ?? config.admin.port,
    workers: supervisor.pids().length,
    config: source.description,
    routes: config.routes.length,
    // What the public port speaks (ALPN names; h2c: prior knowledge): a request's own protocol is not known (docs/proxying.md, "HTTP/2").
    protocols: config.server.http2 ? ['h2', 'http/1.1'] : config.server.h2c ? ['h2c', 'http/1.1'] : ['http/1.1'],
    replica: replicas?.id,
    version: VERSION,
  })
}
