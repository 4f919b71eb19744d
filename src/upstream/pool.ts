/** An upstream: its targets, the policy that picks one, and the client that reaches them. */
import type { UpstreamConfig } from '../config/schema.ts'
import { createFetchClient } from './client.ts'
import { roundRobin } from './selection/round-robin.ts'
import { createTarget } from './target.ts'
import type { SelectionPolicy, Target, UpstreamClient } from './types.ts'

export interface Upstream {
  readonly name: string
  readonly config: UpstreamConfig
  readonly targets: readonly Target[]
  readonly client: UpstreamClient
  pick(): Target
  close(): Promise<void>
}

/** Builds an upstream from its config; `client` and `policy` may be swapped (tests, other clients). */
export function createPool(
  name: string,
  config: UpstreamConfig,
  options: { policy?: SelectionPolicy; client?: UpstreamClient } = {}
): Upstream {
  const targets = config.targets.map(createTarget)
  const policy = options.policy ?? roundRobin()
  const client = options.client ?? createFetchClient(config.keepAlive)
  const only = targets.length === 1 ? targets[0] : undefined
  return {
    name,
    config,
    targets,
    client,
    pick: only ? () => only : () => policy.pick(targets),
    async close() {
      client.closeIdle()
    },
  }
}
