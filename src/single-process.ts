/**
 * Single-process mode (`--single-process`): one worker and the admin listener in this
 * process, no supervision, recycling or reload. For development and profiling
 * (`bun --cpu-prof src/main.ts --single-process`). Bun's fetch keeps its default limit of
 * 256 concurrent upstream requests here unless BUN_CONFIG_MAX_HTTP_REQUESTS is set.
 */
import { startAdmin } from './admin/index.ts'
import { buildStatus } from './admin/status.ts'
import type { ConfigSource } from './config/source.ts'
import type { GatewayConfig } from './config/schema.ts'
import type { Logger } from './log.ts'
import { mergeSnapshots } from './upstream/snapshot.ts'
import { startWorker } from './worker/server.ts'
import { VERSION } from './version.ts'
import { loadPlugins } from './policies/plugins/load.ts'
import { createHealthChecker } from './primary/health-checker.ts'
import { firstSets, startDnsResolver } from './primary/dns-resolver.ts'
import { refuseTakenPort } from './primary/ports.ts'
import { AggregatorRegistry } from 'prom-client'
import { createTokenBuckets, nodeStore } from './policies/rate-limit/buckets.ts'
import { connectReplicas, type Replicas } from './replicas/index.ts'
import { nodeCaches, sharedCacheEnabled, startSharedCache } from './primary/shared-cache.ts'
import type { PurgeSelector } from './policies/cache/purge.ts'

export async function runSingleProcess(config: GatewayConfig, source: ConfigSource, log: Logger, onStopped?: () => void): Promise<void> {
  refuseTakenPort(config, log)
  const startedAt = Date.now()
  let stopping = false
  let worker: ReturnType<typeof startWorker>
  let admin: ReturnType<typeof startAdmin>
  // With Redis, this process is the replica: it shares limits, purges and invalidations itself.
  const replicas: Replicas | undefined =
    config.redis &&
    connectReplicas(config.redis, { log, onMessage: (message) => caches.apply(message) })
  // Without redis.busSecret and with other replicas on the bus: refused, as in runPrimary.
  if (replicas && !(await replicas.startCheck())) {
    replicas.close()
    process.exit(2)
  }
  const bus = replicas?.bus.enabled ? replicas.bus : undefined
  // One process: the shared tier only when cache.shared.enabled asks for it.
  const sharedCache = sharedCacheEnabled(config, 1) ? startSharedCache(config, log) : undefined
  const workers = { purge: async (selector: PurgeSelector) => ({ purged: worker.purge(selector), workers: 1 }), invalidate: (keys: string[]) => worker.invalidate(keys) }
  const caches = nodeCaches(sharedCache, workers, bus && ((message) => bus.publish(message)))
  const { plugins } = await loadPlugins(config.plugins, { settings: config })
  // The resolver applies its address sets to this one worker and the checker directly.
  const checker = createHealthChecker(config.upstreams, log, (state) => worker?.setHealth(state))
  const resolver = startDnsResolver(config, log, (set) => {
    checker.setAddresses(set)
    worker?.setAddresses(set)
  })
  await firstSets(resolver)
  try {
    worker = startWorker(config, log, {
      plugins,
      sharedCachePath: sharedCache?.path,
      rateLimits: nodeStore(createTokenBuckets(), replicas?.buckets),
      onInvalidate: bus && ((keys) => void bus.publish({ invalidate: keys })),
      dns: resolver.sets(),
      // Verdicts given while the resolver's first round ran.
      health: checker.states(),
    })
    admin = startAdmin(config.admin, {
      upstreams: async () => mergeSnapshots([worker.upstreams()]),
      isReady: () => !stopping,
      purge: caches.purge,
      settings: () => config.admin,
      metrics: () => (config.metrics.enabled ? worker.metrics().then((json) => AggregatorRegistry.aggregate([json]).metrics()) : undefined),
      status: () =>
        buildStatus({
          mode: 'single-process',
          startedAt,
          config: () => config,
          async metrics() {
            if (!config.metrics.enabled) return undefined
            const own = await worker.metrics()
            return { merged: own, byPid: new Map([[process.pid, own]]) }
          },
          workers: () => [{ pid: process.pid, generation: 1, state: stopping ? 'draining' : 'listening', reason: 'start', startedAt }],
          upstreams: async () => mergeSnapshots([worker.upstreams()]),
          restarts: () => ({ crash: 0, recycle: 0, reload: 0 }),
          reloads: () => [],
          sharedCache: sharedCache && (() => sharedCache.stats()),
        }),
    })
  } catch (err) {
    log.error('listen_failed', { host: config.server.host, port: config.server.port, adminPort: config.admin.port, error: (err as { code?: string }).code })
    process.exit(1)
  }
  log.info('listening', {
    host: config.server.host,
    port: worker.port,
    adminHost: config.admin.host,
    adminPort: admin.port ?? config.admin.port,
    workers: 0,
    mode: 'single-process',
    config: source.description,
    routes: config.routes.length,
    // What the public port speaks (ALPN names; h2c: prior knowledge): a request's own protocol is not known (docs/proxying.md, "HTTP/2").
    protocols: config.server.http2 ? ['h2', 'http/1.1'] : config.server.h2c ? ['h2c', 'http/1.1'] : ['http/1.1'],
    version: VERSION,
  })

  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info('shutdown_started', { signal })
    const timer = setTimeout(() => {
      log.error('shutdown_complete', { signal, cut: true, exitStatus: 1 })
      process.exit(1)
    }, config.server.shutdownTimeoutSeconds * 1000)
    await worker.stop()
    admin.stop(true)
    replicas?.close()
    sharedCache?.close()
    onStopped?.()
    clearTimeout(timer)
    log.info('shutdown_complete', { signal, exitStatus: 0 })
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  // logrotate's postrotate: open the access log file again.
  process.on('SIGUSR1', () => worker.reopenLogs())
}
