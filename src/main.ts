/**
 * Entry point of `bun run start`: read and validate the config (exit 2 before anything
 * listens when it is bad), then serve. Without a config file the embedded default proxies
 * /demo to a built-in demo upstream.
 */
import { startAdmin } from './admin.ts'
import { defaultConfig } from './config/default.ts'
import { readEnv } from './config/env.ts'
import { applyEnvOverrides, readConfigFile, validateConfig } from './config/load.ts'
import type { GatewayConfig } from './config/schema.ts'
import { startDemoUpstream } from './demo/upstream.ts'
import { createLogger } from './log.ts'
import { startWorker } from './worker.ts'

const USAGE = 'usage: bun run start [-- --config FILE]   (or GATEWAY_CONFIG=FILE)'
const EXIT_BAD_CONFIG = 2
const SHUTDOWN_TIMEOUT_MS = 25_000

const log = createLogger({ pid: process.pid })

function fail(lines: string[]): never {
  process.stderr.write(`${lines.join('\n')}\n`)
  process.exit(EXIT_BAD_CONFIG)
}

function parseArgs(argv: string[]): { configPath?: string } {
  const out: { configPath?: string } = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--config' && argv[i + 1] !== undefined) out.configPath = argv[++i]
    else if (arg.startsWith('--config=')) out.configPath = arg.slice('--config='.length)
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`)
      process.exit(0)
    } else fail([`unknown argument: ${arg}`, USAGE])
  }
  return out
}

async function loadConfig(): Promise<{ config: GatewayConfig; source: string; demo: boolean }> {
  const env = readEnv()
  const configPath = parseArgs(Bun.argv.slice(2)).configPath ?? env.configPath
  let raw: unknown
  if (configPath) {
    const file = await readConfigFile(configPath)
    if (file.error) fail([`invalid config: ${file.error}`])
    raw = file.raw
  } else {
    // Validated with a placeholder origin first, so a bad env override exits before the demo listens.
    raw = defaultConfig('http://127.0.0.1:1')
  }
  const result = validateConfig(applyEnvOverrides(raw, env.overrides), env.overrides)
  const source = configPath ?? 'embedded default'
  if (!result.ok) fail([`invalid config (${source}):`, ...result.errors.map((e) => `  ${e}`)])
  return { config: result.config, source, demo: !configPath }
}

async function main(): Promise<void> {
  let { config, source, demo } = await loadConfig()
  const env = readEnv()
  let demoServer: ReturnType<typeof startDemoUpstream> | undefined
  if (demo) {
    demoServer = startDemoUpstream()
    const result = validateConfig(
      applyEnvOverrides(defaultConfig(`http://127.0.0.1:${demoServer.port}`), env.overrides)
    )
    if (!result.ok) fail(result.errors)
    config = result.config
    source = `embedded default (demo upstream on 127.0.0.1:${demoServer.port})`
  }

  let stopping = false
  let worker: ReturnType<typeof startWorker>
  let admin: ReturnType<typeof startAdmin>
  try {
    worker = startWorker(config, log)
    admin = startAdmin(config.admin, { isReady: () => !stopping })
  } catch (err) {
    log.error('listen_failed', {
      host: config.server.host,
      port: config.server.port,
      adminPort: config.admin.port,
      error: (err as { code?: string }).code ?? 'unknown',
    })
    process.exit(1)
  }
  log.info('listening', {
    host: config.server.host,
    port: worker.port,
    adminHost: config.admin.host,
    adminPort: admin.port ?? config.admin.port,
    config: source,
    routes: config.routes.length,
  })

  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info('shutdown_started', { signal })
    worker.startDraining()
    const timer = setTimeout(() => {
      log.warn('shutdown_forced', { timeoutMs: SHUTDOWN_TIMEOUT_MS })
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS)
    await worker.stop()
    await admin.stop(true)
    demoServer?.stop(true)
    clearTimeout(timer)
    log.info('shutdown_complete', { signal })
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

await main()
