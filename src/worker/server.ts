/**
 * A serving process: the app on Bun.serve with reusePort, so several of them share one
 * port. Owns the shutdown order: stop accepting, drain in-flight requests, close pools.
 */
import type { Server, TLSOptions } from 'bun'
import { constants } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createApp, internalError } from '../app.ts'
import type { ServerBindings } from '../kernel/types.ts'
import { createClosers } from '../pipeline/build.ts'
import type { LoadedPlugin } from '../policies/plugins/load.ts'
import { shareEqualParts } from '../config/share.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { errorResponse } from '../kernel/errors.ts'
import { createHttpsRedirect } from '../edge/https-redirect.ts'
import type { Logger } from '../log.ts'
import { createDeadlineWheel } from '../upstream/deadline.ts'
import { createUpstreamRegistry } from '../upstream/registry.ts'
import { createResponseCache } from '../policies/cache/response-cache.ts'
import { purge, type PurgeSelector } from '../policies/cache/purge.ts'
import { openSharedTier } from '../policies/cache/shared-store.ts'
import { createCacheStore, type CacheStats } from '../policies/cache/store.ts'
import { fileSink, stdoutSink } from '../access-log/file.ts'
import { createWorkerMetrics } from '../metrics/registry.ts'
import { createTracer } from '../tracing/index.ts'
import { localStore, type RateLimitStore } from '../policies/rate-limit/buckets.ts'
import type { TargetHealth } from '../upstream/target.ts'
import type { AddressSet } from '../upstream/dns.ts'
import { snapshotOf, type UpstreamSnapshot } from '../upstream/snapshot.ts'
import type { WebSocketBridge } from '../upstream/websocket/bridge.ts'
import type { WebSockets } from '../upstream/websocket/index.ts'
import { createWebSocketSlots } from '../upstream/websocket/slots.ts'
import { VERSION } from '../version.ts'
import type { MetricObjectWithValues, MetricValue } from 'prom-client'

export interface RunningWorker {
  readonly port: number
  /** Requests answered so far. */
  readonly served: number
  /** Answer every response with Connection: close and /health with 503, so clients move on. */
  startDraining(): void
  /** Stops accepting, waits for in-flight requests (all of them cut when `force`), closes pools. */
  stop(force?: boolean): Promise<void>
  /** Drops cache entries another worker invalidated (from the local store; the shared tier is done once elsewhere). */
  invalidate(primaryKeys: readonly string[]): void
  /** Applies an admin purge to this worker's local cache; returns how many entries went. */
  purge(selector: PurgeSelector): number
  cacheStats(): CacheStats
  /** This worker's metrics as prom-client JSON, for the primary to merge; [] when metrics are off. */
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[]>
  /** Applies a health checker verdict. */
  setHealth(state: TargetHealth): void
  /** Applies the resolver's address set for a target written with a name. */
  setAddresses(set: AddressSet): void
  /** This worker's upstreams, for admin GET /upstreams. */
  upstreams(): UpstreamSnapshot[]
  /** Opens the access log file again (SIGUSR1, after logrotate moved it); nothing when it goes to stdout. */
  reopenLogs(): void
}

export interface WorkerOptions {
  /** Called after each response is produced, with the running count (for recycling). */
  onRequest?: (served: number) => void
  /** Called when an unsafe method invalidated cache entries, to tell the other workers. */
  onInvalidate?: (primaryKeys: string[]) => void
  /** The node's rate-limit buckets (the primary's, over IPC); this process's own when absent. */
  rateLimits?: RateLimitStore
  /** The health checker's verdicts so far, applied before the first request. */
  health?: readonly TargetHealth[]
  /** The resolver's address sets so far, applied before the first request (and before the health verdicts on them). */
  dns?: readonly AddressSet[]
  /** The node's shared cache file, prepared by the primary; no shared tier when absent. */
  sharedCachePath?: string
  /** The config's plugins, loaded by the caller (loadPlugins is asynchronous). */
  plugins?: ReadonlyMap<string, LoadedPlugin>
}


