/**
 * The route table, built once at boot. Matching is a scan over routes sorted by prefix
 * length (longest first, host-specific before host-less at equal length) with
 * `startsWith` on whole path segments: no regex, no allocation per request.
 */
import { ROUTE_METHODS, type RouteConfig } from '../config/schema.ts'
import { normalisePrefix } from '../config/load.ts'

export interface Route {
  /** Name for logs and metrics: the configured name, or the path. */
  readonly name: string
  /** Normalised prefix: no trailing slash except for the root "/". */
  readonly prefix: string
  /** Lower-case host to match, or undefined for any host. */
  readonly host: string | undefined
  readonly upstream: string
  readonly stripPrefix: boolean
  /** Allowed methods; HEAD is implied by GET (RFC 9110 §9.3.2). */
  readonly methods: ReadonlySet<string>
  /** Value of the Allow header on 405. */
  readonly allow: string
  readonly config: RouteConfig
}

export interface RouteTable {
  /**
   * The route for `path` on `host` (lower-case, without port; undefined when absent), or
   * undefined. `path` is the normalised path the gateway also forwards and caches by.
   */
  match(host: string | undefined, path: string): Route | undefined
  /** Whether any route matches on Host, so callers can skip extracting it. */
  readonly usesHost: boolean
}

export function createRouteTable(configs: readonly RouteConfig[]): RouteTable {
  const routes = configs.map(toRoute).sort(
    (a, b) => b.prefix.length - a.prefix.length || Number(b.host !== undefined) - Number(a.host !== undefined)
  )
  return {
    usesHost: routes.some((r) => r.host !== undefined),
    match(host, path) {
      for (const route of routes) {
        if (route.host !== undefined && route.host !== host) continue
        if (prefixMatches(route.prefix, path)) return route
      }
      return undefined
    },
  }
}

/** `/users` matches `/users`, `/users/` and `/users/42`, but not `/users2`. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true
  if (!path.startsWith(prefix)) return false
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* "/" */
}

/** The path sent upstream: the route prefix removed when `stripPrefix`, always starting with "/". */
export function upstreamPath(route: Route, path: string): string {
  if (!route.stripPrefix || route.prefix === '/') return path
  const rest = path.slice(route.prefix.length)
  return rest === '' ? '/' : rest
}

function toRoute(config: RouteConfig): Route {
  const methods = new Set<string>(config.methods ?? ROUTE_METHODS)
  if (methods.has('GET')) methods.add('HEAD')
  return {
    name: config.name ?? config.path,
    prefix: normalisePrefix(config.path),
    host: config.host?.toLowerCase(),
    upstream: config.upstream,
    stripPrefix: config.stripPrefix,
    methods,
    allow: ROUTE_METHODS.filter((m) => methods.has(m)).join(', '),
    config,
  }
}
