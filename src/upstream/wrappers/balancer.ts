/**
 * Chooses the target of each request and counts it in flight until its head arrives
 * (Caddy's selection + Host state). The policy sees only the targets; health-aware
 * selection (next issue) filters them here.
 */
import type { ClientWrapper, SelectionPolicy, Target } from '../types.ts'

export function withBalancer(targets: readonly Target[], policy: SelectionPolicy): ClientWrapper {
  const only = targets.length === 1 ? targets[0] : undefined
  return (next) => ({
    async send(request) {
      const target = only ?? policy.pick(targets)
      request.target = target
      target.inflight++
      try {
        return await next.send(request)
      } finally {
        target.inflight--
      }
    },
    closeIdle: () => next.closeIdle(),
  })
}
