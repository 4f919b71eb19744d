/**
 * Where a route's chain is built, at boot: the built-in policies' stages in their order
 * (policies/index.ts), the route's plugins each at its phase (plugins first that are
 * `global`, then the route's own list), composed around the terminal (the forwarder, or
 * the gateway's own answer). A policy the route does not use builds nothing and costs
 * nothing per request; a request pays one plain call per stage (kernel/stage.ts).
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { Exchange } from '../kernel/exchange.ts'
import type { ForwardingContext } from '../kernel/forwarding.ts'
import { PHASES, type BuildContext, type BuiltinMetrics, type Phase, type PolicyMetrics, type Stores } from '../kernel/policy.ts'
import { compose, type Handler, type Stage } from '../kernel/stage.ts'
import type { Logger } from '../log.ts'
import { BUILTIN_POLICIES } from '../policies/index.ts'
import type { BuiltinPolicy } from '../policies/builtin.ts'
import type { LoadedPlugin } from '../policies/plugins/load.ts'
import { guardPlugin } from '../policies/plugins/guard.ts'
import type { Route } from '../config/routes.ts'

/** What every route's chain is built from, once per worker (and per reload). */
export interface ChainDeps {
  settings: GatewayConfig
  log: Logger
  stores: Stores
  /** The metric hooks of a route's stages; none when metrics are off. */
  metricsFor?(route: string): PolicyMetrics & BuiltinMetrics
  /** The plugins the config declares, loaded (policies/plugins/load.ts). */
  plugins: ReadonlyMap<string, LoadedPlugin>
}

/** A chain and what to do when it is discarded. */
export interface Chain {
  readonly handler: Handler
}

const NO_METRICS: PolicyMetrics & BuiltinMetrics = { counter: () => () => {} }

/** A route that forwards nothing (health, unmatched) still has forwarding rules to answer with. */
const NO_FORWARDING = (): ForwardingContext => {
  throw new Error('this route does not forward')
}

/** Collects the close callbacks of every chain built with it (the JWKS refreshes...). */
export function createClosers() {
  const closers: (() => void | Promise<void>)[] = []
  return {
    add: (fn: () => void | Promise<void>) => void closers.push(fn),
    async closeAll() {
      for (const close of closers.splice(0)) {
        try {
          await close()
        } catch {
          // A failing cleanup must not stop the others.
        }
      }
    },
  }
}

/** The route's chain: its stages, outermost first, around `terminal`. */
export function buildChain(
  route: Route,
  terminal: Handler,
  deps: ChainDeps,
  closers: ReturnType<typeof createClosers>,
  forwarding: (exchange: Exchange) => ForwardingContext = NO_FORWARDING
): Handler {
  const context: BuildContext = {
    route,
    settings: deps.settings,
    log: {
      info: (event, fields) => deps.log.info(event, { route: route.name, ...fields }),
      warn: (event, fields) => deps.log.warn(event, { route: route.name, ...fields }),
      error: (event, fields) => deps.log.error(event, { route: route.name, ...fields }),
    },
    metrics: deps.metricsFor?.(route.name) ?? NO_METRICS,
    stores: deps.stores,
    forwarding,
    onClose: closers.add,
  }
  const plugins = pluginsOf(route, deps)
  const stages: Stage[] = []
  let builtin = 0
  for (const phase of PHASES) {
    for (; builtin < BUILTIN_POLICIES.length && BUILTIN_POLICIES[builtin]!.phase === phase; builtin++) {
      const policy = BUILTIN_POLICIES[builtin] as BuiltinPolicy
      const config = policy.schema === undefined ? undefined : (route.config as Record<string, unknown> | undefined)?.[policy.name]
      const stage = policy.build(config as never, context)
      if (stage) stages.push(stage)
    }
    for (const plugin of plugins) {
      if (plugin.phase !== phase) continue
      const pluginContext: BuildContext = {
        ...context,
        log: {
          info: (event, fields) => deps.log.info(event, { route: route.name, plugin: plugin.name, ...fields }),
          warn: (event, fields) => deps.log.warn(event, { route: route.name, plugin: plugin.name, ...fields }),
          error: (event, fields) => deps.log.error(event, { route: route.name, plugin: plugin.name, ...fields }),
        },
      }
      let stage: Stage | undefined
      try {
        stage = plugin.policy.build(plugin.config, pluginContext)
      } catch (err) {
        // The load-time check built it too; here it failed anyway (its code reads the worker's world).
        throw Object.assign(new Error(`plugins.${plugin.name}: build failed for route ${route.name} (${err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err)})`), { code: 'plugin_build_failed' })
      }
      if (stage) stages.push(guardPlugin(plugin.name, route.name, stage, deps.log))
    }
  }
  return compose(stages, terminal)
}

/** The plugins of `route`: the global ones, then its own list, each once. */
function pluginsOf(route: Route, deps: ChainDeps): { name: string; phase: Phase; policy: LoadedPlugin['policy']; config: unknown }[] {
  if (route.config === undefined) return []
  const names = new Set<string>()
  for (const [name, plugin] of deps.plugins) if (plugin.global) names.add(name)
  for (const name of route.config.plugins) names.add(name)
  return [...names].map((name) => {
    // The config loader guarantees every name is declared.
    const plugin = deps.plugins.get(name)!
    return { name, phase: plugin.phase, policy: plugin.policy, config: plugin.config }
  })
}
