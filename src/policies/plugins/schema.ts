/** The top-level `plugins` and `routes[].plugins` (docs/plugins.md). */
import { z } from 'zod'
import { PLUGIN_PHASES } from '../../kernel/policy.ts'

/** A plugin's name: how routes list it, and the label in logs and metrics. */
export const pluginName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, { error: 'must be 1-63 lower-case letters, digits, "_" or "-", starting with a letter' })

const honoSchema = z.strictObject({
  /** The module: a package (`hono/basic-auth`) or a path relative to the config file. */
  module: z.string().min(1),
  /** The export to use; default `default`. */
  export: z.string().min(1).default('default'),
  /**
   * Present: the export is a factory (`basicAuth`), called with these options (null: with
   * none). Absent: the export is the middleware itself.
   */
  options: z.unknown().optional(),
})

export const pluginSchema = z
  .strictObject({
    /** A module of yours (a path relative to the config file, or a package) whose export is a plugin (`definePlugin`). */
    module: z.string().min(1).optional(),
    /** The module's export holding the plugin; default `default`. */
    export: z.string().min(1).default('default'),
    /** The plugin's config, checked by the plugin's own schema at load. */
    config: z.unknown().optional(),
    /** Or a Hono middleware (hono's own, or any package's or module's). */
    hono: honoSchema.optional(),
    /** Where it runs; default the plugin's own `phase`, else beforeCache. */
    phase: z.enum(PLUGIN_PHASES).optional(),
    /** On every configured route (before each route's own list), like Kong's global plugins. */
    global: z.boolean().default(false),
  })
  .refine((p) => (p.module === undefined) !== (p.hono === undefined), { error: 'give module or hono, one of them' })
  .refine((p) => p.hono === undefined || p.config === undefined, { error: 'a hono plugin takes hono.options, not config', path: ['config'] })

export const pluginsSchema = z.record(pluginName, pluginSchema).default({})

export type PluginDeclaration = z.output<typeof pluginSchema>
