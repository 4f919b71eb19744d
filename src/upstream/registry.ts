/** Every configured upstream by name, built once at boot. */
import type { GatewayConfig } from '../config/schema.ts'
import { createPool, type Upstream } from './pool.ts'

export interface UpstreamRegistry {
  get(name: string): Upstream | undefined
  close(): Promise<void>
}

export function createUpstreamRegistry(upstreams: GatewayConfig['upstreams']): UpstreamRegistry {
  const byName = new Map<string, Upstream>()
  for (const [name, config] of Object.entries(upstreams)) byName.set(name, createPool(name, config))
  return {
    get: (name) => byName.get(name),
    async close() {
      await Promise.all([...byName.values()].map((u) => u.close()))
    },
  }
}
