/**
 * An upstream: its targets and the client that reaches them, composed at boot from the
 * base client and its wrappers, outermost first: observe (metrics) → head checks → balance
 * → base. Retries, health and breakers (next issues) slot in here.
 */
import type { UpstreamConfig } from '../config/schema.ts'
import { createFetchClient } from './client.ts'
import { createNativeClient } from './native/client.ts'
import { roundRobin } from './selection/round-robin.ts'
import { createTarget } from './target.ts'
import { composeClient, type SelectionPolicy, type Target, type UpstreamClient } from './types.ts'
import { withBalancer } from './wrappers/balancer.ts'
import { withHeadChecks } from './wrappers/head-checks.ts'
import { withObserver, type UpstreamObserver } from './wrappers/observer.ts'

export interface Upstream {
  readonly name: string
  readonly config: UpstreamConfig
  readonly targets: readonly Target[]
  /** The composed client: every request of every route to this upstream goes through it. */
  readonly client: UpstreamClient
  /** Reports body failures the forwarder sees (head failures are reported by the client). */
  readonly observer: UpstreamObserver | undefined
  close(): Promise<void>
}

export interface UpstreamOptions {
  policy?: SelectionPolicy
  /** The base client (tests, or another implementation); from `config.client` by default. */
  base?: UpstreamClient
  observer?: UpstreamObserver
}

/** The native client for plain-HTTP upstreams (the default); fetch when configured, and for https:// targets. */
function createBaseClient(config: UpstreamConfig): UpstreamClient {
  const plain = config.targets.every((t) => t.toLowerCase().startsWith('http://'))
  if (config.client === 'fetch' || !plain) return createFetchClient(config.keepAlive)
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

/** Builds an upstream from its config. */
export function createUpstream(name: string, config: UpstreamConfig, options: UpstreamOptions = {}): Upstream {
  const targets = config.targets.map(createTarget)
  const base = options.base ?? createBaseClient(config)
  const observer = options.observer
  const client = composeClient(
    base,
    ...(observer ? [withObserver(observer)] : []),
    withHeadChecks(config),
    withBalancer(targets, options.policy ?? roundRobin())
  )
  return {
    name,
    config,
    targets,
    client,
    observer,
    async close() {
      client.closeIdle()
    },
  }
}
