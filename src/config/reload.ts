/**
 * What a SIGHUP reload can change. Every worker-side setting applies: a reload starts a new
 * generation of workers, with command line and environment derived from the new config.
 * The primary reads its own settings (admin token and hosts, metrics on/off, shutdown
 * deadline, crash loop) from the config in force. Only the admin listener's address, the
 * Redis connection and the shared cache file cannot change without a restart; a reload that
 * changes them is rejected and names the key.
 */
import type { GatewayConfig } from './schema.ts'

/** One message per restart-only key that differs between `current` and `next`. */
export function restartOnlyChanges(current: GatewayConfig, next: GatewayConfig): string[] {
  const changed: string[] = []
  if (current.admin.host !== next.admin.host) changed.push('admin.host: changes only on restart')
  if (current.admin.port !== next.admin.port) changed.push('admin.port: changes only on restart')
  // The primary holds the Redis connections (limits, fan-out) for its whole life.
  if (JSON.stringify(current.redis) !== JSON.stringify(next.redis)) changed.push('redis: changes only on restart')
  // The primary prepares the shared cache file once, before the first worker.
  if (current.cache.shared.enabled !== next.cache.shared.enabled) changed.push('cache.shared.enabled: changes only on restart')
  if (current.cache.shared.path !== next.cache.shared.path) changed.push('cache.shared.path: changes only on restart')
  return changed
}
