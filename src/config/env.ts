/**
 * The only module that reads the process environment. Everything else receives values
 * as arguments, so tests stay hermetic and every knob is listed here.
 */

/** Env variables that override config keys, by key path. Values are validated like the file's. */
export const ENV_OVERRIDES = {
  PORT: 'server.port',
  GATEWAY_WORKERS: 'server.workers',
  GATEWAY_ADMIN_PORT: 'admin.port',
  REDIS_URL: 'redis.url',
  REDIS_BUS_SECRET: 'redis.busSecret',
} as const

export type EnvName = keyof typeof ENV_OVERRIDES

/** What the environment contributes to configuration. */
export interface EnvSettings {
  /** GATEWAY_CONFIG: path of the config file when `--config` is not given. */
  configPath: string | undefined
  /** Raw override values for config keys, keyed by env variable name. */
  overrides: Partial<Record<EnvName, string>>
}

/** Reads the gateway's settings from `env` (defaults to the process environment). */
export function readEnv(env: Record<string, string | undefined> = process.env): EnvSettings {
  const overrides: EnvSettings['overrides'] = {}
  for (const name of Object.keys(ENV_OVERRIDES) as EnvName[]) {
    const value = env[name]
    if (value !== undefined && value !== '') overrides[name] = value
  }
  return { configPath: env.GATEWAY_CONFIG || undefined, overrides }
}

/**
 * The environment for a child process (worker or demo upstream): the parent's own plus `extra`.
 * Bun reads BUN_CONFIG_* limits only at start, so they must be set here rather than at run time.
 * `bunFlags` (Bun's runtime flags) go in BUN_OPTIONS, after any the parent was given: Bun reads
 * it from source and in a compiled binary alike, whose command line takes no runtime flags.
 */
export function childEnv(extra: Record<string, string>, bunFlags: readonly string[] = []): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, NODE_ENV: 'production', ...extra }
  if (bunFlags.length > 0) env.BUN_OPTIONS = [process.env.BUN_OPTIONS, ...bunFlags].filter(Boolean).join(' ')
  return env
}

