/**
 * Where the config comes from, as something that can be loaded again (SIGHUP): a file
 * (YAML or JSON) or the embedded default, with the env overrides applied either way.
 */
import { dirname, resolve } from 'node:path'
import { defaultConfig } from './default.ts'
import type { EnvSettings } from './env.ts'
import { duplicateKeyError } from './duplicate-keys.ts'
import { applyEnvOverrides, loadConfig, readConfigFile, type ValidationResult } from './load.ts'
import { declaresPlugins, startPluginCheck } from './check-plugins.ts'

export interface ConfigSource {
  /** For logs: the file path, or "embedded default (...)". */
  readonly description: string
  load(): Promise<ValidationResult>
}

export function fileSource(path: string, overrides: EnvSettings['overrides']): ConfigSource {
  // Plugin modules are named relative to the config file.
  const baseDir = dirname(resolve(path))
  return {
    description: path,
    async load() {
      const file = await readConfigFile(path)
      if (file.error !== undefined) return { ok: false, errors: [file.error] }
      const raw = applyEnvOverrides(file.raw, overrides)
      // The plugin check's process starts now: it loads while the keys and the schema are checked.
      const pluginCheck = declaresPlugins(raw) ? startPluginCheck() : undefined
      const duplicate = duplicateKeyError(path, file.text)
      const result = await loadConfig(raw, overrides, { baseDir, pluginCheck })
      // A key given twice is an error however the rest reads: both kinds are named in one run.
      if (duplicate === undefined) return result
      return { ok: false, errors: [duplicate, ...(result.ok ? [] : result.errors)] }
    },
  }
}

/** What the start (and `bun-gateway validate`) prints for a config that does not load. */
export function invalidConfigLines(source: ConfigSource, errors: readonly string[]): string[] {
  return [`invalid config (${source.description}):`, ...errors.map((e) => `  ${e}`)]
}

/** The embedded default, its demo upstream at `demoOrigin`. */
export function defaultSource(demoOrigin: string, overrides: EnvSettings['overrides']): ConfigSource {
  return {
    description: `embedded default (demo upstream on ${new URL(demoOrigin).host})`,
    async load() {
      return loadConfig(applyEnvOverrides(defaultConfig(demoOrigin), overrides), overrides)
    },
  }
}
