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
import { PHASES, type BuildContext, type BuiltinMetrics, type PolicyLog, type PolicyMetrics, type Stores } from '../kernel/policy.ts'
import { compose, type Handler, type Stage } from '../kernel/stage.ts'
import type { Logger } from '../log.ts'
import { BUILTIN_POLICIES } from '../policies/index.ts'
import type { BuiltinPolicy } from '../policies/builtin.ts'
import { buildFailure, routePlugins, type LoadedPlugin } from '../policies/plugins/load.ts'
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

const NO_METRICS: PolicyMetrics & BuiltinMetrics = { counter: () => () => {} }

/** A route that forwards nothing (health, unmatched) still has forwarding rules to answer with. */
const NO_FORWARDING = (): ForwardingContext => {
  throw new Error('this route does not forward')
}

/** `log` with `fields` on every line (the route, and a plugin's name). */
function fieldLog(log: Logger, fields: Record<string, string>): PolicyLog {
  const line = (level: 'info' | 'warn' | 'error') => (event: string, extra?: Record<string, unknown>) => log[level](event, { ...fields, ...extra } as Parameters<Logger['info']>[1])
  return { info: line('info'), warn: line('warn'), error: line('error') }
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
  forwarding: (exchange: Exchange) => ForwardingContext = NO_FORWARDING,
  forwarderTo?: (upstream: string) => (exchange: Exchange) => Promise<Response>
): Handler {
  const context: BuildContext = {
    route,
    settings: deps.settings,
    log: fieldLog(deps.log, { route: route.name }),
    metrics: deps.metricsFor?.(route.name) ?? NO_METRICS,
    stores: deps.stores,
    forwarding,
    forwarderTo,
    onClose: closers.add,
  }
  const plugins = route.config === undefined ? [] : routePlugins(deps.plugins, route.config.plugins)
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
      const pluginContext: BuildContext = { ...context, log: fieldLog(deps.log, { route: route.name, plugin: plugin.name }) }
      let stage: Stage | undefined
      try {
        stage = plugin.policy.build(plugin.config, pluginContext)
      } catch (err) {
        // The load-time check built it too; here it failed anyway (its code reads the worker's world).
        throw buildFailure(plugin.name, route.name, err)
      }
      if (stage) stages.push(guardPlugin(plugin.name, route.name, stage, deps.log))
    }
  }
  return compose(stages, terminal)
}
