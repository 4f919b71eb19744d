/**
 * `bun-gateway --healthcheck [URL]`: the probe of the image's HEALTHCHECK, which has no shell
 * and no curl. It asks the admin listener's /ready (plain HTTP, so neither server.port nor
 * server.tls matter) and exits 0 on 200, else 1 (healthy / unhealthy). Without URL, the admin
 * address comes from the config as `start` reads it: GATEWAY_CONFIG's admin.host and
 * admin.port, GATEWAY_ADMIN_PORT over them, the defaults without either. Only that section
 * is read (no validation, no plugins): the probe runs every few seconds.
 */
import type { EnvSettings } from './config/env.ts'
import { applyEnvOverrides, readConfigFile } from './config/load.ts'
import { configSchema } from './config/schema.ts'

const TIMEOUT_MS = 2000

/** The admin listener's /ready, as reachable from this host (a wildcard address is loopback). */
export async function adminReadyUrl(env: EnvSettings): Promise<string> {
  const file = env.configPath ? await readConfigFile(env.configPath) : undefined
  const raw = applyEnvOverrides(file?.raw ?? {}, env.overrides) as { admin?: unknown }
  const parsed = configSchema.shape.admin.safeParse(raw.admin)
  const { host, port } = parsed.success ? parsed.data : configSchema.shape.admin.parse(undefined)
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host
  return `http://${reachable}:${port}/ready`
}

export async function runHealthcheck(url: string | undefined, env: EnvSettings): Promise<never> {
  const target = url ?? (await adminReadyUrl(env))
  let status: number | string
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'manual' })
    status = res.status
    await res.body?.cancel()
  } catch (err) {
    status = (err as { code?: string }).code ?? (err as Error).name
  }
  // One line for the health log of `podman inspect` / `docker inspect`.
  process.stdout.write(`GET ${target}: ${status}\n`)
  process.exit(status === 200 ? 0 : 1)
}
