/**
 * The native base client: keep-alive HTTP/1.1 on Bun.connect, one pool per target and
 * worker (pool.ts), strict framing (parser.ts). It replaces Bun's fetch for http://
 * targets, which is the proxying ceiling in Bun (docs/performance-optimization.md). A
 * reused connection that closes before any response byte arrives is retried once on a
 * fresh connection, for idempotent requests without a streamed body (the stale keep-alive
 * race); never for POST or PATCH.
 */
import { UpstreamError } from '../errors.ts'
import type { Target, UpstreamClient, UpstreamRequest, UpstreamResponse } from '../types.ts'
import { StaleConnectionError, type Connection, type ExchangeOptions, type RetryStale } from './connection.ts'
import { TargetPool } from './pool.ts'

export interface NativeClientOptions {
  maxConnections: number
  maxIdle: number
  idleTimeoutSeconds: number
  queueSize: number
  queueTimeoutMs: number
  maxResponseHeaderBytes: number
  bufferResponseBytes: number
}

/** Methods safe to send twice (RFC 9110 §9.2.2), when no body stream was consumed. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

export function createNativeClient(options: NativeClientOptions): UpstreamClient {
  interface PoolEntry {
    pool: TargetPool
    exchange: ExchangeOptions
    /** The one retry of a request whose reused connection proved stale (made once per target). */
    retryStale: RetryStale
  }
  const pools = new Map<Target, PoolEntry>()
  const poolOf = (target: Target) => {
    let entry = pools.get(target)
    if (!entry) {
      const url = new URL(target.base)
      const port = Number(url.port || 80)
      entry = {
        pool: new TargetPool({
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port,
          maxConnections: options.maxConnections,
          maxIdle: options.maxIdle,
          idleTimeoutMs: options.idleTimeoutSeconds * 1000,
          queueSize: options.queueSize,
          queueTimeoutMs: options.queueTimeoutMs,
        }),
        exchange: {
          maxHeaderBytes: options.maxResponseHeaderBytes,
          bufferBytes: options.bufferResponseBytes,
          // An address resolved from a name sends the name (upstream/dns.ts).
          authority: target.host ?? url.host,
          basePath: url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, ''),
        },
        retryStale: (request) => retry(entry!, request),
      }
      pools.set(target, entry)
      // A request that chose the target just before it was retired: its connection is not kept.
      if (target.retired) entry.pool.retire()
    }
    return entry
  }

  function send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const entry = poolOf(request.target!)
    let acquired: Connection | Promise<Connection>
    try {
      acquired = entry.pool.acquire(request)
    } catch (err) {
      return Promise.reject(err)
    }
    // An idle connection at hand (the common case): no extra promise before the write.
    if (!(acquired instanceof Promise)) return attempt(entry, acquired, request)
    return acquired.then((connection) => attempt(entry, connection, request))
  }

  /** One exchange, and the one retry of a stale reused connection. */
  function attempt(entry: PoolEntry, connection: Connection, request: UpstreamRequest): Promise<UpstreamResponse> {
    // Deadline aborts arrive already classified (headers_timeout / body_timeout) by the exchange.
    // A fresh connection is never stale: its failure is final.
    return connection.exchange(request, entry.exchange, connection.uses === 0 ? undefined : entry.retryStale)
  }

  async function retry(entry: PoolEntry, request: UpstreamRequest): Promise<UpstreamResponse> {
    if (!IDEMPOTENT.has(request.method) || request.body !== null) throw new UpstreamError('reset', { cause: new StaleConnectionError() })
    const fresh = await entry.pool.connect()
    try {
      return await fresh.exchange(request, entry.exchange)
    } catch (err) {
      throw err instanceof StaleConnectionError ? new UpstreamError('reset', { cause: err }) : err
    }
  }

  return {
    send,
    // The parser refuses what the head checks refuse and drops the hop-by-hop fields.
    checksHeads: true,
    closeIdle() {
      for (const { pool } of pools.values()) pool.closeIdle()
    },
    retire(target) {
      pools.get(target)?.pool.retire()
      pools.delete(target)
    },
  }
}
