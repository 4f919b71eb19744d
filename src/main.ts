/**
 * Entry point of `bun run start`. The primary reads and validates the config (exit 2 before
 * anything listens when it is bad), then supervises worker processes; `--worker` is how the
 * primary starts those. Without a config file the embedded default proxies /demo to a
 * built-in demo upstream.
 */
import { readEnv } from './config/env.ts'
import type { ConfigSource } from './config/source.ts'
import { createLogger } from './log.ts'

const USAGE = 'usage: bun run start [-- --config FILE] [--single-process]   (or GATEWAY_CONFIG=FILE)'
/** A bad config or bad arguments: the exit status, before anything listens (`validate` uses it too). */
export const EXIT_BAD_CONFIG = 2

interface Args {
  configPath?: string
  worker: boolean
  singleProcess: boolean
}

function fail(lines: string[]): never {
  process.stderr.write(`${lines.join('\n')}\n`)
  process.exit(EXIT_BAD_CONFIG)
}

function parseArgs(argv: string[], usage: string): Args {
  const args: Args = { worker: false, singleProcess: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--config' && argv[i + 1] !== undefined) args.configPath = argv[++i]
    else if (arg.startsWith('--config=')) args.configPath = arg.slice('--config='.length)
    else if (arg === '--worker') args.worker = true
    else if (arg === '--single-process') args.singleProcess = true
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${usage}\n`)
      process.exit(0)
    } else fail([`unknown argument: ${arg}`, usage])
  }
  return args
}

/**
 * Starts the gateway with `argv` (the arguments after the script). `bun-gateway start`
 * (cli.ts) calls it too; the workers then run `Bun.main --worker`, whichever of the two that is.
 */
export async function main(argv: string[], usage = USAGE): Promise<void> {
  // Each role imports only its own modules: a worker does not hold the primary's (the config
  // loader and its YAML reader, Redis, the admin page), ~90 modules it would load and keep for nothing.
  // Internal: the plugin check the primary runs in a child (config/check-plugins.ts), which
  // the compiled binary cannot name as a script, so it runs its own main with this flag.
  if (argv[0] === '--check-plugins') await (await import('./config/check-plugins.ts')).runPluginCheck()
  // The image's HEALTHCHECK (no shell, no curl in it): the admin listener's /ready.
  if (argv[0] === '--healthcheck') await (await import('./healthcheck.ts')).runHealthcheck(argv[1], readEnv())
  const args = parseArgs(argv, usage)
  if (args.worker) {
    const { runWorkerProcess } = await import('./worker/process.ts')
    runWorkerProcess(createLogger({ pid: process.pid, role: 'worker' }))
    return
  }
  const { defaultSource, fileSource, invalidConfigLines } = await import('./config/source.ts')
  const log = createLogger({ pid: process.pid, role: 'primary' })
  const env = readEnv()
  const configPath = args.configPath ?? env.configPath
  let source: ConfigSource = configPath
    ? fileSource(configPath, env.overrides)
    : // A placeholder origin first, so a bad env override exits before the demo listens.
      defaultSource('http://127.0.0.1:1', env.overrides)
  let result = await source.load()
  if (!result.ok) fail(invalidConfigLines(source, result.errors))

  let stopDemo: (() => void) | undefined
  if (!configPath) {
    const demo = (await import('./demo/upstream.ts')).startDemoUpstream()
    stopDemo = () => void demo.stop(true)
    source = defaultSource(`http://127.0.0.1:${demo.port}`, env.overrides)
    result = await source.load()
    if (!result.ok) fail(result.errors)
  }

  if (args.singleProcess) await (await import('./single-process.ts')).runSingleProcess(result.config, source, log, stopDemo)
  else await (await import('./primary/index.ts')).runPrimary({ config: result.config, source, entry: Bun.main, log, onStopped: stopDemo })
}

if (import.meta.main) await main(Bun.argv.slice(2))
