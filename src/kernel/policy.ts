/**
 * The one interface of every policy, built-in or a user's plugin (Caddy's module lifecycle):
 * a name, a config schema, load-time checks (Validate), `build` for one route (Provision:
 * the route, a logger, its stores, its metrics) and `close` (Cleanup). The built-ins are
 * listed once, in order, in policies/index.ts; a route's chain is their stages, and its
 * plugins' at the phase each names, around the forwarder.
 */
import type { Exchange } from './exchange.ts'
import type { ForwardingContext } from './forwarding.ts'
import type { StandardSchemaV1 } from './standard-schema.ts'
import type { Stage } from './stage.ts'

/**
 * Where a stage runs, outermost first. The built-ins hold `edge` (response headers, CORS, the
 * request limits), `auth`, `rateLimit` and `cache`; a plugin takes one of PLUGIN_PHASES.
 */
export const PHASES = ['edge', 'beforeAuth', 'auth', 'afterAuth', 'rateLimit', 'beforeCache', 'cache', 'afterCache'] as const
export type Phase = (typeof PHASES)[number]

/** Where a plugin may run: before or after auth, before or after the cache (after it: misses only). */
export const PLUGIN_PHASES = ['beforeAuth', 'afterAuth', 'beforeCache', 'afterCache'] as const
export type PluginPhase = (typeof PLUGIN_PHASES)[number]
/** After auth and the rate limit, before the cache: sees the identity, and every request the cache answers. */
export const DEFAULT_PLUGIN_PHASE: PluginPhase = 'beforeCache'

/**
 * The gateway's settings as policies see them. Empty here; config/ declares it the whole
 * parsed config (module augmentation), so the kernel imports nothing above it.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Settings {}

/** A route's settings, likewise declared by config/. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RouteSettings {}

/** Node-wide services a policy builds on (the rate-limit store, the response cache), declared by the policies that use them. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Stores {}

/** A route as a stage is built for it. */
export interface RouteView {
  /** Its name in logs and metrics. */
  readonly name: string
  /** Its normalised prefix. */
  readonly prefix: string
  /** Allowed methods (HEAD with GET); undefined: any. */
  readonly methods: ReadonlySet<string> | undefined
  /** The Allow header of its 405. */
  readonly allow: string
  /** Whether the prefix is cut from the path sent upstream (routes[].stripPrefix). */
  readonly stripPrefix: boolean
  /** Its config; undefined for the gateway's own routes (health, unmatched). */
  readonly config: RouteSettings | undefined
}

export interface PolicyLog {
  info(event: string, fields?: Record<string, unknown>): void
  warn(event: string, fields?: Record<string, unknown>): void
  error(event: string, fields?: Record<string, unknown>): void
}

/** Counting for a stage, bound to its route (the `route` label is added). */
export interface PolicyMetrics {
  /**
   * A counter `gateway_plugin_<name>_total` with the route label and `labels`. Its name is
   * lower-case snake_case; label values must be bounded (never a path, address or header).
   */
  counter(name: string, help: string, labels?: readonly string[]): (values?: Record<string, string>) => void
}

/** A plugin counter's name: `gateway_plugin_<name>_total` must be a valid metric name. */
export const COUNTER_NAME = /^[a-z][a-z0-9_]{0,62}$/

/**
 * The rules of `PolicyMetrics.counter`, one place for the workers' registry and the load-time
 * check alike: a snake_case name; the route label is the gateway's; one name, one label set
 * (two plugins may share a counter only as the same counter). `make` makes a new one.
 */
export function counterCatalog<T>(make: (name: string, help: string, labels: readonly string[]) => T) {
  const made = new Map<string, { labels: string; counter: T }>()
  return (name: string, help: string, labels: readonly string[] = []): T => {
    if (!COUNTER_NAME.test(name)) throw new Error(`counter name "${name}" must be lower-case a-z, 0-9 and _, starting with a letter`)
    if (labels.includes('route')) throw new Error(`counter "${name}": the route label is added by the gateway`)
    const key = labels.join(',')
    const known = made.get(name)
    if (known && known.labels !== key) throw new Error(`counter "${name}" is already defined with labels [${known.labels}]`)
    if (known) return known.counter
    const counter = make(name, help, labels)
    made.set(name, { labels: key, counter })
    return counter
  }
}

export interface BuildContext {
  readonly route: RouteView
  readonly settings: Settings
  /** Log lines carry the route. */
  readonly log: PolicyLog
  readonly metrics: PolicyMetrics & BuiltinMetrics
  readonly stores: Stores
  /** The route's forwarding rules for a request: what the upstream is sent (the cache keys on it). */
  forwarding(exchange: Exchange): ForwardingContext
  /**
   * The route's way to the named upstream (its prefix, header rules and body limit), built at
   * boot once per upstream: how a split or a mirror sends. Undefined on the gateway's own routes.
   */
  forwarderTo?(upstream: string): (exchange: Exchange) => Promise<Response>
  /** Runs `fn` when the chain is discarded (a reload, a stop): timers, sockets. */
  onClose(fn: () => void | Promise<void>): void
}

/** The built-in metric hooks, declared by the policies that count (module augmentation). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface BuiltinMetrics {}

export interface CheckContext {
  readonly settings: Settings
  /** The route the config belongs to; undefined for a plugin's own config. */
  readonly route?: RouteSettings
}

export interface Policy<Config = any> {
  /** Unique; for a built-in, also its key on a route (`cors`, `auth`, ...). */
  readonly name: string
  readonly phase: Phase
  /** Checks and types its config: a route's value under `name`, or a plugin's `config`. None: no config. */
  readonly schema?: StandardSchemaV1<unknown, Config>
  /** Checks the schema cannot make (files readable, secrets resolvable): `field: problem` lines. */
  check?(config: Config, context: CheckContext): string[]
  /** Its stage for a route, or undefined when the route does not use it (then it costs nothing). */
  build(config: Config | undefined, context: BuildContext): Stage | undefined
  /** Releases what the policy holds for all routes (a plugin's client), when the worker stops or reloads. */
  close?(): void | Promise<void>
}
