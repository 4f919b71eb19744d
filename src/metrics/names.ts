/**
 * Every metric the gateway exports, with its label set: `gateway_` prefix, snake_case,
 * unit suffix. Labels are bounded: route names from the config, upstream names, status
 * classes and fixed reason lists; never a raw path, client address or header value.
 */

export const PREFIX = 'gateway_'

/** Route label for requests no route matched (404s, rejected requests). */
export const UNMATCHED_ROUTE = '(none)'

export const METRICS = {
  /** The standard families, named and labelled as @hono/prometheus names them. */
  httpRequests: `${PREFIX}http_requests_total`,
  httpDuration: `${PREFIX}http_request_duration_seconds`,
  upstreamDuration: { name: `${PREFIX}upstream_request_duration_seconds`, labels: ['upstream', 'status_class'] },
  upstreamErrors: { name: `${PREFIX}upstream_errors_total`, labels: ['upstream', 'reason'] },
  cacheRequests: { name: `${PREFIX}cache_requests_total`, labels: ['route', 'result'] },
  cacheBytes: `${PREFIX}cache_bytes`,
  cacheEntries: `${PREFIX}cache_entries`,
  cacheEvictions: `${PREFIX}cache_evictions_total`,
  /** The node's shared tier, reported by the primary. */
  sharedCacheBytes: `${PREFIX}cache_shared_bytes`,
  sharedCacheEntries: `${PREFIX}cache_shared_entries`,
  inflight: `${PREFIX}inflight_requests`,
  rejected: { name: `${PREFIX}rejected_requests_total`, labels: ['reason'] },
  authFailures: { name: `${PREFIX}auth_failures_total`, labels: ['route', 'reason'] },
  rateLimited: { name: `${PREFIX}rate_limited_total`, labels: ['route'] },
  /** Requests chosen for mirroring, by what came of the copy: sent, failed, skipped_body, skipped_busy. */
  mirrorRequests: { name: `${PREFIX}mirror_requests_total`, labels: ['route', 'outcome'] },
  /** Answers compressed by the gateway, and the bytes that saved, by coding (zstd, br, gzip). */
  compressed: { name: `${PREFIX}compressed_responses_total`, labels: ['route', 'encoding'] },
  compressionSaved: { name: `${PREFIX}compression_saved_bytes_total`, labels: ['route', 'encoding'] },
  targetHealthy: { name: `${PREFIX}upstream_target_healthy`, labels: ['upstream', 'target'] },
  ejections: { name: `${PREFIX}upstream_ejections_total`, labels: ['upstream', 'target'] },
  retries: { name: `${PREFIX}upstream_retries_total`, labels: ['upstream', 'outcome'] },
  breakerOpen: { name: `${PREFIX}upstream_breaker_open`, labels: ['upstream'] },
  websocketConnections: `${PREFIX}websocket_connections`,
  /** Upstream WebSocket handshakes under way: with the connections, what maxConnectionsPerWorker counts. */
  websocketHandshakes: `${PREFIX}websocket_handshakes`,
  websocketMessages: { name: `${PREFIX}websocket_messages_total`, labels: ['direction'] },
  websocketBytes: { name: `${PREFIX}websocket_bytes_total`, labels: ['direction'] },
  websocketCloses: { name: `${PREFIX}websocket_closes_total`, labels: ['code'] },
  workerRestarts: { name: `${PREFIX}worker_restarts_total`, labels: ['reason'] },
  workers: `${PREFIX}workers`,
  /** 1 while the primary's Redis command connection is up (only with `redis` configured). */
  redisConnected: `${PREFIX}redis_connected`,
  /** The node's rate-limit buckets in the primary: keys, the bytes they are charged, and the bound. */
  rateLimitBuckets: `${PREFIX}rate_limit_buckets`,
  rateLimitBucketBytes: `${PREFIX}rate_limit_bucket_bytes`,
  rateLimitBucketBytesMax: `${PREFIX}rate_limit_bucket_bytes_max`,
  /** Global rate-limit takes Redis did not answer, so onStoreFailure decided. */
  rateLimitStoreFailures: `${PREFIX}rate_limit_store_failures_total`,
  /** Cache purges and invalidations exchanged with other replicas. */
  replicaMessages: { name: `${PREFIX}replica_messages_total`, labels: ['direction', 'kind'] },
  /** Incoming replica bus messages dropped: unsigned, bad_signature, stale, malformed, or bus_off (no busSecret). */
  replicaMessagesRejected: { name: `${PREFIX}replica_messages_rejected_total`, labels: ['reason'] },
  buildInfo: { name: `${PREFIX}build_info`, labels: ['version', 'bun'] },
  /** Request and response body bytes per route, as their Content-Length declares them. */
  requestBytes: { name: `${PREFIX}http_request_bytes_total`, labels: ['route'] },
  responseBytes: { name: `${PREFIX}http_response_bytes_total`, labels: ['route'] },
  /** Tries sent to each configured target, and those that failed, by reason (bounded by the config's targets). */
  targetRequests: { name: `${PREFIX}upstream_target_requests_total`, labels: ['upstream', 'target'] },
  targetFailures: { name: `${PREFIX}upstream_target_failures_total`, labels: ['upstream', 'target', 'reason'] },
  /** Each process's own numbers: `worker` is a worker's pid, or `primary`. */
  processCpu: { name: `${PREFIX}process_cpu_seconds_total`, labels: ['worker'] },
  processRss: { name: `${PREFIX}process_resident_memory_bytes`, labels: ['worker'] },
  processOpenFds: { name: `${PREFIX}process_open_fds`, labels: ['worker'] },
  processMaxFds: { name: `${PREFIX}process_max_fds`, labels: ['worker'] },
  processStart: { name: `${PREFIX}process_start_time_seconds`, labels: ['worker'] },
  eventLoopLag: { name: `${PREFIX}event_loop_lag_seconds`, labels: ['worker'] },
  /** The last SIGHUP reload (the start counts as one, as Prometheus counts its own): 1 applied, 0 refused or failed. */
  configReloadSuccess: `${PREFIX}config_last_reload_success`,
  configReloadSuccessTime: `${PREFIX}config_last_reload_success_timestamp_seconds`,
  /** notAfter of the certificates in the config's files, as a unix time. */
  certificateExpiry: { name: `${PREFIX}tls_certificate_expiry_seconds`, labels: ['use', 'file'] },
  /** Spans not exported (only with `tracing`): queue_full, or export_failed (the collector refused or was unreachable). */
  tracingDropped: { name: `${PREFIX}tracing_spans_dropped_total`, labels: ['reason'] },
  tracingExported: `${PREFIX}tracing_spans_exported_total`,
} as const

/** The families that describe one process (labelled `worker`): they end with it, never kept for an exited worker. */
export const PROCESS_FAMILIES: ReadonlySet<string> = new Set(
  [METRICS.processCpu, METRICS.processRss, METRICS.processOpenFds, METRICS.processMaxFds, METRICS.processStart, METRICS.eventLoopLag].map((m) => m.name)
)

/** Seconds; upstream latencies on a LAN are mostly milliseconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