/** Starts serving `config`; throws when the port cannot be bound. */
export function startWorker(config: GatewayConfig, log: Logger, options: WorkerOptions = {}): RunningWorker {
  // One copy of what many routes have alike (config/share.ts): 10,000 routes hold one cache settings object.
  config = { ...config, routes: shareEqualParts(config.routes) }
  let draining = false
  let served = 0
  const onRequest = options.onRequest
  const store = createCacheStore(config.cache)
  const metrics = config.metrics.enabled ? createWorkerMetrics({ version: VERSION, bun: Bun.version }) : undefined
  // Off without an endpoint: then nothing of tracing is built, and requests pay nothing for it.
  const tracing = config.tracing
  const tracer = tracing?.endpoint ? createTracer({ ...tracing, endpoint: tracing.endpoint }, { log, scheme: config.server.tls ? 'https' : 'http' }) : undefined
  if (tracer) metrics?.watchTracing(tracer.stats)
  const upstreams = createUpstreamRegistry(config.upstreams, metrics && ((name) => metrics.upstream(name)), log, config.log.failureIntervalMs)
  const deadlines = createDeadlineWheel()
  const setHealth = (state: TargetHealth) => upstreams.get(state.upstream)?.setHealth(state.target, state.healthy)
  const setAddresses = (set: AddressSet) => upstreams.get(set.upstream)?.setAddresses(set.target, set.addresses)
  for (const set of options.dns ?? []) setAddresses(set)
  for (const state of options.health ?? []) setHealth(state)
  metrics?.watchUpstreams(() => upstreams.all())
  const cached = config.routes.some((r) => r.cache.enabled)
  if (cached) metrics?.watchCache(() => store.stats())
  const shared = cached && options.sharedCachePath !== undefined ? openSharedTier(options.sharedCachePath, config.cache, log) : undefined
  const cache = cached
    ? createResponseCache({
        store,
        shared,
        targets: config.cache.targets,
        maxObjectBytes: config.cache.maxObjectBytes,
        implicitVary: config.server.trustedProxies.length > 0 ? ['x-forwarded-host'] : [],
        broadcastInvalidation: options.onInvalidate,
        onResult: metrics ? (route, status) => metrics.cacheResult(route, status.toLowerCase()) : undefined,
      })
    : undefined
  const access = config.log.access
  // Opened here, in each worker (a path that cannot be opened fails the start: worker_start_failed).
  const accessLogSink = access.enabled ? (access.file === undefined ? stdoutSink() : fileSink(access.file, log)) : undefined
  const rateLimits = options.rateLimits ?? localStore()
  const websockets: WebSockets = {
    slots: createWebSocketSlots(config.server.websocket.maxConnectionsPerWorker),
    maxPayloadBytes: config.server.websocket.maxPayloadBytes,
    observer: metrics?.websocket,
  }
  metrics?.watchWebSockets(websockets.slots)
  const closers = createClosers()
  const plugins = options.plugins
  const app = createApp({ config, upstreams, log, isHealthy: () => !draining, cache, metrics, accessLogWriter: accessLogSink?.write, deadlines, rateLimits, websockets, plugins, closers, tracer })
  const finished = (res: Response): Response => {
    if (metrics) metrics.inflight--
    // A draining worker tells keep-alive clients to reconnect, which lands them on another worker.
    if (draining) res.headers.set('connection', 'close')
    served++
    onRequest?.(served)
    return res
  }
  const failed = (err: unknown): never => {
    if (metrics) metrics.inflight--
    throw err
  }
  const tls = config.server.tls
  const server: Server<undefined> = Bun.serve({
    hostname: config.server.host,
    port: config.server.port,
    reusePort: true,
    // Read from disk by each new worker: a reload (SIGHUP) picks a renewed certificate up.
    tls: tls && listenerTls(tls),
    development: false,
    // server.http2 (load.ts allows it only with tls): h2 by ALPN; server.h2c (only without tls):
    // prior knowledge. Bun serves HTTP/1.1 on the same port either way (docs/proxying.md, "HTTP/2").
    http2: config.server.http2 || config.server.h2c,
    idleTimeout: config.server.idleTimeoutSeconds,
    // The guard answers 413 itself with a JSON body; Bun's own limit would answer first, bodiless.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    // Not async: a synchronous answer (health, a cache hit) goes back to Bun as a Response,
    // not as a promise it must wait for; the finishing functions are made once, here.
    fetch(req, srv) {
      if (metrics) metrics.inflight++
      let answer: Response | Promise<Response>
      try {
        // Bun's server, seen through the parts the request path uses (its upgrade's data is the bridge).
        answer = app.fetch(req, srv as unknown as ServerBindings)
      } catch (err) {
        return failed(err)
      }
      return answer instanceof Promise ? answer.then(finished, failed) : finished(answer)
    },
    error(err) {
      // Reached only if a request's promise rejects outside the pipelines' own rendering (a bug); never show Bun's error page.
      return internalError(err, log)
    },
    // Proxied WebSockets: each socket's data is its bridge to the upstream (upstream/websocket/).
    websocket: {
      maxPayloadLength: config.server.websocket.maxPayloadBytes,
      idleTimeout: config.server.websocket.idleTimeoutSeconds,
      // Past this much queued for a slow client, send() reports backpressure and the upstream is paused.
      backpressureLimit: config.server.websocket.maxPayloadBytes,
      closeOnBackpressureLimit: false,
      // Idle means no message either way: a client answering pings is still idle (nginx's proxy_read_timeout).
      sendPings: false,
      open: (ws) => ws.data.attach(ws),
      message: (ws, message) => ws.data.fromClient(message),
      drain: (ws) => ws.data.clientDrained(),
      close: (ws, code, reason) => ws.data.clientClosed(code, reason),
    },
  }) as Server<WebSocketBridge> as unknown as Server<undefined>
  const redirect = tls && config.server.httpRedirectPort !== undefined ? startRedirect(config.server.host, config.server.httpRedirectPort, server.port ?? config.server.port, config.routes.map((r) => r.host)) : undefined
  return {
    port: server.port ?? config.server.port,
    get served() {
      return served
    },
    startDraining() {
      draining = true
    },
    async stop(force = false) {
      draining = true
      // Open WebSockets are told 1001 Going Away once the drain period is over.
      for (const bridge of websockets.slots.open) bridge.goAway()
      redirect?.stop(true)
      await server.stop(force)
      deadlines.close()
      await upstreams.close()
      shared?.close()
      // What the chains started (JWKS refreshes), then each plugin's own close.
      await closers.closeAll()
      for (const plugin of plugins?.values() ?? []) await Promise.resolve().then(() => plugin.policy.close?.()).catch(() => {})
      await accessLogSink?.close()
      // Every request has ended: the spans still queued go out before the worker does.
      await tracer?.close()
    },
    reopenLogs: () => accessLogSink?.reopen(),
    // The local store only: the shared tier is purged once, by whoever invalidated or purged.
    invalidate(primaryKeys) {
      for (const key of primaryKeys) store.delete(key)
    },
    purge: (selector) => purge(store, selector),
    cacheStats: () => store.stats(),
    metrics: async () => (metrics ? metrics.registry.getMetricsAsJSON() : []),
    setHealth,
    setAddresses,
    upstreams: () => upstreams.all().map((u) => snapshotOf(u)),
  }
}

