/**
 * A metric's HELP names every label value the code counts under it, so a scrape explains
 * itself. The value lists below are typed against the code's unions (`satisfies Record<…>`),
 * so a new value fails typecheck here until the HELP and this list name it.
 */
import { expect, test } from 'bun:test'
import { ERRORS, UPSTREAM_ERROR_CODES, type ErrorCode } from '../kernel/errors.ts'
import type { AuthFailure } from '../policies/auth/api-key.ts'
import type { JwtFailure } from '../policies/auth/jwt.ts'
import type { CacheStatus } from '../policies/cache/response-cache.ts'
import { CODINGS } from '../policies/compression/schema.ts'
import type { SpawnReason } from '../primary/supervisor.ts'
import type { CertificateUse } from '../config/tls-files.ts'
import { REJECT_REASONS } from '../replicas/bus.ts'
import type { BridgeObserver } from '../upstream/websocket/bridge.ts'
import type { UpstreamObserver } from '../upstream/types.ts'
import { METRICS } from './names.ts'
import { createPrimaryMetrics } from './primary.ts'
import { createWorkerMetrics } from './registry.ts'

type RetryOutcome = Parameters<NonNullable<UpstreamObserver['retry']>>[0]
type Direction = Parameters<BridgeObserver['message']>[0]

const keys = (record: object) => Object.keys(record)
const CACHE_RESULTS = keys({ HIT: 1, MISS: 1, BYPASS: 1, EXPIRED: 1, STALE: 1, REVALIDATED: 1 } satisfies Record<CacheStatus, 1>).map((s) => s.toLowerCase())
const AUTH_REASONS = keys({ missing: 1, unknown: 1, invalid: 1, expired: 1 } satisfies Record<AuthFailure | JwtFailure, 1>)
const RETRY_OUTCOMES = keys({ success: 1, failure: 1, budget_exhausted: 1 } satisfies Record<RetryOutcome, 1>)
const DIRECTIONS = keys({ to_upstream: 1, to_client: 1 } satisfies Record<Direction, 1>)
const CERTIFICATE_USES = keys({ server: 1, server_chain: 1, upstream_ca: 1, redis_ca: 1, client_ca: 1 } satisfies Record<CertificateUse, 1>)
/** Every spawn but the first generation's ('start') is a restart. */
const RESTART_REASONS = keys({ crash: 1, recycle: 1, reload: 1 } satisfies Record<Exclude<SpawnReason, 'start'>, 1>)
/**
 * app.ts renderError counts every catalogue error under 500 but client_closed, and overloaded.
 * forbidden is the admin port's alone, and the admin port counts nothing.
 */
const REJECTED = (Object.keys(ERRORS) as ErrorCode[]).filter((code) => (ERRORS[code] < 500 && code !== 'client_closed' && code !== 'forbidden') || code === 'overloaded')

async function helpOf(): Promise<Map<string, string>> {
  const worker = await createWorkerMetrics({ version: 'test', bun: Bun.version }).registry.getMetricsAsJSON()
  const primary = await createPrimaryMetrics(() => 1, () => true).registry.getMetricsAsJSON()
  return new Map([...worker, ...primary].map((m) => [m.name, m.help]))
}

test.each([
  [METRICS.upstreamErrors.name, [...UPSTREAM_ERROR_CODES]],
  [METRICS.rejected.name, REJECTED],
  [METRICS.cacheRequests.name, CACHE_RESULTS],
  [METRICS.authFailures.name, AUTH_REASONS],
  [METRICS.compressed.name, [...CODINGS]],
  [METRICS.compressionSaved.name, [...CODINGS]],
  [METRICS.retries.name, RETRY_OUTCOMES],
  [METRICS.websocketMessages.name, DIRECTIONS],
  [METRICS.websocketBytes.name, DIRECTIONS],
  [METRICS.workerRestarts.name, RESTART_REASONS],
  [METRICS.replicaMessages.name, ['sent', 'received', 'purge', 'invalidate']],
  [METRICS.replicaMessagesRejected.name, [...REJECT_REASONS]],
  [METRICS.httpRequests, ['ok']],
  [METRICS.httpDuration, ['ok']],
  [METRICS.upstreamDuration.name, ['1xx', '2xx', '3xx', '4xx', '5xx', 'retries']],
  [METRICS.targetRequests.name, ['retries', 'bounded']],
  [METRICS.targetFailures.name, [...UPSTREAM_ERROR_CODES, 'bounded']],
  [METRICS.requestBytes.name, ['Content-Length', 'chunked']],
  [METRICS.responseBytes.name, ['Content-Length', 'chunked', 'HEAD', '304']],
  [METRICS.configReloadSuccess, ['1', '0', 'SIGHUP']],
  [METRICS.certificateExpiry.name, [...CERTIFICATE_USES]],
  ...[METRICS.processCpu, METRICS.processRss, METRICS.processOpenFds, METRICS.processMaxFds, METRICS.processStart, METRICS.eventLoopLag].map((m) => [m.name, ['pid', 'primary']] as [string, string[]]),
])('the HELP of %s names %p', async (name, values) => {
  const help = (await helpOf()).get(name)
  expect(help).toBeDefined()
  expect(values.filter((value) => !new RegExp(`\\b${value}\\b`).test(help!))).toEqual([])
})
