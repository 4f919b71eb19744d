/**
 * Routes compiled at boot from the config, in precedence order: the longest prefix first,
 * and at equal length a host-specific route before a host-less one. The route table
 * (pipeline/route-table.ts) finds a request's route by the same rules.
 */
import type { RouteConfig } from './schema.ts'
import { ROUTE_METHODS } from '../policies/field-rules.ts'
import { hostForRouting } from '../kernel/target.ts'
import { derivedRouteName } from './match-key.ts'

export interface Route {
  /** Name for logs and metrics: the configured name, or the path (with its match: config/match-key.ts). */
  readonly name: string
  /** Normalised prefix: no trailing slash except for the root "/". */
  readonly prefix: string
  /** Lower-case host to match, or undefined for any host. */
  readonly host: string | undefined
  /** Allowed methods; HEAD is implied by GET (RFC 9110 §9.3.2). Undefined: any (unmatched requests get 404). */
  readonly methods: ReadonlySet<string> | undefined
  /** Value of the Allow header on 405. */
  readonly allow: string
  /** Whether the prefix is cut from the path sent upstream (routes[].stripPrefix). */
  readonly stripPrefix: boolean
  /** The route's configuration; undefined for the gateway's own (health, unmatched). */
  readonly config: RouteConfig | undefined
}

/** The routes of `configs`, most specific first. */
export function compileRoutes(configs: readonly RouteConfig[]): Route[] {
  return configs
    .map(toRoute)
    .sort((a, b) => b.prefix.length - a.prefix.length || Number(b.host !== undefined) - Number(a.host !== undefined))
}

/** A route the gateway answers itself (health, unmatched requests): no config. */
export function builtinRoute(name: string, prefix: string, methods?: readonly string[]): Route {
  return { name, prefix, host: undefined, methods: methods && new Set(methods), allow: methods?.join(', ') ?? '', stripPrefix: false, config: undefined }
}

/** A route's allowed methods and its Allow value, one of each per distinct list (shared across routes). */
const methodSets = new Map<string, { methods: ReadonlySet<string>; allow: string }>()
function methodsOf(listed: readonly string[] | undefined): { methods: ReadonlySet<string>; allow: string } {
  const key = listed?.join(',') ?? '*'
  let known = methodSets.get(key)
  if (!known) {
    const methods = new Set<string>(listed ?? ROUTE_METHODS)
    if (methods.has('GET')) methods.add('HEAD')
    methodSets.set(key, (known = { methods, allow: ROUTE_METHODS.filter((m) => methods.has(m)).join(', ') }))
  }
  return known
}

function toRoute(config: RouteConfig): Route {
  const { methods, allow } = methodsOf(config.methods)
  return {
    name: routeName(config),
    prefix: normalisePrefix(config.path),
    host: config.host === undefined ? undefined : hostForRouting(config.host),
    methods,
    allow,
    stripPrefix: config.stripPrefix,
    config,
  }
}

/** A route's name: the configured one, else derived from its path and match. */
export function routeName(config: RouteConfig): string {
  return config.name ?? derivedRouteName(config.path, config.match)
}

/** `/users/` and `/users` are the same prefix. */
export function normalisePrefix(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
}
