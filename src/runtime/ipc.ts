/** Messages between the primary and its workers over Bun's IPC channel (JSON). */
import type { GatewayConfig } from '../config/schema.ts'
import type { PurgeSelector } from '../policies/cache/purge.ts'
import type { MetricsSnapshot } from '../metrics/aggregate.ts'

import type { StoreFailurePolicy } from '../policies/rate-limit/buckets.ts'
import type { TargetHealth } from '../upstream/target.ts'
import type { AddressSet } from '../upstream/dns.ts'
import type { UpstreamSnapshot } from '../upstream/snapshot.ts'

/** Primary → worker. */
export type PrimaryMessage =
  /** Serve `config` on `port` (the primary resolves port 0 once, so all workers share it). */
  | { type: 'start'; config: GatewayConfig; port: number; health: TargetHealth[]; dns?: AddressSet[]; sharedCachePath?: string }
  /** The primary's resolver has a new address set for a target written with a name. */
  | { type: 'dns'; set: AddressSet }
  /** The primary's health checker changed its verdict on a target. */
  | { type: 'health'; state: TargetHealth }
  /** Admin GET /upstreams: answer with `upstreams` and the same id. */
  | { type: 'upstreams?'; id: number }
  /** Answer with Connection: close for the drain window, stop listening, finish, exit 0. */
  | { type: 'drain'; reason: DrainReason }
  /** Drop these cache primary keys (another worker saw an unsafe method change them). */
  | { type: 'invalidate'; keys: string[] }
  /** Purge from the admin port; answer with `purged` and the same id. */
  | { type: 'purge'; id: number; selector: PurgeSelector }
  /** A scrape: answer with `metrics` and the same id. */
  | { type: 'metrics?'; id: number }
  /** SIGUSR1 reached the primary: open the access log file again (logrotate moved it). */
  | { type: 'reopen_logs' }
  /** Tokens from the node's rate-limit bucket, for a `take` with the same id. */
  | { type: 'granted'; id: number; granted: number; retryAfterMs: number; unavailable?: true }

/** Worker → primary. */
export type WorkerMessage =
  /** Ready to receive `start`. */
  | { type: 'hello' }
  | { type: 'listening'; port: number }
  /** Could not start or listen (port taken, bad address, a plugin); the worker exits 1 next. */
  | { type: 'listen_failed'; code: string; reason?: string }
  /** The worker wants to be recycled; the primary starts a replacement, then sends `drain`. */
  | { type: 'recycle'; reason: 'max_requests' | 'max_rss'; served: number; rssMb: number }
  /** An unsafe method changed these URLs: the primary tells every other worker. */
  | { type: 'invalidate'; keys: string[] }
  | { type: 'purged'; id: number; removed: number }
  | { type: 'upstreams'; id: number; data: UpstreamSnapshot[] }
  /**
   * Tokens wanted from the node's bucket `key`, which refills at `rate` a second up to `burst`;
   * with `global`, from the replicas' shared bucket, and what to do when it is unreachable.
   */
  | { type: 'take'; id: number; key: string; want: number; rate: number; burst: number; global?: StoreFailurePolicy }
  /** A scrape answer, or (id 0) the final report a worker sends before it exits. */
  | { type: 'metrics'; id: number; data: MetricsSnapshot }

export type DrainReason = 'recycle' | 'reload'
