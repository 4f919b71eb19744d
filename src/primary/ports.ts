/**
 * One gateway per port. The workers bind the public port with SO_REUSEPORT, so the workers of
 * a second gateway started on it by mistake (another config, another admin port) would bind
 * it too, and the kernel would split connections between the two configs. Before anything
 * listens, the primary binds each configured port once without SO_REUSEPORT and lets it go:
 * Linux refuses that bind (EADDRINUSE) while any socket listens on the port, whatever its
 * options, so another owner is found the way nginx finds it. SO_REUSEADDR (Bun sets it) lets
 * the bind through connections in TIME_WAIT that a previous gateway left behind.
 *
 * The check and the workers' bind are ~100 ms apart: two gateways started within that window
 * can still both bind. Port 0 is not checked (a free port is picked).
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'

export interface TakenPort {
  listener: 'server' | 'admin'
  host: string
  port: number
}

/** The first of the config's ports another process listens on, or undefined. */
export function takenPort(config: Pick<GatewayConfig, 'server' | 'admin'>): TakenPort | undefined {
  const listeners: TakenPort[] = [
    { listener: 'server', host: config.server.host, port: config.server.port },
    { listener: 'admin', host: config.admin.host, port: config.admin.port },
  ]
  for (const candidate of listeners) {
    if (candidate.port === 0) continue
    try {
      // Bun.serve, as the workers and the admin listener bind: the same address resolution.
      const probe = Bun.serve({ hostname: candidate.host, port: candidate.port, reusePort: false, development: false, fetch: () => new Response(null, { status: 503 }) })
      probe.stop(true)
    } catch (err) {
      if ((err as { code?: string }).code === 'EADDRINUSE') return candidate
      // Anything else (EACCES, EADDRNOTAVAIL): the listener itself fails and says so, as before.
    }
  }
  return undefined
}

/** Exits 1 with one `port_in_use` line, before anything starts, when another process owns a port. */
export function refuseTakenPort(config: Pick<GatewayConfig, 'server' | 'admin'>, log: Logger): void {
  const taken = takenPort(config)
  if (!taken) return
  log.error('port_in_use', { ...taken, reason: `another process listens on ${taken.host}:${taken.port}; stop it or choose another ${taken.listener}.port` })
  process.exit(1)
}
