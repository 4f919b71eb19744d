/**
 * Active health checks, one checker for the node (in the primary, not one per worker): for
 * each upstream with `healthCheck`, each target is asked `GET <path>` every intervalSeconds.
 * A target's first answer sets its state at once (so a target down at start is out before
 * any request reaches it); after that, unhealthyThreshold failures in a row take it out and
 * healthyThreshold passes bring it back. Each change is reported once (a log line, and to
 * every worker over IPC). https:// targets are verified with the upstream's `tls` settings.
 * A target written with a name is checked at each of its addresses (`setAddresses`, from the
 * DNS resolver), with the name as Host and TLS server name.
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import { resolveTls } from '../upstream/upstream.ts'
import { createTarget, type TargetHealth } from '../upstream/target.ts'
import { addressTarget, dnsNameOf, namedTls, type AddressSet } from '../upstream/dns.ts'

export type { TargetHealth }

export interface HealthChecker {
  /** Every checked target's current state (known ones only). */
  states(): TargetHealth[]
  /** Resolves when every target has had its first answer (or its timeout). */
  readonly firstRound: Promise<void>
  /** The resolver's addresses for a named target: a check each, the removed ones' checks stopped. */
  setAddresses(set: AddressSet): void
  stop(): void
}

interface Checked {
  upstream: string
  /** The configured target URL it came from. */
  from: string
  timer?: ReturnType<typeof setInterval>
  base: string
  url: string
  healthy: boolean | undefined
  passes: number
  failures: number
}

export function createHealthChecker(
  upstreams: GatewayConfig['upstreams'],
  log: Pick<Logger, 'info'>,
  onChange: (state: TargetHealth) => void,
  onRemoved?: (state: Omit<TargetHealth, 'healthy'>) => void
): HealthChecker {
  let checked: Checked[] = []
  const first: Promise<void>[] = []
  let stopped = false
  const tlsByUpstream = new Map<string, ReturnType<typeof resolveTls>>()
  const watch = (name: string, from: string, base: string, host: string | undefined) => {
    const config = upstreams[name]!
    const check = config.healthCheck!
    const expect = new Set(check.expectStatus)
    // The upstream's own CA and server name, as the forwarder verifies it: a private-CA
    // target must not be judged against the system CAs. An address of a name: the name's.
    // Read once per upstream, not once per address (a DNS change adds addresses).
    let configured = tlsByUpstream.get(name)
    if (configured === undefined && !tlsByUpstream.has(name)) tlsByUpstream.set(name, (configured = resolveTls(config)))
    const tls = host === undefined ? configured : namedTls(configured, host)
    const headers: Record<string, string> = { 'user-agent': 'bun-gateway-health-check', ...(host === undefined ? {} : { host }) }
    {
      const state: Checked = { upstream: name, from, base, url: base + check.path, healthy: undefined, passes: 0, failures: 0 }
      checked.push(state)
      const probe = async () => {
        let ok = false
        try {
          const res = await fetch(state.url, { redirect: 'manual', signal: AbortSignal.timeout(check.timeoutMs), headers, ...(tls ? { tls } : {}) })
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
        // A removed address's last answer says nothing any more.
        if (state.healthy === before || !checked.includes(state)) return
        log.info('target_health', { upstream: name, target: base, healthy: state.healthy })
        onChange({ upstream: name, target: base, healthy: state.healthy! })
      }
      if (stopped) return
      first.push(probe())
      state.timer = setInterval(probe, check.intervalSeconds * 1000)
      state.timer.unref?.()
    }
  }
  for (const [name, config] of Object.entries(upstreams)) {
    if (!config.healthCheck) continue
    // A name is checked at its addresses, once the resolver has them.
    for (const { url } of config.targets) if (!dnsNameOf(url)) watch(name, url, createTarget(url).base, undefined)
  }
  return {
    states: () => checked.filter((c) => c.healthy !== undefined).map((c) => ({ upstream: c.upstream, target: c.base, healthy: c.healthy! })),
    // Read when awaited: it includes the addresses the resolver gave before then.
    get firstRound() {
      return Promise.all(first).then(() => undefined)
    },
    setAddresses(set) {
      const config = upstreams[set.upstream]
      const dns = dnsNameOf(set.target)
      if (!config?.healthCheck || !dns) return
      const wanted = new Map(set.addresses.map((a) => [addressTarget(dns, a).base, a]))
      for (const c of checked) {
        if (c.upstream !== set.upstream || c.from !== set.target || wanted.has(c.base)) continue
        clearInterval(c.timer)
        onRemoved?.({ upstream: c.upstream, target: c.base })
      }
      checked = checked.filter((c) => c.upstream !== set.upstream || c.from !== set.target || wanted.has(c.base))
      const have = new Set(checked.filter((c) => c.upstream === set.upstream && c.from === set.target).map((c) => c.base))
      for (const base of wanted.keys()) if (!have.has(base)) watch(set.upstream, set.target, base, dns.host)
    },
    stop() {
      stopped = true
      for (const c of checked) clearInterval(c.timer)
    },
  }
}
