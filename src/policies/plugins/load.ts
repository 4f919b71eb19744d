/**
 * Plugins from the config: each a module's export that is a plugin (the Policy interface,
 * `definePlugin`), or a Hono middleware (hono.ts). At start and at every SIGHUP a short-lived
 * process (config/check-plugins.ts) loads them to check them: the config by the plugin's own
 * schema (any Standard Schema), its `check`, and a trial `build` for each route that uses
 * it, so a plugin that cannot start stops the start (exit 2) or rejects the reload. Every
 * worker then loads the same modules, by the absolute paths the check resolved.
 */
import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { counterCatalog, DEFAULT_PLUGIN_PHASE, PLUGIN_PHASES, type BuildContext, type Phase, type Policy, type RouteView } from '../../kernel/policy.ts'
import { formatIssues, type StandardSchemaV1 } from '../../kernel/standard-schema.ts'
import { honoPlugin } from './hono.ts'
import type { PluginDeclaration } from './schema.ts'

export interface LoadedPlugin {
  readonly name: string
  readonly policy: Policy
  readonly phase: Phase
  /** Its config, as its schema returned it. */
  readonly config: unknown
  readonly global: boolean
}

/** Where a plugin's module is: a file path made absolute against the config's folder, or a package resolved from there (else from the gateway). */
export function resolveModule(specifier: string, baseDir: string): string | undefined {
  if (specifier.startsWith('./') || specifier.startsWith('../') || isAbsolute(specifier)) {
    const path = resolve(baseDir, specifier)
    return existsSync(path) ? path : undefined
  }
  for (const from of [baseDir, import.meta.dir]) {
    try {
      return Bun.resolveSync(specifier, from)
    } catch {
      // Not there: the next place.
    }
  }
  return undefined
}

/** Makes every plugin's module path absolute (in place, like secrets): workers import exactly what the primary checked. */
export function resolvePluginModules(plugins: Record<string, PluginDeclaration>, baseDir: string): string[] {
  const errors: string[] = []
  for (const [name, plugin] of Object.entries(plugins)) {
    const target = plugin.hono ?? plugin
    const resolved = resolveModule(target.module!, baseDir)
    if (resolved === undefined) errors.push(`plugins.${name}.${plugin.hono ? 'hono.' : ''}module: cannot find ${target.module}`)
    else target.module = resolved
  }
  return errors
}

/**
 * Imports and checks every plugin (in a process of its own at load: check-plugins.ts, so each
 * load sees the modules as they are now). Errors are `plugins.<name>.<field>: problem` lines,
 * every one at once.
 */
export async function loadPlugins(
  declared: Readonly<Record<string, PluginDeclaration>>,
  options: { settings?: object } = {}
): Promise<{ plugins: Map<string, LoadedPlugin>; errors: string[] }> {
  const plugins = new Map<string, LoadedPlugin>()
  const errors: string[] = []
  for (const [name, declaration] of Object.entries(declared)) {
    const at = `plugins.${name}`
    const loaded = await loadOne(name, declaration)
    if ('error' in loaded) {
      errors.push(`${at}.${loaded.error}`)
      continue
    }
    const { policy } = loaded
    // A copy: the config is frozen, and a plugin may keep and change what it is given.
    let config: unknown = declaration.config === undefined ? undefined : structuredClone(declaration.config)
    if (policy.schema !== undefined) {
      const result = await policy.schema['~standard'].validate(declaration.config ?? {})
      if (result.issues) {
        errors.push(...formatIssues(result.issues, `${at}.config`))
        continue
      }
      config = result.value
    }
    try {
      const problems = policy.check?.(config, { settings: (options.settings ?? {}) as never }) ?? []
      errors.push(...problems.map((problem) => `${at}.config.${problem}`))
      if (problems.length > 0) continue
    } catch (err) {
      errors.push(`${at}: its check threw ${errorName(err)}`)
      continue
    }
    plugins.set(name, { name, policy, phase: declaration.phase ?? (policy.phase as Phase | undefined) ?? DEFAULT_PLUGIN_PHASE, config, global: declaration.global })
  }
  return { plugins, errors }
}

