/**
 * Active health checks, one checker for the node (in the primary, not one per worker): for
 * each upstream with `healthCheck`, each target is asked `GET <path>` every intervalSeconds.
 * A target's first answer sets its state at once (so a target down at start is out before
 * any request reaches it); after that, unhealthyThreshold failures in a row take it out and
 * healthyThreshold passes bring it back. Each change is reported once (a log line, and to
 * every worker over IPC). https:// targets are verified with the upstream's `tls` settings.
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import { resolveTls } from '../upstream/upstream.ts'
import { createTarget, type TargetHealth } from '../upstream/target.ts'

export type { TargetHealth }

export interface HealthChecker {
  /** Every checked target's current state (known ones only). */
  states(): TargetHealth[]
  /** Resolves when every target has had its first answer (or its timeout). */
  readonly firstRound: Promise<void>
  stop(): void
}

interface Checked {
  upstream: string
  base: string
  url: string
  healthy: boolean | undefined
  passes: number
  failures: number
}

export function createHealthChecker(upstreams: GatewayConfig['upstreams'], log: Pick<Logger, 'info'>, onChange: (state: TargetHealth) => void): HealthChecker {
  const timers: ReturnType<typeof setInterval>[] = []
  const checked: Checked[] = []
  const first: Promise<void>[] = []
  for (const [name, config] of Object.entries(upstreams)) {
    const check = config.healthCheck
    if (!check) continue
    const expect = new Set(check.expectStatus)
    // The upstream's own CA and server name, as the forwarder verifies it: a private-CA
    // target must not be judged against the system CAs.
    const tls = resolveTls(config)
    for (const { url } of config.targets) {
      const base = createTarget(url).base
      const state: Checked = { upstream: name, base, url: base + check.path, healthy: undefined, passes: 0, failures: 0 }
      checked.push(state)
      const probe = async () => {
        let ok = false
        try {
          const res = await fetch(state.url, { redirect: 'manual', signal: AbortSignal.timeout(check.timeoutMs), headers: { 'user-agent': 'bun-gateway-health-check' }, ...(tls ? { tls } : {}) })
          ok = expect.has(res.status)
          await res.body?.cancel()
        } catch {
          ok = false
        }
        if (ok) {
          state.passes++
          state.failures = 0
        } else {
          state.failures++
          state.passes = 0
        }
        const before = state.healthy
        if (before === undefined) state.healthy = ok
        else if (before && state.failures >= check.unhealthyThreshold) state.healthy = false
        else if (!before && state.passes >= check.healthyThreshold) state.healthy = true
        if (state.healthy === before) return
        log.info('target_health', { upstream: name, target: base, healthy: state.healthy })
        onChange({ upstream: name, target: base, healthy: state.healthy! })
      }
      first.push(probe())
      const timer = setInterval(probe, check.intervalSeconds * 1000)
      timer.unref?.()
      timers.push(timer)
    }
  }
  return {
    states: () => checked.filter((c) => c.healthy !== undefined).map((c) => ({ upstream: c.upstream, target: c.base, healthy: c.healthy! })),
    firstRound: Promise.all(first).then(() => undefined),
    stop() {
      for (const timer of timers) clearInterval(timer)
    },
  }
}
