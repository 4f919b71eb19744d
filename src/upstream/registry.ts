/** Every configured upstream by name, built once at boot. */
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import { createUpstream, type Upstream } from './upstream.ts'
import type { UpstreamObserver } from './types.ts'

export interface UpstreamRegistry {
  get(name: string): Upstream | undefined
  all(): Upstream[]
  close(): Promise<void>
}

export function createUpstreamRegistry(
  upstreams: GatewayConfig['upstreams'],
  observerFor?: (upstream: string) => UpstreamObserver,
  log?: Pick<Logger, 'warn'>,
  failureIntervalMs?: number
): UpstreamRegistry {
  const byName = new Map<string, Upstream>()
  for (const [name, config] of Object.entries(upstreams)) {
    byName.set(name, createUpstream(name, config, { observer: observerFor?.(name), log, failureIntervalMs }))
  }
  return {
    get: (name) => byName.get(name),
    all: () => [...byName.values()],
    async close() {
      await Promise.all([...byName.values()].map((u) => u.close()))
    },
  }
}
