/**
 * The plugin API, for your own policies in TypeScript: `import { definePlugin } from
 * 'bun-gateway/plugin'` (package.json `exports`). A plugin is the same interface as the
 * gateway's built-in policies (src/kernel/policy.ts): a schema for its config, load-time
 * checks, and `build(config, context)` returning a stage `(exchange, next) => Response`.
 * docs/plugins.md walks through writing one; examples/plugins/ has three.
 */
import type { BuildContext, CheckContext, PluginPhase } from './kernel/policy.ts'
import type { StandardSchemaV1 } from './kernel/standard-schema.ts'
import type { Stage } from './kernel/stage.ts'

export type { Exchange, Identity } from './kernel/exchange.ts'
export type { Handler, Stage } from './kernel/stage.ts'
export type { BuildContext, CheckContext, PluginPhase, PolicyLog, PolicyMetrics, RouteView } from './kernel/policy.ts'
export type { StandardSchemaV1 } from './kernel/standard-schema.ts'
export { PLUGIN_PHASES, DEFAULT_PLUGIN_PHASE } from './kernel/policy.ts'

export interface Plugin<Config = unknown> {
  /** For logs; the config's key names the plugin where it is used. */
  readonly name?: string
  /** Where it runs: beforeAuth, afterAuth, beforeCache (the default) or afterCache; the config may override it. */
  readonly phase?: PluginPhase
  /** Checks and types `plugins.<name>.config` at load (zod, valibot, arktype: any Standard Schema); a wrong field exits 2. */
  readonly schema?: StandardSchemaV1<unknown, Config>
  /** Checks the schema cannot make (a file is readable): `field: problem` lines. */
  check?(config: Config, context: CheckContext): string[]
  /** The stage for one route, at boot (and at each reload); undefined: nothing on this route. A throw stops the start. */
  build(config: Config, context: BuildContext): Stage | undefined
  /** Releases what the plugin holds for all routes, when a worker stops or reloads. */
  close?(): void | Promise<void>
}

/** Gives a plugin its types; a plain object with `build` works too. */
export function definePlugin<Config = unknown>(plugin: Plugin<Config>): Plugin<Config> {
  return plugin
}