async function loadOne(name: string, declaration: PluginDeclaration): Promise<{ policy: Policy } | { error: string }> {
  const target = declaration.hono ?? declaration
  const field = declaration.hono ? 'hono.module' : 'module'
  let module: Record<string, unknown>
  try {
    module = await import(target.module!)
  } catch (err) {
    return { error: `${field}: ${target.module} cannot be imported (${errorName(err)})` }
  }
  const exported = module[target.export]
  if (exported === undefined) return { error: `${declaration.hono ? 'hono.' : ''}export: ${target.module} has no export "${target.export}"` }
  if (declaration.hono) {
    const made = honoPlugin(name, exported, declaration.hono, declaration.phase)
    return 'error' in made ? { error: `hono.${made.error}` } : { policy: made }
  }
  const problem = pluginProblem(exported)
  if (problem) return { error: `${field}: ${target.module}'s "${target.export}" ${problem}` }
  return { policy: { name, ...(exported as object) } as Policy }
}

/** Why an export is not a plugin, or undefined. */
function pluginProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'is not a plugin (definePlugin({ build(config, ctx) { ... } }))'
  const plugin = value as Partial<Policy>
  if (typeof plugin.build !== 'function') return 'has no build(config, context) function'
  if (plugin.phase !== undefined && !(PLUGIN_PHASES as readonly string[]).includes(plugin.phase)) return `has phase "${plugin.phase}"; a plugin runs at one of ${PLUGIN_PHASES.join(', ')}`
  const schema = plugin.schema as StandardSchemaV1 | undefined
  if (schema !== undefined && typeof schema['~standard']?.validate !== 'function') return 'has a schema that is not a Standard Schema (zod, valibot, arktype...)'
  return undefined
}

/**
 * Builds each plugin once for every route that uses it, with a context that holds no stores,
 * then closes what it started: a plugin whose build throws is refused at load, not found
 * broken in every worker.
 */
export async function trialBuild(plugins: ReadonlyMap<string, LoadedPlugin>, routes: readonly RouteView[], settings: object): Promise<string[]> {
  const errors: string[] = []
  const closers: (() => void | Promise<void>)[] = []
  const quiet = { info() {}, warn() {}, error() {} }
  // The workers' rules for counters: a name or label set they would refuse is refused here.
  const counter = counterCatalog(() => () => {})
  for (const route of routes) {
    if (route.config === undefined) continue
    for (const plugin of routePlugins(plugins, route.config.plugins)) {
      const name = plugin.name
      const context: BuildContext = {
        route,
        settings: settings as never,
        log: quiet,
        metrics: { counter },
        stores: {},
        forwarding: () => {
          throw new Error('no request at load')
        },
        onClose: (fn) => void closers.push(fn),
      }
      try {
        const stage = plugin.policy.build(plugin.config, context)
        if (stage !== undefined && typeof stage !== 'function') errors.push(`plugins.${name}: build returned ${typeof stage}, not a stage function (route ${route.name})`)
      } catch (err) {
        errors.push(buildFailure(name, route.name, err).message)
      }
    }
  }
  for (const close of closers) await Promise.resolve().then(close).catch(() => {})
  for (const plugin of plugins.values()) await Promise.resolve().then(() => plugin.policy.close?.()).catch(() => {})
  return errors
}

/**
 * The plugins a route runs, in order: the global ones, then the route's own list (`own`), each
 * once. The names are the config's, which the loader checked are declared.
 */
export function routePlugins(plugins: ReadonlyMap<string, LoadedPlugin>, own: readonly string[]): LoadedPlugin[] {
  const names = new Set<string>()
  for (const [name, plugin] of plugins) if (plugin.global) names.add(name)
  for (const name of own) names.add(name)
  return [...names].flatMap((name) => plugins.get(name) ?? [])
}

/** A plugin's build that threw, as the load-time check and a worker both report it. */
export function buildFailure(plugin: string, route: string, err: unknown): Error {
  return Object.assign(new Error(`plugins.${plugin}: build failed for route ${route} (${errorName(err)})`), { code: 'plugin_build_failed' })
}

/** An error's class and message's first line, for a config error (the operator's own code, not a request's). */
function errorName(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  return `${err.name}: ${err.message.split('\n')[0]}`
}
