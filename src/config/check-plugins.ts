/**
 * The plugin check, run in a process of its own for each load (start and every SIGHUP):
 * reads the validated config as JSON on stdin, loads every plugin, checks its config and
 * builds it once for each route that uses it, and writes `{"errors": [...]}` on stdout. A
 * fresh process imports every module as it is on disk now (an edited helper a plugin imports
 * too), and the primary never runs a plugin's code itself.
 */
import { join } from 'node:path'
import { loadPlugins, trialBuild } from '../policies/plugins/load.ts'
import { compileRoutes } from './routes.ts'
import { selfCommand } from '../self.ts'
import type { GatewayConfig } from './schema.ts'

/** The plugins' problems, every one: loading, their configs, then their builds. */
export async function checkPlugins(config: GatewayConfig): Promise<string[]> {
  const { plugins, errors } = await loadPlugins(config.plugins, { settings: config })
  if (errors.length > 0) return errors
  return trialBuild(plugins, compileRoutes(config.routes), config)
}

/** A check process, started before the config it checks is validated; `run` it once, or `cancel` it. */
export interface PluginCheck {
  run(config: GatewayConfig): Promise<string[]>
  cancel(): void
}

/**
 * Starts the check process: it loads the gateway's modules (~150 ms) while the caller
 * validates, then waits for the config on stdin. A check that dies is an error too, never a pass.
 */
export function startPluginCheck(): PluginCheck {
  // From source this file; in the binary its main with --check-plugins (main.ts), which runs runPluginCheck.
  const child = Bun.spawn(selfCommand(join(import.meta.dir, 'check-plugins.ts'), '--check-plugins'), { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })
  return {
    async run(config) {
      child.stdin.write(JSON.stringify(config))
      await child.stdin.end()
      const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited])
      try {
        const { errors } = JSON.parse(out) as { errors: string[] }
        if (code === 0 && Array.isArray(errors)) return errors
      } catch {
        // Not the answer: a plugin that killed the process at import.
      }
      return [`plugins: the plugin check exited ${code} without an answer (a plugin module that exits or crashes at import?)`]
    },
    cancel: () => child.kill(),
  }
}

/** Whether a config as read (before validation) names plugins: then a check will be wanted. */
export function declaresPlugins(raw: unknown): boolean {
  const plugins = typeof raw === 'object' && raw !== null ? (raw as { plugins?: unknown }).plugins : undefined
  return typeof plugins === 'object' && plugins !== null && Object.keys(plugins).length > 0
}

/** The check process: the config as JSON on stdin, `{"errors": [...]}` on stdout, exit 0. */
export async function runPluginCheck(): Promise<never> {
  const config = JSON.parse(await new Response(Bun.stdin.stream()).text()) as GatewayConfig
  const errors = await checkPlugins(config)
  process.stdout.write(JSON.stringify({ errors }))
  // Timers or sockets a plugin left open must not keep the check alive.
  process.exit(0)
}

if (import.meta.main) await runPluginCheck()
