/**
 * Routes as a worker keeps them: a part equal in many routes (their cache settings, a list
 * of plugins or methods, header rules) is one object shared by all of them. A config comes
 * from zod or over IPC as JSON, both of which make a copy per route: 10,000 routes with the
 * default cache settings would hold 10,000 copies of them. Config objects are never written
 * (load.ts freezes them), so sharing cannot leak a change from one route to another.
 */
import type { RouteConfig } from './schema.ts'

export function shareEqualParts(routes: readonly RouteConfig[]): RouteConfig[] {
  const known = new Map<string, unknown>()
  const share = (value: object): unknown => {
    const key = JSON.stringify(value)
    const found = known.get(key)
    if (found !== undefined) return found
    known.set(key, value)
    return value
  }
  return routes.map((route) => {
    const shared: Record<string, unknown> = { ...route }
    for (const name in shared) {
      const value = shared[name]
      if (typeof value === 'object' && value !== null) shared[name] = share(value)
    }
    return shared as unknown as RouteConfig
  })
}