/**
 * Bun.serve's `tls`: the default pair alone, or an array with it first (it answers unknown
 * names and clients without SNI) and one entry per SNI name. Every entry carries the version
 * floor and the client-certificate policy: Bun applies an SNI entry's own `ca` when it selects
 * it (a valid client certificate failed on an entry without it, checked on Bun 1.4.5).
 */
function listenerTls(tls: NonNullable<GatewayConfig['server']['tls']>): TLSOptions | TLSOptions[] {
  const clientAuth = tls.clientAuth && { ca: readFileSync(tls.clientAuth.caFile, 'utf8'), requestCert: true, rejectUnauthorized: true }
  const common = { secureOptions: tls.minVersion === 'TLSv1.3' ? NO_TLS_BELOW_1_3 : undefined, ...clientAuth }
  const fallback: TLSOptions = {
    cert: readFileSync(tls.certFile, 'utf8'),
    key: readFileSync(tls.keyFile, 'utf8'),
    ca: tls.caFile ? readFileSync(tls.caFile, 'utf8') : undefined,
    ...common,
  }
  if (!tls.certificates?.length) return fallback
  const named = tls.certificates.flatMap((pair) => {
    const cert = readFileSync(pair.certFile, 'utf8')
    const key = readFileSync(pair.keyFile, 'utf8')
    return pair.serverNames.map((serverName): TLSOptions => ({ cert, key, serverName, ...common }))
  })
  return [fallback, ...named]
}

/** OpenSSL's SSL_OP_NO_TLSv1 | _TLSv1_1 | _TLSv1_2: Bun.serve takes the minimum version as these. */
const NO_TLS_BELOW_1_3 = constants.SSL_OP_NO_TLSv1 | constants.SSL_OP_NO_TLSv1_1 | constants.SSL_OP_NO_TLSv1_2

/** Plain HTTP on `port` that sends every request to the https:// URL (308 keeps the method and body). */
function startRedirect(host: string, port: number, httpsPort: number, routeHosts: (string | undefined)[]): Server<undefined> {
  return Bun.serve({
    hostname: host,
    port,
    reusePort: true,
    development: false,
    fetch: createHttpsRedirect(httpsPort, routeHosts),
    // Never Bun's error page or a stack trace on stderr.
    error: () => errorResponse('internal_error', crypto.randomUUID()),
  })
}
